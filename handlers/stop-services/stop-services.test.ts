import { createTestContext, runTestJob } from '../../src/index';
import { fakeSystemctl } from '../../test/fixtures/fake-systemctl';
import stop from './index';
import type { ServicesDocument } from '../_shared/services';

describe('stop-services handler', () => {
  it('stops services as the given user', async () => {
    const t = fakeSystemctl();
    const ctx = createTestContext<ServicesDocument>({ document: { services: ['nginx'], runAsUser: 'nobody' }, options: { systemctl: t.systemctl } });
    await expect(runTestJob(stop, ctx)).resolves.toEqual({ result: { status: 'SUCCEEDED', details: { stopped: 'nginx' } } });
    expect(t.calls()).toEqual(['systemctl 65534 stop nginx']);
  });

  it("refuses to stop the agent's own service", async () => {
    const t = fakeSystemctl();
    const ctx = createTestContext<ServicesDocument>({ document: { services: 'nginx iot-jobs-agent' }, options: { systemctl: t.systemctl } });
    await expect(stop.run(ctx)).rejects.toThrow("stopping the agent's own service (iot-jobs-agent)");
    expect(t.calls()).toEqual([]);
  });
});
