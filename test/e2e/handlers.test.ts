/**
 * The handler contract (src/handlers/api.ts, handlers/README.md) as the real agent process honours
 * it: an ES module handler (`NAME.mjs`, which jest itself cannot import) loaded and run, every ctx
 * field a handler is promised, validate → REJECTED before anything runs, the handler's time limit
 * and a document lowering it, a `resume` handler getting its saved state after a restart.
 */
import { existsSync, readFileSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AgentProcess, agentConfig, BIN } from '../support/agent-proc';
import type { AgentSetup } from '../support/agent-proc';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { describeOutcome } from '../fixtures/device-client-env';
import { createJob, deviceTransitions } from './helpers';

const INDEX = path.join(path.dirname(BIN), '..', 'dist', 'src', 'index.js');

/** Written at test time, with the modes the loader insists on. */
const HANDLERS: Record<string, string> = {
  'probe.mjs': `import { statSync } from 'node:fs';
export default {
  name: 'probe-mjs',
  timeoutSeconds: 30,
  validate(doc) {
    if (doc.bad !== undefined) return 'bad is not allowed';
    if (doc.explode) throw new Error('validate blew up');
  },
  async run(ctx) {
    const st = statSync(ctx.workDir);
    ctx.progress({ phase: 'probing' });
    await ctx.saveState({ at: 'run' });
    const r = await ctx.exec.run(['sh', '-c', 'echo "$(id -un) $HOME $GREETING"'], { signal: ctx.signal, env: { GREETING: ctx.document.greeting } });
    ctx.log.info('probe ran', { probeField: 'from the handler' });
    return {
      status: 'SUCCEEDED',
      details: {
        module: 'esm',
        job: ctx.job.jobId + ' ' + ctx.job.thingName + ' #' + ctx.job.executionNumber,
        exec: r.stdout.trim(),
        workDir: ctx.workDir + ' ' + (st.isDirectory() ? 'dir ' : 'not-dir ') + (st.mode & 0o777).toString(8),
        options: JSON.stringify(ctx.options),
        frozen: String(Object.isFrozen(ctx.options)),
        savedState: String(ctx.savedState),
        signal: String(ctx.signal instanceof AbortSignal && !ctx.signal.aborted),
        version: String(ctx.job.versionNumber),
      },
    };
  },
};
`,
  'waiter.js': `'use strict';
const fs = require('node:fs');
module.exports = {
  name: 'waiter',
  timeoutSeconds: 2,
  run(ctx) {
    return new Promise((resolve, reject) => {
      ctx.signal.addEventListener('abort', () => {
        fs.appendFileSync(ctx.options.logFile, JSON.stringify({ jobId: ctx.job.jobId, aborted: String(ctx.signal.reason && ctx.signal.reason.message) }) + '\\n');
        reject(ctx.signal.reason);
      }, { once: true });
    });
  },
};
`,
  'late-reject.js': `'use strict';
const { RejectError } = require(${JSON.stringify(INDEX)});
module.exports = {
  name: 'late-reject',
  async run() {
    throw new RejectError('only visible on the device: no such partition');
  },
};
`,
  'resumable.js': `'use strict';
module.exports = {
  name: 'resumable',
  restartPolicy: 'resume',
  async run(ctx) {
    await ctx.saveState({ phase: 'waiting', token: ctx.document.token });
    ctx.progress({ phase: 'waiting for a restart' });
    return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
  },
  async resume(ctx) {
    const ok = ctx.savedState && ctx.savedState.token === ctx.document.token;
    return { status: ok ? 'SUCCEEDED' : 'FAILED', details: { savedState: JSON.stringify(ctx.savedState) } };
  },
};
`,
};

const THING = 'handler-thing';
let stack: Stack;
let setup: AgentSetup;
let agent: AgentProcess;

async function installHandlers(s: AgentSetup): Promise<void> {
  const dir = path.join(path.dirname(s.configFile), 'handlers');
  for (const [file, text] of Object.entries(HANDLERS)) {
    await writeFile(path.join(dir, file), text, { mode: 0o644 });
    await chmod(path.join(dir, file), 0o644);
  }
  const handlers = s.config.handlers as { options: Record<string, unknown> };
  handlers.options['probe-mjs'] = { greeting: 'hello', level: 3 };
  handlers.options.waiter = { logFile: s.handlerLog };
  await writeFile(s.configFile, JSON.stringify(s.config, null, 2));
}

function startAgent(): AgentProcess {
  return new AgentProcess(['run', '--config', setup.configFile]);
}

beforeAll(async () => {
  stack = await startStack({ things: [THING] });
  setup = await agentConfig(stack, THING, 'handlers');
  await installHandlers(setup);
  agent = startAgent();
  await agent.waitForLog((l) => l.msg === 'connected to the broker');
}, 60_000);

afterAll(async () => {
  if (agent) {
    agent.kill('SIGKILL');
    await agent.exited;
  }
  await stack?.close();
});

