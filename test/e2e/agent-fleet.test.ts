/**
 * The agent as a real process against fleet behaviour of the sim, through mosquitto over mTLS:
 * a retried job runs again as its next executionNumber; a running handler is aborted when its
 * execution becomes REMOVED (its thing left the target group), is deleted, or its job is deleted;
 * a queued execution that vanishes is never run.
 */
import {
  AddThingToThingGroupCommand,
  CreateJobCommand,
  CreateThingGroupCommand,
  DeleteJobCommand,
  DeleteJobExecutionCommand,
  RemoveThingFromThingGroupCommand,
} from '@aws-sdk/client-iot';
import { AgentProcess, agentConfig, waitFor } from '../support/agent-proc';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { createJob, deviceTransitions, handlerRuns } from './helpers';

let stack: Stack;
const procs: AgentProcess[] = [];
const THING_ARN = (t: string): string => `arn:aws:iot:us-east-1:123456789012:thing/${t}`;
const GROUP_ARN = (g: string): string => `arn:aws:iot:us-east-1:123456789012:thinggroup/${g}`;

beforeAll(async () => {
  stack = await startStack({ things: ['retry-thing', 'group-thing', 'delete-thing'] });
});
afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
  await stack.close();
});

async function startAgent(thing: string, name: string): Promise<{ agent: AgentProcess; handlerLog: string }> {
  const setup = await agentConfig(stack, thing, name);
  const agent = new AgentProcess(['run', '--config', setup.configFile]);
  procs.push(agent);
  await agent.waitForLog((l) => l.msg === 'connected to the broker');
  return { agent, handlerLog: setup.handlerLog };
}

const reported = (jobId: string, executionNumber: number) => (l: Record<string, unknown>) =>
  l.msg === 'outcome reported' && l.jobId === jobId && l.executionNumber === executionNumber;
const gone = (jobId: string) => (l: Record<string, unknown>) => l.msg === 'job ended in the cloud; nothing to report' && l.jobId === jobId;

function execStatus(jobId: string, thing: string, executionNumber?: number): string | undefined {
  const r = stack.sim.runtime.service.describeJobExecutionControl(jobId, thing, executionNumber);
  return r.ok ? String(r.value.execution.status) : undefined;
}

