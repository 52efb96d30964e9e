import { createTestContext, runTestJob } from '../../src/index';
import { fakeSystemctl } from '../../test/fixtures/fake-systemctl';
import restart from './index';
import type { ServicesDocument } from '../_shared/services';

describe('restart-services handler', () => {
  it('restarts other services and succeeds', async () => {
    const t = fakeSystemctl();
    const ctx = createTestContext<ServicesDocument>({ document: { services: ['nginx'] }, options: { systemctl: t.systemctl } });
    await expect(runTestJob(restart, ctx)).resolves.toEqual({ result: { status: 'SUCCEEDED', details: { restarted: 'nginx' } } });
    expect(t.calls()).toEqual(['systemctl 0 restart nginx']);
    expect(restart.restartPolicy).toBe('resume');
  });

  it('restarts the agent itself last, then waits to be stopped; success is decided by the new process', async () => {
    const t = fakeSystemctl();
    const options = { systemctl: t.systemctl, selfService: 'my-agent.service' };
    const ctx = createTestContext<ServicesDocument>({ document: { services: 'my-agent nginx' }, options });
    const running = restart.run(ctx);
    await new Promise<void>((resolve) => {
      const check = (): void => (ctx.progressCalls.some((p) => p.step?.startsWith('restart of my-agent')) ? resolve() : void setImmediate(check));
      check();
    });
    // systemd stopping the agent aborts the running job.
    ctx.abort(new Error('agent shutting down'));
    await expect(running).rejects.toThrow('agent shutting down');
    expect(t.calls()).toEqual(['systemctl 0 restart nginx', 'systemctl 0 restart --no-block my-agent']);
    const saved = ctx.savedStates.at(-1)!;

    // The same process "coming back" means no restart happened.
    const same = createTestContext<ServicesDocument>({ document: ctx.document, options, savedState: saved });
    await expect(restart.resume!(same)).resolves.toMatchObject({ status: 'FAILED', details: { reason: expect.stringContaining('was not restarted') } });

    const other = { selfRestart: { ...(saved.selfRestart as object), pid: process.pid + 100000 } };
    const after = createTestContext<ServicesDocument>({ document: ctx.document, options, savedState: other });
    await expect(restart.resume!(after)).resolves.toEqual({ status: 'SUCCEEDED', details: { restarted: 'my-agent nginx' } });
  });

  it('fails when the agent is not restarted in time', async () => {
    const t = fakeSystemctl();
    const ctx = createTestContext<ServicesDocument>({
      document: { services: ['iot-jobs-agent.service'] },
      options: { systemctl: t.systemctl, selfRestartWaitSeconds: 0.2 },
    });
    await expect(restart.run(ctx)).resolves.toEqual({ status: 'FAILED', details: { reason: 'the agent was not restarted within 0.2 s' } });
  });
});