async function run(jobId: string, document: object): Promise<{ status: string | undefined; details: Record<string, string> }> {
  await createJob(stack, jobId, THING, document);
  await agent.waitForLog((l) => l.msg === 'outcome reported' && l.jobId === jobId);
  return describeOutcome(stack, jobId, THING);
}

describe('handler modules through the agent process', () => {
  it('loads every test handler, the .mjs one included, with no load problem', async () => {
    const loaded = await agent.waitForLog((l) => l.msg === 'handlers loaded');
    expect(loaded.handlers).toEqual(expect.arrayContaining(['probe-mjs', 'waiter', 'late-reject', 'resumable']));
    expect(agent.count((l) => l.msg === 'handler not loaded')).toBe(0);
  });

  it('runs an ES module handler with every ctx field the contract promises', async () => {
    const r = await run('probe-1', { operation: 'probe-mjs', greeting: 'hi there' });
    expect(r.status).toBe('SUCCEEDED');
    const workDir = r.details.workDir?.split(' ')[0] ?? '';
    expect(r.details).toEqual({
      module: 'esm',
      job: `probe-1 ${THING} #1`,
      exec: 'root /root hi there',
      workDir: `${workDir} dir 700`,
      options: JSON.stringify({ greeting: 'hello', level: 3 }),
      frozen: 'true',
      savedState: 'undefined',
      signal: 'true',
      version: '2', // the execution's version after the agent's IN_PROGRESS update
    });
    expect(workDir.startsWith(path.join(setup.stateDir, 'work') + path.sep)).toBe(true);
    expect(existsSync(workDir)).toBe(false); // removed once the job ended
    // ctx.log(msg, fields): the fields reach the log line, beside the job's own.
    expect(agent.count((l) => l.msg === 'probe ran' && l.jobId === 'probe-1' && l.probeField === 'from the handler')).toBe(1);
  });

  it('a reason from validate (returned or thrown) is REJECTED while QUEUED; run never starts', async () => {
    await expect(run('probe-bad', { operation: 'probe-mjs', bad: 1 })).resolves.toEqual({ status: 'REJECTED', details: { reason: 'bad is not allowed' } });
    await expect(run('probe-throw', { operation: 'probe-mjs', explode: true })).resolves.toEqual({ status: 'REJECTED', details: { reason: 'validate blew up' } });
    await expect(run('no-handler', { operation: 'nobody-serves-this' })).resolves.toEqual({ status: 'REJECTED', details: { reason: 'no handler for operation "nobody-serves-this"' } });
    for (const j of ['probe-bad', 'probe-throw', 'no-handler']) expect(deviceTransitions(stack, j)).toEqual([{ from: 'QUEUED', to: 'REJECTED' }]);
    expect(agent.count((l) => l.msg === 'probe ran' && l.jobId !== 'probe-1')).toBe(0);
  });

  it("ends a run at the handler's timeoutSeconds, which a document may lower but never raise", async () => {
    await expect(run('wait-own', { operation: 'waiter' })).resolves.toEqual({ status: 'FAILED', details: { reason: 'timeout' } });
    await expect(run('wait-lower', { operation: 'waiter', timeoutSeconds: 1 })).resolves.toEqual({ status: 'FAILED', details: { reason: 'timeout' } });
    await expect(run('wait-raise', { operation: 'waiter', timeoutSeconds: 3600 })).resolves.toEqual({ status: 'FAILED', details: { reason: 'timeout' } });
    const aborted = readFileSync(setup.handlerLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, string>);
    expect(aborted).toEqual([
      { jobId: 'wait-own', aborted: 'no result within 2 s' },
      { jobId: 'wait-lower', aborted: 'no result within 1 s' },
      { jobId: 'wait-raise', aborted: 'no result within 2 s' },
    ]);
  });

  it('a RejectError thrown by run (after IN_PROGRESS) ends FAILED with its reason, and later outcomes still get through', async () => {
    await expect(run('late-1', { operation: 'late-reject' })).resolves.toEqual({ status: 'FAILED', details: { reason: 'only visible on the device: no such partition' } });
    expect(deviceTransitions(stack, 'late-1')).toEqual([
      { from: 'QUEUED', to: 'IN_PROGRESS' },
      { from: 'IN_PROGRESS', to: 'FAILED' },
    ]);
    await expect(run('after-late', { operation: 'waiter', timeoutSeconds: 1 })).resolves.toMatchObject({ status: 'FAILED' });
  });

  it('a resume handler gets what it saved when the agent comes back', async () => {
    await createJob(stack, 'resume-1', THING, { operation: 'resumable', token: 't-42' });
    await agent.waitForLog((l) => l.msg === 'job started' && l.jobId === 'resume-1');
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    expect(agent.count((l) => l.msg === 'job left for recovery at the next start' && l.jobId === 'resume-1')).toBe(1);
    agent = startAgent();
    await agent.waitForLog((l) => l.msg === 'outcome reported' && l.jobId === 'resume-1');
    await expect(describeOutcome(stack, 'resume-1', THING)).resolves.toEqual({
      status: 'SUCCEEDED',
      details: { savedState: JSON.stringify({ phase: 'waiting', token: 't-42' }) },
    });
  });
});
