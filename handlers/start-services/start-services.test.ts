import { createTestContext, runTestJob } from '../../src/index';
import { fakeSystemctl } from '../../test/fixtures/fake-systemctl';
import start from './index';
import type { ServicesDocument } from '../_shared/services';

describe('start-services handler', () => {
  it('starts each service in order and stops at the first failure', async () => {
    const t = fakeSystemctl();
    const options = { systemctl: t.systemctl };
    await expect(runTestJob(start, createTestContext<ServicesDocument>({ document: { services: 'nginx cron' }, options }))).resolves.toEqual({
      result: { status: 'SUCCEEDED', details: { started: 'nginx cron' } },
    });
    const failed = await runTestJob(start, createTestContext<ServicesDocument>({ document: { services: ['failing-db', 'web'] }, options }));
    expect(failed).toEqual({
      result: {
        status: 'FAILED',
        details: { reason: 'systemctl start failing-db failed', exitStatus: 'exit 1', stderr: expect.stringContaining('Job for failing-db failed') },
      },
    });
    expect(t.calls()).toEqual(['systemctl 0 start nginx', 'systemctl 0 start cron', 'systemctl 0 start failing-db']);
  });

  it.each([
    [{ services: [] }, 'at least one service'],
    [{ services: '--all' }, 'not a valid service name'],
    [{ services: 'a;b' }, 'not a valid service name'],
  ])('rejects %j', async (doc, reason) => {
    await expect(runTestJob(start, createTestContext({ document: doc as ServicesDocument }))).resolves.toEqual({ rejected: expect.stringContaining(reason) });
  });
});
