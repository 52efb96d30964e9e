/**
 * The real agent enrols itself by claim and rotates its certificate, against the sim on mosquitto
 * and on its embedded broker: first boot then a CONTINUOUS group job; a restart that contacts no
 * one; a missing template (up, saying so, running nothing) and a kill -9 between
 * CreateCertificateFromCsr and RegisterThing that resumes without a second certificate; a crash
 * after RegisterThing before the files are written; a key made inside a SoftHSM token; rotation commit, rollback (a template that
 * leaves the new certificate INACTIVE, refused at connect: by the embedded broker, and by mosquitto through
 * the sim's CRL) and kill -9
 * mid-rotation.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateJobCommand, DescribeCertificateCommand, DescribeJobExecutionCommand } from '@aws-sdk/client-iot';
import { certMatchesKey } from '../../src/lib/certs';
import { createCa } from '../../src/lib/pki';
import { createSoftHsmToken, tokenKeyLabels } from '../support/softhsm';
import type { SoftHsmToken } from '../support/softhsm';
import { AgentProcess, BIN } from '../support/agent-proc';
import type { LogLine } from '../support/agent-proc';
import { handlerRuns } from './helpers';
import { certificateCount, createTemplate, deviceConfig, FLEET_TEMPLATE, startFleet } from './provisioning-support';
import type { BrokerKind, DeviceSetup, Fleet } from './provisioning-support';

const run = promisify(execFile);
const THING = (t: string): string => `arn:aws:iot:us-east-1:123456789012:thing/${t}`;
const msg = (m: string) => (l: LogLine): boolean => l.msg === m;
const reported = (jobId: string) => (l: LogLine): boolean => l.msg === 'outcome reported' && l.jobId === jobId;

function identityOf(stateDir: string): Record<string, string> {
  return JSON.parse(readFileSync(join(stateDir, 'identity', 'identity.json'), 'utf8')) as Record<string, string>;
}

/** The files the agent connects with belong together, and identity.json names that certificate. */
function identityConsistent(stateDir: string): boolean {
  const dir = join(stateDir, 'identity');
  return certMatchesKey(readFileSync(join(dir, 'certificate.pem'), 'utf8'), readFileSync(join(dir, 'private.key'), 'utf8'));
}

async function status(configFile: string): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, 'status', '--config', configFile]);
  return stdout;
}

