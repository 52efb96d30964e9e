import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTestContext, runTestJob } from '../../src/index';
import { fakeTools } from '../../test/fixtures/fake-tools';
import shutdown, { type ShutdownDocument } from './index';

describe('shutdown handler', () => {
  const t = fakeTools();
  const bootIdPath = path.join(t.dir, 'boot_id');
  writeFileSync(bootIdPath, 'boot-a\n');
  const options = { command: [t.script('shutdown', 'exit 0'), '-h'], bootIdPath };

  it('schedules the shutdown and reports it', async () => {
    await expect(runTestJob(shutdown, createTestContext<ShutdownDocument>({ document: {}, options }))).resolves.toEqual({
      result: { status: 'SUCCEEDED', details: { scheduled: 'in 1 min' } },
    });
    await expect(runTestJob(shutdown, createTestContext<ShutdownDocument>({ document: { delayMinutes: 0 }, options }))).resolves.toMatchObject({
      result: { details: { scheduled: 'now' } },
    });
    expect(t.calls()).toEqual(['shutdown 0 -h +1', 'shutdown 0 -h now']);
  });

  it('on resume, succeeds only if the device went down', async () => {
    const saved = { bootId: 'boot-a' };
    await expect(shutdown.resume!(createTestContext<ShutdownDocument>({ document: {}, options, savedState: saved }))).resolves.toMatchObject({ status: 'FAILED' });
    writeFileSync(bootIdPath, 'boot-b\n');
    await expect(shutdown.resume!(createTestContext<ShutdownDocument>({ document: {}, options, savedState: saved }))).resolves.toMatchObject({ status: 'SUCCEEDED' });
  });

  it('rejects a bad delay', async () => {
    await expect(runTestJob(shutdown, createTestContext({ document: { delayMinutes: -5 } as ShutdownDocument }))).resolves.toEqual({
      rejected: expect.stringContaining('delayMinutes'),
    });
  });
});
