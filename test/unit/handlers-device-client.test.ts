import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HandlerContext, JobHandler } from '../../src/handlers/api';
import { createDeviceClientHandler } from '../../src/handlers/device-client';
import { createTestContext } from '../../src/handlers/test-context';

interface Stub extends JobHandler<unknown> {
  docs: unknown[];
  options: unknown[];
}

function stub(name: string, extra: Partial<JobHandler<unknown>> = {}): Stub {
  const s: Stub = {
    name,
    docs: [],
    options: [],
    run: (ctx: HandlerContext<unknown>) => {
      s.docs.push(ctx.document);
      s.options.push(ctx.options);
      return Promise.resolve({ status: 'SUCCEEDED', details: { done: name, stdout: 'from built-in' } });
    },
    ...extra,
  };
  return s;
}

function setup(handlers: JobHandler<unknown>[] = [], scriptDirectories: string[] = []) {
  const map = new Map(handlers.map((h) => [h.name, h]));
  const dc = createDeviceClientHandler({ scriptDirectories, handlers: () => map, optionsFor: (n) => Object.freeze({ for: n }) });
  const run = async (document: unknown, savedState?: Record<string, unknown>) => {
    const ctx = createTestContext({ document, savedState });
    const reason = await dc.validate!(document);
    if (typeof reason === 'string') return { rejected: reason, ctx };
    return { result: await (savedState ? dc.resume!(ctx) : dc.run(ctx)), ctx };
  };
  return { dc, run };
}

const cmd = (command: string, extra: Record<string, unknown> = {}) => ({ action: { name: command.split(',')[0], type: 'runCommand', input: { command }, ...extra } });

