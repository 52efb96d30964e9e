/**
 * The .deb's life on a device with systemd as PID 1: install onto a configured device (started at
 * once), an upgrade while an outcome waits in the outbox (the broker is unreachable), and a purge.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJob } from '../e2e/helpers';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { CONFIG, Device, STATE_DIR, UNIT, VERSION, debName, gatedJob, releaseFile, repackWithVersion } from './support/device';

const THING = 'device-pkg';
const NEXT = `${VERSION}+upgrade1`;
let stack: Stack;
let dev: Device;
let scratch: string;

jest.setTimeout(300_000);

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'ija-pkg-'));
  stack = await startStack({ things: [THING] });
  dev = await Device.boot(stack, THING);
});
afterAll(async () => {
  await dev?.stop();
  await stack?.close();
  await rm(scratch, { recursive: true, force: true });
});

interface StatusView {
  outboxLength: number;
  recent: { jobId: string; outcome?: { status: string } }[];
}
async function agentStatus(): Promise<StatusView> {
  return JSON.parse((await dev.exec(['iot-jobs-agent', 'status', '--config', CONFIG, '--json'])).stdout) as StatusView;
}
const installedVersion = async () => (await dev.exec(['dpkg-query', '-W', '-f=${Version}', 'iot-jobs-agent'])).stdout;

describe('the .deb through install, upgrade and purge', () => {
  it('starts on install when the device is already configured', async () => {
    await dev.exec(['mkdir', '-p', '/etc/iot-jobs-agent']);
    await dev.configure();
    await dev.install(releaseFile(debName('amd64')));
    const p = await dev.waitIdle();
    expect(p).toMatchObject({ UnitFileState: 'enabled', NRestarts: '0' });
    await createJob(stack, 'pkg-first', THING, { operation: 'exec', command: ['true'] });
    await dev.waitForJob('pkg-first', 'SUCCEEDED');
  });

  it('an upgrade keeps the journal and the outbox: the outcome it held is reported after the upgrade', async () => {
    await createJob(stack, 'pkg-held', THING, gatedJob('held'));
    await dev.waitForJob('pkg-held', 'IN_PROGRESS');
    // The network goes: the job's outcome cannot be delivered and waits in the outbox.
    await stack.broker.stop();
    await dev.waitForLog((l) => l.msg === 'disconnected from the broker; reconnecting', 'the lost connection');
    await dev.openGate('held');
    await dev.waitForLog((l) => l.msg === 'job finished' && l.jobId === 'pkg-held', 'pkg-held finished');
    const held = await agentStatus();
    expect(held.outboxLength).toBe(1);
    const before = await dev.props();

    const next = await repackWithVersion(releaseFile(debName('amd64')), NEXT, scratch);
    await dev.install(next);
    expect(await installedVersion()).toBe(NEXT);
    // Restarted by the upgrade (a new invocation), and the new agent still holds the outcome.
    const after = await dev.waitForUnit((p) => p.InvocationID !== before.InvocationID && p.ActiveState === 'active', 'restarted by the upgrade');
    expect(after.MainPID).not.toBe(before.MainPID);
    const kept = await agentStatus();
    expect(kept.outboxLength).toBe(1);
    expect(kept.recent.map((r) => r.jobId)).toEqual(expect.arrayContaining(['pkg-first', 'pkg-held']));
    expect(dev.execution('pkg-held').status).toBe('IN_PROGRESS');

    await stack.broker.restart();
    const done = await dev.waitForJob('pkg-held', 'SUCCEEDED');
    expect(done.details.stdout).toMatch(/gate held open/);
    expect(dev.statusChanges('pkg-held')).toEqual(['IN_PROGRESS', 'SUCCEEDED']);
    await dev.waitIdle();
    expect((await agentStatus()).outboxLength).toBe(0);
  });

  it('purge stops the agent and leaves no unit, binary, configuration or state', async () => {
    const { MainPID } = await dev.props();
    expect(Number(MainPID)).toBeGreaterThan(0);
    await dev.exec(['dpkg', '--purge', 'iot-jobs-agent'], { timeoutMs: 180_000 });
    expect((await dev.exec(['test', '-e', `/proc/${MainPID}`], { allowFail: true })).code).not.toBe(0);
    expect((await dev.props()).LoadState).toBe('not-found');
    const left = await dev.exec(['sh', '-c', `ls -d /usr/bin/iot-jobs-agent /lib/systemd/system/${UNIT} /etc/systemd/system/multi-user.target.wants/${UNIT} /etc/iot-jobs-agent ${STATE_DIR} /usr/share/doc/iot-jobs-agent 2>/dev/null || true`]);
    expect(left.stdout.trim()).toBe('');
    expect((await dev.exec(['dpkg-query', '-W', 'iot-jobs-agent'], { allowFail: true })).code).not.toBe(0);
  });
});
