/**
 * A device without RTC under the real systemd (PID 1 in a container), with the amd64 .deb: the
 * agent's wall clock reads 1970 when the unit starts (libfaketime through a drop-in, as only the
 * realtime clock is wrong on such a boot), and is corrected later, as NTP does. The unit must bring
 * the agent up and keep it up by itself: active, STATUS naming the clock, no exit 2, no restart
 * loop — and connected, by the same process, once the clock is right.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createJob } from '../e2e/helpers';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { Device, GATES, UNIT, debName, releaseFile } from './support/device';
import { TOOL_PACKAGES } from './support/rootfs';

const THING = 'device-clock';
const CLOCK = `${GATES}/clock`;
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
let stack: Stack;
let dev: Device;

jest.setTimeout(300_000);

beforeAll(async () => {
  stack = await startStack({ things: [THING] });
  dev = await Device.boot(stack, THING, { rootfs: { extraPackages: TOOL_PACKAGES } });
});
afterAll(async () => {
  await dev?.stop();
  await stack?.close();
});

function setClock(spec: string): Promise<void> {
  return writeFile(join(dev.c.path(GATES), 'clock'), `${spec}\n`);
}

describe('the unit on a device whose clock starts in 1970', () => {
  it('comes up and stays up with STATUS naming the clock, then connects in the same process once NTP sets the clock', async () => {
    await dev.install(releaseFile(debName('amd64')));
    await dev.configure();
    await setClock('@1970-01-02 00:00:00');
    await dev.dropIn(
      'clock',
      `[Service]\nEnvironment=LD_PRELOAD=${LIBFAKETIME} FAKETIME_TIMESTAMP_FILE=${CLOCK} FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1\n`,
    );
    await dev.exec(['systemctl', 'restart', UNIT], { timeoutMs: 180_000 });
    const waiting = await dev.waitForUnit((p) => p.ActiveState === 'active' && (p.StatusText ?? '').startsWith('clock: device time 1970-01-02'), 'active with STATUS naming the clock');
    const why = await dev.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('cannot connect: clock:'), 'the clock named in the log');
    expect(String(why.deviceTime)).toMatch(/^1970-01-02T/);
    expect(new Date(String(why.certificateValidFrom)).getFullYear()).toBeGreaterThan(2000);
    // Another attempt, same process: waiting for the clock is a state, not an exit.
    await dev.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('cannot connect: clock:') && String(l.time) > String(why.time), 'a second attempt');
    expect(await dev.props()).toMatchObject({ ActiveState: 'active', MainPID: waiting.MainPID, NRestarts: waiting.NRestarts });

    await setClock('+0');
    const idle = await dev.waitIdle();
    expect(idle.MainPID).toBe(waiting.MainPID);
    expect(idle.NRestarts).toBe(waiting.NRestarts);
    await createJob(stack, 'clock-echo', THING, { operation: 'exec', command: ['echo', 'after ntp'] });
    await dev.waitForJob('clock-echo', 'SUCCEEDED');
    await dev.dropIn('clock', undefined);
  });
});
