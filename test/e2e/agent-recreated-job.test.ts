/**
 * A job deleted and created again under the same id, on the real agent (docs/ARCHITECTURE.md §3
 * "Recreated jobs"). AWS lets an operator reuse a jobId once the old job's deletion is complete; the
 * new job's execution is executionNumber 1 again. The agent must run the new one exactly once and
 * the old one never twice — with the agent alive throughout, killed (-9) after the old outcome, and
 * killed in the middle of the old job, the deletion and re-creation happening while it is down.
 * Runs are counted in the handler's own log; outcomes in the service's record.
 */
import { CreateJobCommand, DeleteJobCommand, DescribeJobExecutionCommand } from '@aws-sdk/client-iot';
import { AgentProcess, agentConfig, waitFor } from '../support/agent-proc';
import type { AgentSetup } from '../support/agent-proc';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { deviceTransitions, handlerRuns, statusOf } from './helpers';

let stack: Stack;
const procs: AgentProcess[] = [];
/** Job ids are per account: each thing's test has its own. */
const jobOf = (thing: string): string => `reused-${thing}`;

beforeAll(async () => {
  stack = await startStack({ things: ['alive', 'down-after', 'down-during'] });
});
afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
  await stack.close();
});

function start(setup: AgentSetup): AgentProcess {
  const p = new AgentProcess(['run', '--config', setup.configFile]);
  procs.push(p);
  return p;
}

const reported = (thing: string) => (l: Record<string, unknown>): boolean => l.msg === 'outcome reported' && l.jobId === jobOf(thing);
const runsOf = (setup: AgentSetup, thing: string): Record<string, unknown>[] => handlerRuns(setup.handlerLog).filter((r) => r.jobId === jobOf(thing));

async function create(thing: string, document: object): Promise<void> {
  await stack.iot.send(new CreateJobCommand({ jobId: jobOf(thing), targets: [`arn:aws:iot:us-east-1:123456789012:thing/${thing}`], document: JSON.stringify(document) }));
}

/** As an operator does it: DeleteJob --force, then wait until DescribeJobExecution says the execution is gone. */
async function deleteAndWaitGone(thing: string): Promise<void> {
  await stack.iot.send(new DeleteJobCommand({ jobId: jobOf(thing), force: true }));
  const gone = await stack.iot.send(new DescribeJobExecutionCommand({ jobId: jobOf(thing), thingName: thing })).then(
    () => false,
    (err: { name?: string }) => err.name === 'ResourceNotFoundException',
  );
  expect(gone).toBe(true);
}

/** A further job, run to its end: every listing it causes has been seen by then. */
async function probe(agent: AgentProcess, thing: string): Promise<void> {
  const jobId = `probe-${thing}`;
  await stack.iot.send(new CreateJobCommand({ jobId, targets: [`arn:aws:iot:us-east-1:123456789012:thing/${thing}`], document: JSON.stringify({ operation: 'record', ms: 0 }) }));
  await agent.waitForLog((l) => l.msg === 'outcome reported' && l.jobId === jobId);
}

/** Executions the agent reported, in the service's record, per status (history spans both jobs of this id). */
const transitions = (thing: string): string[] => deviceTransitions(stack, jobOf(thing)).map((t) => `${t.from}>${t.to}`);

describe('a job deleted and recreated under the same id', () => {
  it('agent alive throughout: the new job runs once, the old one is not run again', async () => {
    const setup = await agentConfig(stack, 'alive', 'alive');
    const agent = start(setup);
    await agent.waitForLog((l) => l.msg === 'connected to the broker');
    await create('alive', { operation: 'record', ms: 0, generation: 1 });
    await agent.waitForLog(reported('alive'));
    expect(statusOf(stack, jobOf('alive'), 'alive')).toBe('SUCCEEDED');
    await deleteAndWaitGone('alive');
    await create('alive', { operation: 'record', ms: 0, generation: 2 });
    await waitFor(() => agent.count(reported('alive')) === 2, 'the recreated job to be reported');
    expect(statusOf(stack, jobOf('alive'), 'alive')).toBe('SUCCEEDED');
    expect(runsOf(setup, 'alive').map((r) => r.executionNumber)).toEqual([1, 1]);
    expect(transitions('alive')).toEqual(['QUEUED>IN_PROGRESS', 'IN_PROGRESS>SUCCEEDED', 'QUEUED>IN_PROGRESS', 'IN_PROGRESS>SUCCEEDED']);
    // Nothing more: a later job (its notify carries the pending list) runs, and neither of these again.
    await probe(agent, 'alive');
    expect(runsOf(setup, 'alive')).toHaveLength(2);
    agent.kill('SIGTERM');
    await agent.exited;
  });

  it('kill -9 after the old outcome, deleted and recreated while down: the new job runs once after the restart', async () => {
    const setup = await agentConfig(stack, 'down-after', 'down-after');
    const first = start(setup);
    await first.waitForLog((l) => l.msg === 'connected to the broker');
    await create('down-after', { operation: 'record', ms: 0 });
    await first.waitForLog(reported('down-after'));
    first.kill('SIGKILL');
    await first.exited;
    await deleteAndWaitGone('down-after');
    await create('down-after', { operation: 'record', ms: 0 });
    const second = start(setup);
    await second.waitForLog(reported('down-after'));
    expect(statusOf(stack, jobOf('down-after'), 'down-after')).toBe('SUCCEEDED');
    expect(runsOf(setup, 'down-after')).toHaveLength(2);
    // A restart with the new outcome journaled runs nothing again.
    second.kill('SIGKILL');
    await second.exited;
    const third = start(setup);
    await third.waitForLog((l) => l.msg === 'connected to the broker');
    await probe(third, 'down-after');
    expect(runsOf(setup, 'down-after')).toHaveLength(2);
    third.kill('SIGTERM');
    await third.exited;
  });

  it('kill -9 in the middle of the old job, deleted and recreated while down: the old "interrupted" never lands on the new job, which runs once', async () => {
    const setup = await agentConfig(stack, 'down-during', 'down-during');
    const first = start(setup);
    await first.waitForLog((l) => l.msg === 'connected to the broker');
    await create('down-during', { operation: 'record', ms: 60_000 });
    await waitFor(() => runsOf(setup, 'down-during').length === 1, 'the old job to start');
    first.kill('SIGKILL');
    await first.exited;
    await deleteAndWaitGone('down-during');
    await create('down-during', { operation: 'record', ms: 0 });
    const second = start(setup);
    await second.waitForLog((l) => l.msg === 'job finished' && l.jobId === jobOf('down-during') && l.status === 'SUCCEEDED');
    await waitFor(() => statusOf(stack, jobOf('down-during'), 'down-during') === 'SUCCEEDED', 'the new job to succeed');
    expect(runsOf(setup, 'down-during')).toHaveLength(2);
    // The old execution was only ever IN_PROGRESS; the new one went QUEUED → IN_PROGRESS → SUCCEEDED,
    // never QUEUED → FAILED by the old job's "interrupted".
    expect(transitions('down-during')).toEqual(['QUEUED>IN_PROGRESS', 'QUEUED>IN_PROGRESS', 'IN_PROGRESS>SUCCEEDED']);
    second.kill('SIGTERM');
    await second.exited;
  });
});
