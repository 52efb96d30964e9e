/**
 * Faults on the fleet provisioning API (`PUT /sim/provisioning-faults`) met by the real agent on
 * first boot, on mosquitto and on the embedded broker: AWS's throttling (429 ThrottlingException) and
 * 5xx (InternalFailure, ServiceUnavailable) are retried with backoff until the device enrols, with
 * no certificate minted needlessly; a 4xx (InvalidCSRException) is classified as a problem to fix and
 * retried only slowly.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AgentProcess, BIN } from '../support/agent-proc';
import type { LogLine } from '../support/agent-proc';
import { certificateCount, deviceConfig, startFleet } from './provisioning-support';
import type { BrokerKind, Fleet } from './provisioning-support';

const run = promisify(execFile);
const msg = (m: string) => (l: LogLine): boolean => l.msg === m;
const RETRYING = 'provisioning failed; retrying';
const PROBLEM = 'provisioning failed: fix the configuration or the template';

describe.each<BrokerKind>(['mosquitto', 'embedded'])('provisioning API faults on %s', (kind) => {
  let fleet: Fleet;
  const procs: AgentProcess[] = [];

  beforeAll(async () => {
    fleet = await startFleet(kind);
  });
  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await fleet.close();
  });

  async function faults(body: unknown): Promise<{ remaining: unknown[] }> {
    const method = body === undefined ? 'GET' : 'PUT';
    const res = await fetch(`${fleet.sim.endpoints.controlPlane}/sim/provisioning-faults`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${method} /sim/provisioning-faults: ${res.status} ${(JSON.parse(text) as { message: string }).message}`);
    return JSON.parse(text) as { remaining: unknown[] };
  }

  async function boot(name: string): Promise<{ p: AgentProcess; configFile: string }> {
    const d = await deviceConfig(fleet, name, { serial: name });
    const p = new AgentProcess(['run', '--config', d.configFile]);
    procs.push(p);
    return { p, configFile: d.configFile };
  }

  it('rides out 429 and 5xx with backoff and enrols, minting one certificate', async () => {
    await faults({ failures: [{ statusCode: 429, count: 2 }, { statusCode: 500 }, { statusCode: 503 }], operations: ['CreateCertificateFromCsr', 'RegisterThing'] });
    const before = await certificateCount(fleet.iot);
    const { p } = await boot(`${kind}-throttled`);
    await p.waitForLog(msg('provisioning: identity installed'), 90_000);
    await p.waitForLog(msg('connected to the broker'), 60_000);
    const retried = p.lines.filter(msg(RETRYING)).map((l) => String(l.err));
    expect(retried).toEqual([
      expect.stringContaining('429 ThrottlingException'),
      expect.stringContaining('429 ThrottlingException'),
      expect.stringContaining('500 InternalFailure'),
      expect.stringContaining('503 ServiceUnavailable'),
    ]);
    expect(p.lines.filter(msg(RETRYING)).every((l) => typeof l.retryInMs === 'number')).toBe(true);
    expect(p.count(msg(PROBLEM))).toBe(0);
    expect(await certificateCount(fleet.iot)).toBe(before + 1);
    expect((await faults(undefined)).remaining).toEqual([]);
  }, 150_000);

  it('a 5xx on RegisterThing resumes with the certificate already issued: no second certificate', async () => {
    await faults({ failures: [{ statusCode: 503, count: 2 }], operations: ['RegisterThing'] });
    const before = await certificateCount(fleet.iot);
    const { p } = await boot(`${kind}-register-5xx`);
    await p.waitForLog(msg('provisioning: identity installed'), 90_000);
    expect(p.lines.filter(msg(RETRYING)).map((l) => String(l.err))).toEqual([expect.stringContaining('RegisterThing rejected: 503'), expect.stringContaining('RegisterThing rejected: 503')]);
    // The certificate minted before the first refusal is the one registered, not a new one per attempt.
    expect(await certificateCount(fleet.iot)).toBe(before + 1);
  }, 150_000);

  it('a 4xx (InvalidCSRException) is a problem to fix, not a fast retry; the device enrols once it is gone', async () => {
    await faults({ failures: [{ statusCode: 400, errorCode: 'InvalidCSRException' }], operations: ['CreateCertificateFromCsr'] });
    const { p, configFile } = await boot(`${kind}-bad-csr`);
    const said = await p.waitForLog(msg(PROBLEM), 60_000);
    expect(String(said.err)).toContain('CreateCertificateFromCsr rejected: 400 InvalidCSRException');
    const { stdout } = await run(process.execPath, [BIN, 'status', '--config', configFile]);
    expect(stdout).toMatch(/provisioning: PROBLEM .*InvalidCSRException.*a configuration or template problem/);
    expect(p.count(msg(RETRYING))).toBe(0);
    // Retried on the slow schedule (a configuration problem may be fixed meanwhile): the fault is used up.
    await p.waitForLog(msg('provisioning: identity installed'), 90_000);
  }, 150_000);

  it('refuses a fault body it does not understand, by name', async () => {
    await expect(faults({ failures: [{ statusCode: 200 }] })).rejects.toThrow(/statusCode must be an integer 400..599/);
    await expect(faults({ failures: [], operations: ['Provision'] })).rejects.toThrow(/operations must be a non-empty list of CreateKeysAndCertificate/);
    await expect(faults({ failures: [], retries: 3 })).rejects.toThrow(/unknown provisioning fault key "retries"/);
  });
});