describe('agent and fleets', () => {
  it('runs a retried job again as execution 2: FAILED once, then SUCCEEDED', async () => {
    const thing = 'retry-thing';
    const { agent, handlerLog } = await startAgent(thing, 'retry');
    await stack.iot.send(
      new CreateJobCommand({
        jobId: 'retry-1',
        targets: [THING_ARN(thing)],
        document: JSON.stringify({ operation: 'record', failUntil: 2 }),
        jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 3 }] },
      }),
    );
    await agent.waitForLog(reported('retry-1', 1));
    await agent.waitForLog(reported('retry-1', 2));
    expect(handlerRuns(handlerLog).map((r) => [r.jobId, r.executionNumber])).toEqual([
      ['retry-1', 1],
      ['retry-1', 2],
    ]);
    expect(execStatus('retry-1', thing, 1)).toBe('FAILED');
    expect(execStatus('retry-1', thing, 2)).toBe('SUCCEEDED');
    expect(execStatus('retry-1', thing)).toBe('SUCCEEDED');
    // Two executions, each moved once to IN_PROGRESS and once to its outcome by the device.
    expect(deviceTransitions(stack, 'retry-1')).toEqual([
      { from: 'QUEUED', to: 'IN_PROGRESS' },
      { from: 'IN_PROGRESS', to: 'FAILED' },
      { from: 'QUEUED', to: 'IN_PROGRESS' },
      { from: 'IN_PROGRESS', to: 'SUCCEEDED' },
    ]);
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });

  it('aborts a running job whose thing left the target group (REMOVED); a removed queued one never runs', async () => {
    const thing = 'group-thing';
    for (const g of ['long-group', 'queued-group']) await stack.iot.send(new CreateThingGroupCommand({ thingGroupName: g }));
    for (const g of ['long-group', 'queued-group']) await stack.iot.send(new AddThingToThingGroupCommand({ thingGroupName: g, thingName: thing }));
    const { agent, handlerLog } = await startAgent(thing, 'group');
    const continuous = (jobId: string, group: string, doc: object) =>
      stack.iot.send(new CreateJobCommand({ jobId, targets: [GROUP_ARN(group)], document: JSON.stringify(doc), targetSelection: 'CONTINUOUS' }));
    await continuous('grp-long', 'long-group', { operation: 'record', ms: 60_000 });
    await waitFor(() => handlerRuns(handlerLog).some((r) => r.jobId === 'grp-long'), 'grp-long to start');
    await continuous('grp-queued', 'queued-group', { operation: 'record' });
    await stack.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: 'queued-group', thingName: thing }));
    expect(execStatus('grp-queued', thing)).toBe('REMOVED');
    // It was queued behind the running job; once REMOVED, the agent drops it without running it.
    await agent.waitForLog((l) => l.msg === 'queued job left the pending set before it started' && l.jobId === 'grp-queued');
    await stack.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: 'long-group', thingName: thing }));
    expect(execStatus('grp-long', thing)).toBe('REMOVED');
    await agent.waitForLog(gone('grp-long'));
    expect(handlerRuns(handlerLog).some((r) => r.aborted === 'grp-long')).toBe(true);
    await createJob(stack, 'grp-after', thing, { operation: 'record' });
    await agent.waitForLog(reported('grp-after', 1));
    expect(handlerRuns(handlerLog).map((r) => r.jobId).filter(Boolean)).toEqual(['grp-long', 'grp-after']);
    expect(deviceTransitions(stack, 'grp-long').every((t) => t.to === 'IN_PROGRESS')).toBe(true);
    expect(deviceTransitions(stack, 'grp-queued')).toEqual([]);
  });

  it('aborts a running job whose execution, then whose job, was deleted', async () => {
    const thing = 'delete-thing';
    const { agent, handlerLog } = await startAgent(thing, 'delete');
    await createJob(stack, 'del-exec', thing, { operation: 'record', ms: 60_000 });
    await waitFor(() => handlerRuns(handlerLog).some((r) => r.jobId === 'del-exec'), 'del-exec to start');
    await stack.iot.send(new DeleteJobExecutionCommand({ jobId: 'del-exec', thingName: thing, executionNumber: 1, force: true }));
    await agent.waitForLog(gone('del-exec'));
    await createJob(stack, 'del-job', thing, { operation: 'record', ms: 60_000 });
    await waitFor(() => handlerRuns(handlerLog).some((r) => r.jobId === 'del-job'), 'del-job to start');
    await stack.iot.send(new DeleteJobCommand({ jobId: 'del-job', force: true }));
    await agent.waitForLog(gone('del-job'));
    const aborted = handlerRuns(handlerLog).filter((r) => r.aborted).map((r) => r.aborted);
    expect(aborted).toEqual(['del-exec', 'del-job']);
    await createJob(stack, 'del-after', thing, { operation: 'record' });
    await agent.waitForLog(reported('del-after', 1));
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });
});

describe('agent and fleets, with the other reading of a leave (inProgressOnLeave=keep)', () => {
  let keep: Stack;
  beforeAll(async () => {
    keep = await startStack({ things: ['keep-thing'], sim: { options: { inProgressOnLeave: 'keep' } } });
  });
  afterAll(() => keep.close());

  it('a running job whose thing leaves the group runs on and its outcome is accepted', async () => {
    const thing = 'keep-thing';
    await keep.iot.send(new CreateThingGroupCommand({ thingGroupName: 'keep-group' }));
    await keep.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'keep-group', thingName: thing }));
    const setup = await agentConfig(keep, thing, 'keep');
    const agent = new AgentProcess(['run', '--config', setup.configFile]);
    procs.push(agent);
    await agent.waitForLog((l) => l.msg === 'connected to the broker');
    await keep.iot.send(
      new CreateJobCommand({ jobId: 'keep-1', targets: [GROUP_ARN('keep-group')], document: JSON.stringify({ operation: 'record', ms: 4000 }), targetSelection: 'CONTINUOUS' }),
    );
    await waitFor(() => handlerRuns(setup.handlerLog).some((r) => r.jobId === 'keep-1'), 'keep-1 to start');
    await keep.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: 'keep-group', thingName: thing }));
    // The leave happened while it ran, and left it running.
    const during = keep.sim.runtime.service.describeJobExecutionControl('keep-1', thing);
    expect(during.ok && during.value.execution.status).toBe('IN_PROGRESS');
    await agent.waitForLog(reported('keep-1', 1));
    const r = keep.sim.runtime.service.describeJobExecutionControl('keep-1', thing);
    expect(r.ok && r.value.execution.status).toBe('SUCCEEDED');
    expect(handlerRuns(setup.handlerLog).some((x) => x.aborted === 'keep-1')).toBe(false);
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });
});