describe('device-client-steps handler', () => {
  it('runs command steps in order, as the step user, with stdout only when asked', async () => {
    const { run } = setup();
    const quiet = await run({ version: '1.0', steps: [cmd('echo,hi'), cmd('id,-un', { runAsUser: 'nobody' })] });
    expect(quiet.result).toEqual({ status: 'SUCCEEDED', details: { steps: '2' } });
    const loud = await run({ version: '1.0', includeStdOut: true, steps: [cmd('echo,hi'), cmd('id,-un', { runAsUser: 'nobody' })] });
    expect(loud.result).toEqual({ status: 'SUCCEEDED', details: { steps: '2', stdout: 'nobody' } });
    expect(loud.ctx.progressCalls).toEqual([
      { step: '1/2', name: 'echo' },
      { step: '2/2', name: 'id' },
    ]);
  });

  it('stops at a failed step with its exit status and stderr; finalStep runs only after success', async () => {
    const { run } = setup();
    const r = await run({
      version: '1.0',
      steps: [cmd('sh,-c,echo broken >&2; exit 2'), cmd('echo,never')],
      finalStep: cmd('echo,final'),
    });
    expect(r.result).toEqual({
      status: 'FAILED',
      details: { exitStatus: 'exit 2', stderr: 'broken', step: 'sh', reason: 'step "sh" failed: exit 2' },
    });
    expect(r.ctx.progressCalls).toHaveLength(1);
    const ignored = await run({ version: '1.0', includeStdOut: 'true', steps: [cmd('false', { ignoreStepFailure: 'true' })], finalStep: cmd('echo,final') });
    expect(ignored.result).toEqual({ status: 'SUCCEEDED', details: { steps: '2', stdout: 'final' } });
  });

  it('counts stderr lines only when allowStdErr is given', async () => {
    const { run } = setup();
    const twoLines = 'sh,-c,printf "a\\nb\\n" >&2';
    await expect(run({ version: '1.0', steps: [cmd(twoLines)] })).resolves.toMatchObject({ result: { status: 'SUCCEEDED' } });
    await expect(run({ version: '1.0', steps: [cmd(twoLines, { allowStdErr: 2 })] })).resolves.toMatchObject({ result: { status: 'SUCCEEDED' } });
    await expect(run({ version: '1.0', steps: [cmd(twoLines, { allowStdErr: 1 })] })).resolves.toMatchObject({
      result: { status: 'FAILED', details: { reason: 'step "sh" failed: 2 lines on stderr (allowStdErr 1)' } },
    });
  });

  it('rejects a user that does not exist instead of running as the agent', async () => {
    const { dc } = setup();
    const ctx = createTestContext({ document: { version: '1.0', steps: [cmd('id', { runAsUser: 'no-such-user-4711' })] } });
    await expect(dc.run(ctx)).rejects.toThrow('user no-such-user-4711 does not exist');
  });

  it('runs scripts from a script directory with an empty $1 (the user is already applied)', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'dc-scripts-'));
    chmodSync(root, 0o755); // nobody must be able to reach the script
    const dir = path.join(root, 'jobs');
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(path.join(dir, 'greet.sh'), '#!/bin/sh\necho "user=[$1] arg=$2 me=$(id -un)"\n', { mode: 0o755 });
    chmodSync(path.join(dir, 'greet.sh'), 0o755);
    const { run } = setup([], [dir]);
    const r = await run({ operation: 'greet.sh', args: ['x'], includeStdOut: true, runAsUser: 'nobody' });
    expect(r.result).toEqual({ status: 'SUCCEEDED', details: { steps: '1', stdout: 'user=[] arg=x me=nobody' } });
  });

  it('hands managed-template steps to the built-ins with their own options, user and validation', async () => {
    const install = stub('install-packages', { validate: (d) => ((d as { packages: string }).packages.includes('bad') ? 'no bad packages' : undefined) });
    const { run } = setup([install]);
    const doc = (pkgs: string) => ({
      version: '1.0',
      includeStdOut: true,
      steps: [{ action: { name: 'Install', type: 'runHandler', input: { handler: 'install-packages.sh', args: [pkgs], path: '' }, runAsUser: 'root' } }],
    });
    const r = await run(doc('curl jq'));
    expect(r.result).toEqual({ status: 'SUCCEEDED', details: { steps: '1', stdout: 'from built-in' } });
    expect(install.docs).toEqual([{ operation: 'install-packages', packages: 'curl jq', runAsUser: 'root' }]);
    expect(install.options).toEqual([{ for: 'install-packages' }]);
    await expect(run(doc('bad'))).resolves.toMatchObject({ rejected: 'step "Install": no bad packages' });
    await expect(run({ operation: 'reboot.sh' })).resolves.toMatchObject({ rejected: 'built-in handler reboot is not available' });
  });

  it('resumes where it stopped: a resumable built-in decides its step, then the rest runs', async () => {
    const reboot = stub('reboot', {
      restartPolicy: 'resume',
      run: async (ctx) => {
        await ctx.saveState({ bootId: 'before' });
        return new Promise(() => undefined); // waits for the reboot
      },
      resume: (ctx) => Promise.resolve(ctx.savedState?.bootId === 'before' ? { status: 'SUCCEEDED' as const } : { status: 'FAILED' as const }),
    });
    const { dc, run } = setup([reboot]);
    const doc = { version: '1.0', includeStdOut: true, steps: [cmd('echo,one'), { action: { name: 'Reboot', type: 'runHandler', input: { handler: 'reboot.sh' } } }, cmd('echo,after')] };
    const ctx = createTestContext({ document: doc });
    void dc.run(ctx);
    while (ctx.savedStates.length < 3) await new Promise((r) => setImmediate(r));
    expect(ctx.savedStates).toEqual([{ step: 0 }, { step: 1 }, { step: 1, inner: { bootId: 'before' } }]);
    const resumed = await run(doc, ctx.savedStates.at(-1));
    expect(resumed.result).toEqual({ status: 'SUCCEEDED', details: { steps: '3', stdout: 'after' } });
  });

  it('fails a process step interrupted by a restart rather than running it twice', async () => {
    const { run } = setup();
    const r = await run({ version: '1.0', steps: [cmd('echo,one'), cmd('echo,two')] }, { step: 1 });
    expect(r.result).toEqual({ status: 'FAILED', details: { reason: 'step "echo" failed: interrupted by an agent restart', step: 'echo' } });
    const none = await run({ version: '1.0', steps: [cmd('echo,one')] }, {});
    expect(none.result).toEqual({ status: 'FAILED', details: { reason: 'interrupted' } });
  });
});
