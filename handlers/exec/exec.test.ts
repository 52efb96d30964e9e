import { createTestContext, runTestJob } from '../../src/index';
import exec, { type ExecDocument } from './index';

const job = (document: unknown, allowShell = false) =>
  runTestJob(exec, createTestContext<ExecDocument>({ document: document as ExecDocument, options: { allowShell }, allowShell }));

describe('exec handler', () => {
  it('maps the exit code to the status and keeps the output tails', async () => {
    await expect(job({ command: ['/bin/echo', 'hello; world'] })).resolves.toEqual({
      result: { status: 'SUCCEEDED', details: { exitStatus: 'exit 0', stdout: 'hello; world' } },
    });
    const failed = await job({ command: ['/bin/sh', '-c', 'echo oops >&2; exit 4'] });
    expect(failed).toEqual({ result: { status: 'FAILED', details: { exitStatus: 'exit 4', stderr: 'oops' } } });
  });

  it('applies cwd, env, input and runAsUser', async () => {
    const r = await job({ command: ['/bin/sh', '-c', 'pwd; echo "$X"; id -un; cat'], cwd: '/tmp', env: { X: 'y' }, input: 'in', runAsUser: 'nobody' });
    expect(r).toEqual({ result: { status: 'SUCCEEDED', details: { exitStatus: 'exit 0', stdout: '/tmp y nobody in' } } });
  });

  it('rejects a user that does not exist', async () => {
    await expect(job({ command: ['/bin/true'], runAsUser: 'no-such-user-4711' })).rejects.toThrow('user no-such-user-4711 does not exist');
  });

  it('times out, killing the command', async () => {
    const r = await job({ command: ['/bin/sleep', '30'], timeoutSeconds: 0.3 });
    expect(r).toMatchObject({ result: { status: 'FAILED', details: { exitStatus: 'killed by SIGTERM (timed out)', reason: 'timed out after 0.3 s' } } });
  });

  it('runs a shell string only when the configuration allows it', async () => {
    await expect(job({ command: 'echo $((1+2))', shell: true })).rejects.toThrow('handlers.allowShell');
    await expect(job({ command: 'echo $((1+2))', shell: true }, true)).resolves.toMatchObject({ result: { status: 'SUCCEEDED', details: { stdout: '3' } } });
  });

  it('throws the abort reason when cancelled', async () => {
    const ctx = createTestContext<ExecDocument>({ document: { command: ['/bin/sleep', '30'] } });
    const p = exec.run(ctx);
    ctx.abort(new Error('job canceled'));
    await expect(p).rejects.toThrow('job canceled');
  });

  it.each([
    [{}, 'command must be a non-empty array'],
    [{ command: 'ls -l' }, 'unless "shell": true'],
    [{ command: ['ls', 3] }, 'only strings'],
    [{ command: ['ls'], cwd: 'tmp' }, 'cwd must be an absolute path'],
    [{ command: ['ls'], env: { A: 1 } }, 'env must map'],
    [{ command: ['ls'], timeoutSeconds: 0 }, 'timeoutSeconds'],
    [{ command: ['ls'], shell: 'yes' }, 'shell must be'],
    [[], 'must be an object'],
  ])('rejects %j', async (doc, reason) => {
    const r = await job(doc);
    expect(r).toEqual({ rejected: expect.stringContaining(reason) });
  });
});
