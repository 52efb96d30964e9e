/**
 * A batch of generated job documents (both schemas) through the real agent process against the sim:
 * every one ends SUCCEEDED, FAILED or REJECTED — FAILED and REJECTED with a reason — and the agent
 * keeps running. Generated steps only ever name harmless commands: this runs real processes.
 */
import fc from 'fast-check';
import { AgentProcess, agentConfig, waitFor } from '../support/agent-proc';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { createJob } from '../e2e/helpers';

const THING = 'fuzz-doc-thing';
let stack: Stack;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  stack = await startStack({ things: [THING] });
});
afterAll(async () => {
  if (agent) {
    agent.kill('SIGKILL');
    await agent.exited;
  }
  await stack.close();
});

const junk = fc.oneof(fc.string({ maxLength: 12 }), fc.integer({ min: -5, max: 50 }), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 2 }), fc.object({ maxDepth: 1 }));
const safeCommand = fc.oneof(fc.constantFrom('/bin/true', '/bin/false', 'echo,hi', 'echo,a\\,b', 'no-such-binary-4711', '', ',,', '/usr/bin/id'), junk);
const handlerName = fc.oneof(fc.constantFrom('../record.js', '/bin/sh', 'a\u0000b', 'missing.sh', 'health-check.sh', '..', ''), junk);
const step = fc.record(
  {
    action: fc.record(
      {
        name: fc.oneof(fc.string({ maxLength: 8 }), junk),
        type: fc.oneof(fc.constantFrom('runCommand', 'runHandler', 'other'), junk),
        input: fc.oneof(fc.record({ command: safeCommand, handler: handlerName, args: fc.oneof(fc.array(fc.string({ maxLength: 6 }), { maxLength: 2 }), junk), path: fc.oneof(fc.constantFrom('', 'default', '/etc'), junk) }, { requiredKeys: [] }), junk),
        runAsUser: fc.oneof(fc.constantFrom('nobody', 'no-such-user-4711', ''), junk),
        ignoreStepFailure: fc.oneof(fc.boolean(), junk),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);
const stepsDoc = fc.record({ version: fc.oneof(fc.constant('1.0'), junk), steps: fc.oneof(fc.array(step, { minLength: 1, maxLength: 3 }), junk), finalStep: fc.oneof(step, junk), includeStdOut: fc.oneof(fc.boolean(), junk) }, { requiredKeys: ['steps'] });
const operationDoc = fc.record(
  { operation: fc.oneof(fc.constantFrom('record', 'again', 'no-such-op', '', 'x.sh', '../../x'), junk), ms: fc.oneof(fc.integer({ min: 0, max: 50 }), junk), fail: fc.oneof(fc.boolean(), junk), progress: fc.oneof(fc.boolean(), junk), timeoutSeconds: fc.oneof(fc.integer({ min: 1, max: 30 }), junk) },
  { requiredKeys: ['operation'] },
);
/** Near-valid documents, so part of the batch really runs and ends SUCCEEDED or FAILED. */
const runnable = fc.oneof(
  fc.record({ operation: fc.constantFrom('record', 'again'), ms: fc.integer({ min: 0, max: 50 }), fail: fc.boolean() }),
  fc.record({ version: fc.constant('1.0'), steps: fc.array(fc.record({ action: fc.record({ name: fc.constantFrom('a', 'b'), type: fc.constant('runCommand'), input: fc.record({ command: fc.constantFrom('/bin/true', '/bin/false', 'echo,hi', 'no-such-binary-4711') }) }), ignoreStepFailure: fc.boolean() }), { minLength: 1, maxLength: 3 }) }),
);
const anyDoc = fc.oneof(
  { arbitrary: runnable, weight: 2 },
  { arbitrary: stepsDoc, weight: 1 },
  { arbitrary: operationDoc, weight: 1 },
  { arbitrary: fc.jsonValue({ maxDepth: 2 }).filter((v) => typeof v === 'object' && v !== null), weight: 1 },
);

function final(jobId: string): { status: string; reason?: string } | undefined {
  const h = stack.sim.runtime.service.history().filter((e) => e.jobId === jobId);
  const last = h[h.length - 1];
  return last && ['SUCCEEDED', 'FAILED', 'REJECTED', 'CANCELED', 'TIMED_OUT', 'REMOVED'].includes(last.to) ? { status: last.to, reason: last.statusDetails?.['reason'] } : undefined;
}

describe('fuzz: generated job documents through the real agent', () => {
  it('each ends SUCCEEDED, FAILED or REJECTED with a reason; the agent keeps running', async () => {
    const setup = await agentConfig(stack, THING, 'docs');
    agent = new AgentProcess(['run', '--config', setup.configFile]);
    await agent.waitForLog((l) => l.msg === 'connected to the broker');
    const docs = fc.sample(anyDoc, { numRuns: 60, seed: Number(process.env['FUZZ_SEED'] ?? 1234) });
    const ids = docs.map((_, i) => `fz-${i}`);
    for (const [i, doc] of docs.entries()) await createJob(stack, ids[i]!, THING, doc as object);
    await waitFor(() => ids.every((j) => final(j) !== undefined), 'every generated job to end', 45_000);
    const outcomes = ids.map((j, i) => ({ doc: docs[i], ...final(j)! }));
    for (const o of outcomes) {
      expect(['SUCCEEDED', 'FAILED', 'REJECTED']).toContain(o.status);
      if (o.status !== 'SUCCEEDED') expect({ doc: o.doc, reason: typeof o.reason === 'string' && o.reason.length > 0 }).toEqual({ doc: o.doc, reason: true });
    }
    // The sample is varied enough to mean something: some run, some are refused.
    expect(outcomes.some((o) => o.status === 'REJECTED')).toBe(true);
    expect(outcomes.some((o) => o.status === 'SUCCEEDED')).toBe(true);
    expect(outcomes.some((o) => o.status === 'FAILED')).toBe(true);
    expect(agent.child.exitCode).toBeNull();
  }, 60_000);
});
