/**
 * The sim's own MQTT front (embedded aedes broker, TLS with client certificates): AWS-like delivery
 * of responses only to the requester, per-thing isolation, requests consumed by the service. And the
 * `sim` command as users run it: endpoints.json, per-thing certificates, clean exit on SIGTERM.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MqttJobsClient } from '../../src/jobs/mqtt-client';
import { startJobsService } from '../../src/sim/start';
import type { JobsServiceHandle } from '../../src/sim/start';
import { MqttTransport } from '../../src/transport/mqtt-transport';
import type { IncomingMessage } from '../../src/transport/types';
import { AgentProcess } from '../support/agent-proc';

let dir: string;
let sim: JobsServiceHandle;
const transports: MqttTransport[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ija-embedded-'));
  sim = await startJobsService({ stateDir: join(dir, 'sim'), things: ['t1', 't2'] });
});
afterAll(async () => {
  for (const t of transports) await t.close();
  await sim.close();
  await rm(dir, { recursive: true, force: true });
});

async function connect(thing: string, clientId: string): Promise<MqttTransport> {
  const files = sim.endpoints.things[thing];
  if (!files) throw new Error(`no files for ${thing}`);
  const url = new URL(sim.endpoints.mqtt);
  const t = new MqttTransport({ host: url.hostname, port: Number(url.port), clientId, protocolVersion: 4, alpn: false, keepAliveSeconds: 30, tls: { ...files, rootCaFile: sim.endpoints.caFile } });
  await t.connect();
  transports.push(t);
  return t;
}

describe('embedded broker front', () => {
  it('delivers a response only to the client that asked, even without a subscription', async () => {
    const asker = await connect('t1', 't1-asker');
    const bystander = await connect('t1', 't1-bystander');
    const seenByBystander: string[] = [];
    bystander.on('message', (m: IncomingMessage) => seenByBystander.push(m.topic));
    await bystander.subscribe(['$aws/things/t1/jobs/get/+', '$aws/things/t1/jobs/get'], 1);
    // The asker does not subscribe to any response topic: AWS delivers to the requester anyway.
    const got = new Promise<IncomingMessage>((resolve) => asker.once('message', resolve));
    await asker.publish('$aws/things/t1/jobs/get', JSON.stringify({ clientToken: 'only-me' }), 1);
    const m = await got;
    expect(m.topic).toBe('$aws/things/t1/jobs/get/accepted');
    expect(JSON.parse(m.payload.toString())).toMatchObject({ clientToken: 'only-me', inProgressJobs: [], queuedJobs: [] });
    // A second request from the bystander itself proves its subscription works, and that it saw nothing before.
    const own = new Promise<IncomingMessage>((resolve) => bystander.once('message', resolve));
    await bystander.publish('$aws/things/t1/jobs/get', JSON.stringify({ clientToken: 'mine' }), 1);
    expect(JSON.parse((await own).payload.toString()).clientToken).toBe('mine');
    expect(seenByBystander).toEqual(['$aws/things/t1/jobs/get/accepted']);
  });

  it('keeps things apart: t1 cannot subscribe to or publish on t2 topics', async () => {
    const t1 = await connect('t1', 't1-spy');
    const c2 = new MqttJobsClient({ transport: await connect('t2', 't2-owner'), thingName: 't2', timeoutMs: 5000 });
    await c2.subscribe();
    const spied: string[] = [];
    t1.on('message', (m: IncomingMessage) => spied.push(m.topic));
    await t1.subscribe(['$aws/things/t2/jobs/#'], 1).catch(() => undefined);
    const r = sim.runtime.service.createJob({ jobId: 'secret-t2', targets: ['t2'], document: '{"operation":"x"}' });
    expect(r.ok).toBe(true);
    const pending = await c2.getPending();
    expect(pending.queuedJobs.map((j) => j.jobId)).toEqual(['secret-t2']);
    expect(spied).toEqual([]);
    await c2.close();
  });
});

describe('iot-jobs-agent sim (CLI)', () => {
  it('provisions certificates, writes endpoints.json and exits 0 on SIGTERM', async () => {
    const state = join(dir, 'cli-sim');
    const p = new AgentProcess(['sim', '--state-dir', state, '--things', 'a,b', '--mqtt-port', '0', '--https-port', '0', '--control-port', '0']);
    await p.waitForLog((l) => l.msg === 'jobs service ready');
    const ep = JSON.parse(readFileSync(join(state, 'endpoints.json'), 'utf8')) as { mqtt: string; dataPlane: string; controlPlane: string; caFile: string; things: Record<string, { certificateFile: string; privateKeyFile: string }> };
    expect(ep.mqtt).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    expect(ep.dataPlane).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(ep.controlPlane).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(Object.keys(ep.things).sort()).toEqual(['a', 'b']);
    for (const f of [ep.caFile, ep.things.a?.certificateFile, ep.things.b?.privateKeyFile]) expect(f && existsSync(f)).toBe(true);
    expect(ep.things.a?.certificateFile.startsWith(join(state, 'things', 'a'))).toBe(true);
    const res = await fetch(`${ep.controlPlane}/jobs/cli-job`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ targets: ['arn:aws:iot:us-east-1:123456789012:thing/a'], document: '{"operation":"noop"}' }) });
    expect(res.status).toBe(200);
    p.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
  });

  it('rejects bad usage with exit 2', async () => {
    const p = new AgentProcess(['sim', '--things', 'a']);
    expect((await p.exited).code).toBe(2);
    expect(p.raw.join('\n')).toMatch(/--state-dir is required/);
  });

  it.each([
    ['describeTerminl=return', /unknown option "describeTerminl"/],
    ['throttlingStatus=fast', /throttlingStatus takes one of 429, 400/],
    ['mqttThingName=1', /mqttThingName takes true or false/],
  ])('refuses --option %s with exit 2, naming the problem', async (kv, message) => {
    const p = new AgentProcess(['sim', '--state-dir', join(dir, 'never'), '--things', 'a', '--option', kv]);
    expect((await p.exited).code).toBe(2);
    expect(p.raw.join('\n')).toMatch(message);
  });
});