describe.each<BrokerKind>(['mosquitto', 'embedded'])('provisioning on %s', (kind) => {
  let fleet: Fleet;
  const procs: AgentProcess[] = [];
  const start = (d: DeviceSetup): AgentProcess => {
    const p = new AgentProcess(['run', '--config', d.configFile]);
    procs.push(p);
    return p;
  };
  const stop = async (p: AgentProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    p.kill(signal);
    await p.exited;
  };
  async function execution(jobId: string, thing: string): Promise<{ status?: string; details: Record<string, string> }> {
    const r = await fleet.iot.send(new DescribeJobExecutionCommand({ jobId, thingName: thing }));
    return { ...(r.execution?.status ? { status: r.execution.status } : {}), details: r.execution?.statusDetails?.detailsMap ?? {} };
  }

  beforeAll(async () => {
    fleet = await startFleet(kind);
  });
  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await fleet.close();
  });

  let device: DeviceSetup;
  let agent: AgentProcess;
  const thing = `gw-${kind}-1`;

  it('enrols by claim on first boot and then runs a CONTINUOUS job of its template group', async () => {
    await fleet.iot.send(new CreateJobCommand({ jobId: `fleet-${kind}`, targets: ['arn:aws:iot:us-east-1:123456789012:thinggroup/fleet'], targetSelection: 'CONTINUOUS', document: JSON.stringify({ operation: 'record' }) }));
    const before = await certificateCount(fleet.iot);
    device = await deviceConfig(fleet, `${kind}-1`, { serial: thing });
    agent = start(device);
    await agent.waitForLog(msg('provisioning: identity installed'), 60_000);
    await agent.waitForLog(reported(`fleet-${kind}`), 60_000);
    expect(handlerRuns(device.handlerLog)).toEqual([expect.objectContaining({ jobId: `fleet-${kind}` })]);
    const id = identityOf(device.stateDir);
    expect(id).toMatchObject({ thingName: thing, templateName: 'Fleet', key: 'file', deviceConfiguration: { FallbackUrl: 'https://example.com/fallback' } });
    expect(statSync(join(device.stateDir, 'identity')).mode & 0o777).toBe(0o700);
    expect(statSync(join(device.stateDir, 'identity', 'private.key')).mode & 0o777).toBe(0o600);
    expect(identityConsistent(device.stateDir)).toBe(true);
    expect(existsSync(join(device.stateDir, 'identity', 'provisioning.json'))).toBe(false);
    expect(await certificateCount(fleet.iot)).toBe(before + 1);
    const cert = await fleet.iot.send(new DescribeCertificateCommand({ certificateId: id.certificateId }));
    expect(cert.certificateDescription?.status).toBe('ACTIVE');
    // The claim client id is the device's own, from its serial number.
    expect(agent.raw.join('\n')).toContain(`provisioning-${thing}`);
    expect(await status(device.configFile)).toContain(`provisioning: provisioned as ${thing} with certificate ${id.certificateId}`);
  });

  it('restarts as the provisioned thing without contacting the provisioning API', async () => {
    await stop(agent);
    const count = await certificateCount(fleet.iot);
    agent = start(device);
    await agent.waitForLog(msg('connected to the broker'), 60_000);
    expect(agent.count((l) => typeof l.msg === 'string' && l.msg.startsWith('provisioning'))).toBe(0);
    expect(await certificateCount(fleet.iot)).toBe(count);
  });

  it('rotates its certificate by job: commit, the old key destroyed, jobs still work', async () => {
    const old = identityOf(device.stateDir).certificateId;
    await fleet.iot.send(new CreateJobCommand({ jobId: `rotate-${kind}`, targets: [THING(thing)], document: JSON.stringify({ operation: 'rotate-certificate', templateName: 'Rotate' }) }));
    await agent.waitForLog(reported(`rotate-${kind}`), 90_000);
    const ex = await execution(`rotate-${kind}`, thing);
    const now = identityOf(device.stateDir);
    expect(ex).toEqual({ status: 'SUCCEEDED', details: { certificateId: now.certificateId, previousCertificateId: old } });
    expect(now).toMatchObject({ thingName: thing, previousCertificateId: old });
    expect(now.certificateId).not.toBe(old);
    expect(identityConsistent(device.stateDir)).toBe(true);
    expect(['previous.key', 'next.key', 'rotation.json'].filter((f) => existsSync(join(device.stateDir, 'identity', f)))).toEqual([]);
    const cert = await fleet.iot.send(new DescribeCertificateCommand({ certificateId: now.certificateId }));
    expect(cert.certificateDescription?.status).toBe('ACTIVE');
    await fleet.iot.send(new CreateJobCommand({ jobId: `after-rotate-${kind}`, targets: [THING(thing)], document: JSON.stringify({ operation: 'record' }) }));
    await agent.waitForLog(reported(`after-rotate-${kind}`), 60_000);
    expect((await execution(`after-rotate-${kind}`, thing)).status).toBe('SUCCEEDED');
  });

  it('rolls back when the new certificate is left INACTIVE (refused at connect) and reports FAILED with the reason', async () => {
    const old = identityOf(device.stateDir).certificateId;
    await fleet.iot.send(new CreateJobCommand({ jobId: `rotate-inactive-${kind}`, targets: [THING(thing)], document: JSON.stringify({ operation: 'rotate-certificate', templateName: 'RotateInactive' }) }));
    await agent.waitForLog(reported(`rotate-inactive-${kind}`), 120_000);
    const ex = await execution(`rotate-inactive-${kind}`, thing);
    expect(ex.status).toBe('FAILED');
    expect(ex.details.reason).toMatch(/did not connect and work .*rolled back to/);
    expect(identityOf(device.stateDir).certificateId).toBe(old);
    expect(identityConsistent(device.stateDir)).toBe(true);
    await fleet.iot.send(new CreateJobCommand({ jobId: `after-rollback-${kind}`, targets: [THING(thing)], document: JSON.stringify({ operation: 'record' }) }));
    await agent.waitForLog(reported(`after-rollback-${kind}`), 60_000);
  });

  it('kill -9 during rotation leaves one working identity and reports the job by its restart policy', async () => {
    await fleet.iot.send(new CreateJobCommand({ jobId: `rotate-kill-${kind}`, targets: [THING(thing)], document: JSON.stringify({ operation: 'rotate-certificate', templateName: 'Rotate' }) }));
    await agent.waitForLog(msg('rotation: reconnecting with the new certificate'), 90_000);
    await stop(agent, 'SIGKILL');
    agent = start(device);
    await agent.waitForLog(reported(`rotate-kill-${kind}`), 90_000);
    const ex = await execution(`rotate-kill-${kind}`, thing);
    const now = identityOf(device.stateDir);
    // Either the rotation committed before the kill, or the old identity was restored: never neither.
    if (ex.status === 'SUCCEEDED') expect(ex.details.certificateId).toBe(now.certificateId);
    else expect(ex).toMatchObject({ status: 'FAILED', details: { reason: expect.stringContaining('interrupted by a restart') } });
    expect(identityConsistent(device.stateDir)).toBe(true);
    expect(existsSync(join(device.stateDir, 'identity', 'rotation.json'))).toBe(false);
    await fleet.iot.send(new CreateJobCommand({ jobId: `after-kill-${kind}`, targets: [THING(thing)], document: JSON.stringify({ operation: 'record' }) }));
    await agent.waitForLog(reported(`after-kill-${kind}`), 60_000);
  });

  it('a missing template: stays up, says so, runs nothing; a kill -9 then resumes with the certificate already issued', async () => {
    const serial = `gw-${kind}-2`;
    const d = await deviceConfig(fleet, `${kind}-2`, { serial, templateName: `Later${kind}` });
    const p = start(d);
    await p.waitForLog(msg('provisioning failed: fix the configuration or the template'), 60_000);
    const said = await status(d.configFile);
    expect(said).toContain(`provisioning: PROBLEM template Later${kind} does not exist`);
    expect(said).toContain('provisioning: in progress, step certificate');
    expect(p.count(msg('connected to the broker'))).toBe(0);
    const count = await certificateCount(fleet.iot);
    await stop(p, 'SIGKILL');
    await createTemplate(fleet.iot, `Later${kind}`, FLEET_TEMPLATE);
    const again = start(d);
    await again.waitForLog(msg('provisioning: resuming with the certificate already issued'), 60_000);
    await again.waitForLog(msg('provisioning: identity installed'), 60_000);
    await again.waitForLog(msg('connected to the broker'), 60_000);
    expect(identityOf(d.stateDir).thingName).toBe(serial);
    expect(await certificateCount(fleet.iot)).toBe(count);
  });

  if (kind === 'embedded') {
    describe('with the key inside a PKCS#11 token (SoftHSM, aws-crt)', () => {
      let token: SoftHsmToken;
      let d: DeviceSetup;
      let p: AgentProcess;
      const serial = 'gw-embedded-p11';
      const startToken = (): AgentProcess => {
        const a = new AgentProcess(['run', '--config', d.configFile], token.env);
        procs.push(a);
        return a;
      };
      const keyLabelFile = (): string => readFileSync(join(d.stateDir, 'identity', 'key-label'), 'utf8').trim();
      const rotate = async (jobId: string, templateName: string): Promise<{ status?: string; details: Record<string, string> }> => {
        await fleet.iot.send(new CreateJobCommand({ jobId, targets: [THING(serial)], document: JSON.stringify({ operation: 'rotate-certificate', templateName }) }));
        await p.waitForLog(reported(jobId), 150_000);
        return execution(jobId, serial);
      };
      const jobsStillWork = async (jobId: string): Promise<void> => {
        await fleet.iot.send(new CreateJobCommand({ jobId, targets: [THING(serial)], document: JSON.stringify({ operation: 'record' }) }));
        await p.waitForLog(reported(jobId), 90_000);
        expect((await execution(jobId, serial)).status).toBe('SUCCEEDED');
      };

      it('enrols with the key made inside a PKCS#11 token (SoftHSM) and connects with it through aws-crt', async () => {
        token = await createSoftHsmToken(join(fleet.dir, 'hsm'), await createCa({ commonName: 'unused' }), 'unused');
        const pinFile = join(fleet.dir, 'hsm', 'pin');
        await writeFile(pinFile, `${token.pin}\n`, { mode: 0o600 });
        d = await deviceConfig(fleet, 'embedded-p11', {
          serial,
          extra: {
            mqtt: { endpoint: fleet.host, port: fleet.port, keepAliveSeconds: 30, transport: 'aws-crt' },
            pkcs11: { library: token.library, tokenLabel: token.tokenLabel, keyLabel: 'provisioned-key', pinFile },
          },
        });
        p = startToken();
        await p.waitForLog(msg('provisioning: identity installed'), 90_000);
        await p.waitForLog(reported('fleet-embedded'), 90_000);
        expect(identityOf(d.stateDir)).toMatchObject({ thingName: serial, key: 'pkcs11' });
        // The key never left the token: no key file was ever written.
        expect(['private.key', 'pending.key'].filter((f) => existsSync(join(d.stateDir, 'identity', f)))).toEqual([]);
        // aws-crt plus pkcs11-tool processes: well past the default 60 s on a loaded machine.
      }, 180_000);

      it('rotates by job with a new key made in the token; the old key object is destroyed after the commit', async () => {
        const old = identityOf(d.stateDir).certificateId;
        const ex = await rotate('rotate-p11', 'Rotate');
        const now = identityOf(d.stateDir);
        expect(ex).toEqual({ status: 'SUCCEEDED', details: { certificateId: now.certificateId, previousCertificateId: old } });
        expect(now.keyLabel).toMatch(/^provisioned-key\./);
        expect(keyLabelFile()).toBe(now.keyLabel);
        // The device key before, 'device-key' from the token's set-up, and the new one: the old one is gone.
        expect(await tokenKeyLabels(token)).toEqual(['device-key', now.keyLabel].sort());
        expect(readdirSync(join(d.stateDir, 'identity')).filter((f) => /previous|next|rotation|private\.key/.test(f))).toEqual([]);
        await jobsStillWork('after-rotate-p11');
      }, 300_000);

      it('rolls back a token rotation whose certificate is left INACTIVE: the new key object is destroyed', async () => {
        const before = identityOf(d.stateDir);
        const ex = await rotate('rotate-p11-inactive', 'RotateInactive');
        expect(ex.status).toBe('FAILED');
        expect(ex.details.reason).toMatch(/did not connect and work .*rolled back to/);
        expect(identityOf(d.stateDir)).toMatchObject({ certificateId: before.certificateId, keyLabel: before.keyLabel });
        expect(keyLabelFile()).toBe(before.keyLabel);
        expect(await tokenKeyLabels(token)).toEqual(['device-key', before.keyLabel!].sort());
        await jobsStillWork('after-rollback-p11');
      }, 300_000);

      it('kill -9 during a token rotation, then a restart: one working identity, one key object for it', async () => {
        await fleet.iot.send(new CreateJobCommand({ jobId: 'rotate-p11-kill', targets: [THING(serial)], document: JSON.stringify({ operation: 'rotate-certificate', templateName: 'Rotate' }) }));
        await p.waitForLog(msg('rotation: reconnecting with the new certificate'), 150_000);
        await stop(p, 'SIGKILL');
        p = startToken();
        await p.waitForLog(reported('rotate-p11-kill'), 150_000);
        const ex = await execution('rotate-p11-kill', serial);
        const now = identityOf(d.stateDir);
        if (ex.status === 'SUCCEEDED') expect(ex.details.certificateId).toBe(now.certificateId);
        else expect(ex).toMatchObject({ status: 'FAILED', details: { reason: expect.stringContaining('interrupted by a restart') } });
        expect(keyLabelFile()).toBe(now.keyLabel);
        expect(await tokenKeyLabels(token)).toEqual(['device-key', now.keyLabel!].sort());
        expect(existsSync(join(d.stateDir, 'identity', 'rotation.json'))).toBe(false);
        await jobsStillWork('after-kill-p11');
        await stop(p);
      }, 300_000);
    });
  }

  it('a crash after RegisterThing before the files are written resumes from the registration, offline', async () => {
    const serial = `gw-${kind}-3`;
    const d = await deviceConfig(fleet, `${kind}-3`, { serial });
    // A directory where the certificate goes: the install step fails after RegisterThing succeeded.
    await mkdir(join(d.stateDir, 'identity', 'certificate.pem'), { recursive: true });
    const p = start(d);
    await p.waitForLog(msg('provisioning: thing registered'), 60_000);
    await p.waitForLog(msg('provisioning failed; retrying'), 60_000);
    const count = await certificateCount(fleet.iot);
    await stop(p, 'SIGKILL');
    await rmdir(join(d.stateDir, 'identity', 'certificate.pem'));
    const again = start(d);
    await again.waitForLog(msg('provisioning: identity installed'), 60_000);
    await again.waitForLog(msg('connected to the broker'), 60_000);
    expect(again.count(msg('provisioning: certificate issued'))).toBe(0);
    expect(again.count(msg('provisioning: thing registered'))).toBe(0);
    expect(again.count((l) => typeof l.msg === 'string' && l.msg.includes('connecting with the claim certificate'))).toBe(0);
    expect(identityOf(d.stateDir).thingName).toBe(serial);
    expect(await certificateCount(fleet.iot)).toBe(count);
  });
});
