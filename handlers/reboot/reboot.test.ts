import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTestContext } from '../../src/index';
import { fakeTools } from '../../test/fixtures/fake-tools';
import reboot, { type RebootDocument } from './index';

function setup(commandBody = 'exit 0') {
  const t = fakeTools();
  const bootIdPath = path.join(t.dir, 'boot_id');
  writeFileSync(bootIdPath, 'boot-1\n');
  const command = t.script('reboot', commandBody);
  return { t, bootIdPath, options: { command: [command, '--now'], bootIdPath } };
}

async function whenProgress(ctx: { progressCalls: unknown[] }): Promise<void> {
  while (ctx.progressCalls.length === 0) await new Promise((r) => setImmediate(r));
}

describe('reboot handler', () => {
  it('saves the boot id, runs the reboot command, and never reports success before the reboot', async () => {
    const { t, bootIdPath, options } = setup();
    const ctx = createTestContext<RebootDocument>({ document: {}, options });
    const running = reboot.run(ctx);
    await whenProgress(ctx);
    expect(t.calls()).toEqual(['reboot 0 --now']);
    expect(ctx.savedStates).toEqual([{ bootId: 'boot-1', requestedAt: expect.any(String) }]);
    ctx.abort(new Error('agent stopping for reboot'));
    await expect(running).rejects.toThrow('agent stopping for reboot');

    writeFileSync(bootIdPath, 'boot-2\n');
    const after = createTestContext<RebootDocument>({ document: {}, options, savedState: ctx.savedStates[0] });
    await expect(reboot.resume!(after)).resolves.toEqual({ status: 'SUCCEEDED', details: { previousBootId: 'boot-1', bootId: 'boot-2' } });
  });

  it('fails on resume when the boot id did not change, or nothing was saved', async () => {
    const { options } = setup();
    const same = createTestContext<RebootDocument>({ document: {}, options, savedState: { bootId: 'boot-1' } });
    await expect(reboot.resume!(same)).resolves.toMatchObject({ status: 'FAILED', details: { reason: expect.stringContaining('did not reboot') } });
    const none = createTestContext<RebootDocument>({ document: {}, options });
    await expect(reboot.resume!(none)).resolves.toMatchObject({ status: 'FAILED', details: { reason: 'interrupted before the reboot was requested' } });
  });

  it('fails when the reboot command fails or the device does not go down', async () => {
    const bad = setup('echo "Failed to reboot: access denied" >&2; exit 1');
    await expect(reboot.run(createTestContext<RebootDocument>({ document: {}, options: bad.options }))).resolves.toEqual({
      status: 'FAILED',
      details: { reason: 'the reboot command failed', exitStatus: 'exit 1', stderr: 'Failed to reboot: access denied' },
    });
    const stuck = setup();
    const ctx = createTestContext<RebootDocument>({ document: {}, options: { ...stuck.options, waitSeconds: 0.1 } });
    await expect(reboot.run(ctx)).resolves.toEqual({ status: 'FAILED', details: { reason: 'the device did not reboot within 0.1 s' } });
  });
});
