/**
 * The amd64 .deb on a clean Debian 12 with systemd as PID 1 (systemd-nspawn), against mosquitto and
 * the sim on the host. Everything is asserted from what systemd itself reports (`systemctl show`,
 * its journal) and from the service's state. One booted container serves the scenarios in order:
 * each starts from a running, idle agent (`ensureIdle`) and says what it leaves behind.
 */
import { createJob } from '../e2e/helpers';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { Device, UNIT, debName, gatedJob, releaseFile } from './support/device';

const THING = 'device-unit';
let stack: Stack;
let dev: Device;

jest.setTimeout(240_000);

beforeAll(async () => {
  stack = await startStack({ things: [THING] });
  dev = await Device.boot(stack, THING);
});
afterAll(async () => {
  await dev?.stop();
  await stack?.close();
});

/** Each scenario starts from a running, connected agent with a clear start rate limit. */
async function ensureIdle(): Promise<Record<string, string>> {
  const p = await dev.props();
  if (p.ActiveState === 'active' && p.StatusText === 'idle') return p;
  return dev.start();
}

describe('the .deb under systemd (PID 1) on a clean Debian 12', () => {
  it('installs on a system without Node.js: unit enabled, not started while there is no configuration', async () => {
    expect((await dev.exec(['sh', '-c', 'command -v node nodejs || echo none'])).stdout.trim()).toBe('none');
    await dev.install(releaseFile(debName('amd64')));
    const p = await dev.props();
    expect(p).toMatchObject({ LoadState: 'loaded', UnitFileState: 'enabled', ActiveState: 'inactive' });
    expect((await dev.exec(['iot-jobs-agent', '--help'])).stdout).toMatch(/run/);
  });

  it('systemd sees READY and then the STATUS the agent sends once connected', async () => {
    await dev.configure();
    await dev.exec(['systemctl', 'start', UNIT], { timeoutMs: 180_000 });
    // Type=notify: `systemctl start` returns once READY=1 has been processed, so the unit is active now.
    const afterStart = await dev.props();
    expect(afterStart.ActiveState).toBe('active');
    expect(afterStart.SubState).toBe('running');
    const idle = await dev.waitIdle();
    expect(idle).toMatchObject({ NRestarts: '0', Result: 'success' });
    expect(Number(idle.MainPID)).toBeGreaterThan(0);
    const lines = await dev.logLines();
    expect(lines.some((l) => l.msg === 'connected to the broker')).toBe(true);
  });

  it('is ready while the broker is unreachable (READY=1 means up, not connected) and connects when it comes', async () => {
    await ensureIdle();
    await stack.broker.stop();
    // Returns once systemd has READY=1: a device whose network comes late does not block its boot.
    await dev.exec(['systemctl', 'restart', UNIT], { timeoutMs: 180_000 });
    const offline = await dev.waitForUnit((p) => p.ActiveState === 'active' && p.StatusText === 'connecting', 'active with STATUS=connecting');
    expect(offline.SubState).toBe('running');
    await dev.waitForLog((l) => l.msg === 'could not connect to the broker', 'the refused connection');
    await stack.broker.restart();
    const online = await dev.waitIdle();
    expect(online.MainPID).toBe(offline.MainPID);
  });

  it('runs a job end to end', async () => {
    await ensureIdle();
    await createJob(stack, 'unit-echo', THING, { operation: 'exec', command: ['echo', 'hello from the device'] });
    await dev.waitForJob('unit-echo', 'SUCCEEDED');
    expect(dev.statusChanges('unit-echo')).toEqual(['IN_PROGRESS', 'SUCCEEDED']);
    expect(dev.execution('unit-echo').details.stdout).toMatch(/hello from the device/);
    await dev.waitIdle();
  });

  it('runs a Device Client runCommand step as nobody (uid 65534) under the unit hardening', async () => {
    await ensureIdle();
    const probe = 'echo uid=$(id -u) gid=$(id -g); grep -E "^(NoNewPrivs|CapEff|CapBnd):" /proc/self/status; touch /usr/probe 2>&1 || true';
    await createJob(stack, 'unit-nobody', THING, {
      version: '1.0',
      includeStdOut: true,
      steps: [{ action: { name: 'who', type: 'runCommand', input: { command: `sh,-c,${probe}` }, runAsUser: 'nobody' } }],
    });
    await dev.waitForJob('unit-nobody', 'SUCCEEDED');
    const out = dev.execution('unit-nobody').details.stdout ?? '';
    expect(out).toMatch(/uid=65534 gid=65534/);
    expect(out).toMatch(/NoNewPrivs:\s+1/);
    expect(out).toMatch(/CapEff:\s+0+\b/);
    expect(out).toMatch(/touch: cannot touch '\/usr\/probe': (Read-only file system|Permission denied)/);
  });

  it('restarts the agent after kill -9, and the interrupted job is reported by its restart policy', async () => {
    const before = await ensureIdle();
    await createJob(stack, 'unit-killed', THING, gatedJob('never-opened'));
    await dev.waitForJob('unit-killed', 'IN_PROGRESS');
    await dev.signal('KILL', before.MainPID!);
    const after = await dev.waitForUnit((p) => p.NRestarts === String(Number(before.NRestarts) + 1) && p.StatusText === 'idle', 'restarted by systemd and idle again');
    expect(after.MainPID).not.toBe(before.MainPID);
    // exec's restart policy is "fail": the execution is reported FAILED, never run again.
    await dev.waitForJob('unit-killed', 'FAILED');
    expect(dev.execution('unit-killed').details.reason).toBe('interrupted');
    expect(await dev.journal()).toMatch(/Main process exited, code=killed, status=9\/KILL/);
  });

  it('a bad configuration exits 2 and systemd does not restart it', async () => {
    await ensureIdle();
    await dev.writeConfig({ thingName: THING, mqtt: { endpoint: '127.0.0.1', port: 'eight' } });
    const r = await dev.exec(['systemctl', 'restart', UNIT], { allowFail: true, timeoutMs: 180_000 });
    expect(r.code).not.toBe(0);
    // RestartPreventExitStatus=2: straight to failed, never auto-restart.
    const p = await dev.waitForUnit((q) => q.ActiveState === 'failed', 'failed');
    expect(p).toMatchObject({ SubState: 'failed', Result: 'exit-code', ExecMainStatus: '2' });
    expect(await dev.journal()).toMatch(/mqtt\.port/);
    await dev.configure();
  });

  it('systemctl stop drains the running job and ends with Result=success', async () => {
    await ensureIdle();
    await createJob(stack, 'unit-drain', THING, gatedJob('drain'));
    await dev.waitForJob('unit-drain', 'IN_PROGRESS');
    const stopping = dev.exec(['systemctl', 'stop', UNIT], { timeoutMs: 180_000 });
    await dev.waitForUnit((p) => p.ActiveState === 'deactivating', 'deactivating (STOPPING=1 / SIGTERM)');
    await dev.waitForLog((l) => l.msg === 'stopping: no new jobs', 'that it drains');
    await dev.openGate('drain');
    await stopping;
    const p = await dev.props();
    expect(p).toMatchObject({ ActiveState: 'inactive', Result: 'success', ExecMainStatus: '0' });
    expect(dev.execution('unit-drain').status).toBe('SUCCEEDED');
    expect(dev.execution('unit-drain').details.stdout).toMatch(/gate drain open/);
  });

  it('a stopped (SIGSTOP) agent is killed by the watchdog and restarted', async () => {
    // A shorter watchdog than the unit's 30 s, through a drop-in as an operator would set it.
    await dev.dropIn('watchdog', '[Service]\nWatchdogSec=6\n');
    const before = await dev.start();
    await dev.signal('STOP', before.MainPID!);
    const after = await dev.waitForUnit((p) => p.NRestarts === String(Number(before.NRestarts) + 1) && p.StatusText === 'idle', 'restarted after the watchdog fired');
    expect(after.MainPID).not.toBe(before.MainPID);
    expect(await dev.journal()).toMatch(/Watchdog timeout/);
    await dev.dropIn('watchdog', undefined);
  });

  it('systemd attributed every notification to the unit (systemd-notify children, NotifyAccess=all)', async () => {
    const all = (await dev.exec(['journalctl', '--no-pager', '-o', 'cat'])).stdout;
    expect(all).not.toMatch(/Cannot find unit for notify message|reception only permitted for main PID|notify message.*ignoring/i);
    expect(all).toMatch(/Started iot-jobs-agent\.service/);
  });
});
