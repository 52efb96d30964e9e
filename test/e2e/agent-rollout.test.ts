/**
 * The agent as a real process against the sim's scheduling, rollout and abort, through mosquitto
 * over mTLS. Time is moved with the control plane's `POST /sim/clock`, never waited for: a
 * scheduled job reaches no device until its start, a paced rollout reaches the next device in the
 * next minute, and an abort cancels a queued execution that the device then never runs.
 */
import { CancelJobCommand, CreateJobCommand } from '@aws-sdk/client-iot';
import type { CreateJobCommandInput } from '@aws-sdk/client-iot';
import { AgentProcess, agentConfig, waitFor } from '../support/agent-proc';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { createJob, handlerRuns } from './helpers';

let stack: Stack;
const procs: AgentProcess[] = [];
const THING_ARN = (t: string): string => `arn:aws:iot:us-east-1:123456789012:thing/${t}`;
const MIN = 60_000;

beforeAll(async () => {
  stack = await startStack({ things: ['sched-thing', 'roll-a', 'roll-b', 'abort-a', 'abort-b'] });
});
afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
  await stack.close();
});

async function startAgent(thing: string): Promise<{ agent: AgentProcess; handlerLog: string }> {
  const setup = await agentConfig(stack, thing, thing);
  const agent = new AgentProcess(['run', '--config', setup.configFile]);
  procs.push(agent);
  await agent.waitForLog((l) => l.msg === 'connected to the broker');
  return { agent, handlerLog: setup.handlerLog };
}

/** The sim's clock through its control plane, as a user's test would move it. */
async function simClock(body?: Record<string, unknown>): Promise<number> {
  const res = await fetch(`${stack.sim.endpoints.controlPlane}/sim/clock`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`sim clock: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { epochMs: number }).epochMs;
}

const reported = (jobId: string) => (l: Record<string, unknown>) => l.msg === 'outcome reported' && l.jobId === jobId;
const gone = (jobId: string) => (l: Record<string, unknown>) => l.msg === 'job ended in the cloud; nothing to report' && l.jobId === jobId;

function execStatus(jobId: string, thing: string): string | undefined {
  const r = stack.sim.runtime.service.describeJobExecutionControl(jobId, thing);
  return r.ok ? String(r.value.execution.status) : undefined;
}

function jobStatus(jobId: string): string | undefined {
  const r = stack.sim.runtime.service.describeJob(jobId);
  return r.ok ? String(r.value.job.status) : undefined;
}

function create(jobId: string, things: string[], document: object, extra: Partial<CreateJobCommandInput> = {}): Promise<unknown> {
  return stack.iot.send(new CreateJobCommand({ jobId, targets: things.map(THING_ARN), document: JSON.stringify(document), ...extra }));
}

describe('agent and rollout, scheduling, abort', () => {
  it('a scheduled job reaches the device only at its start time', async () => {
    const thing = 'sched-thing';
    const { agent, handlerLog } = await startAgent(thing);
    const now = await simClock();
    await create('sched-1', [thing], { operation: 'record' }, { schedulingConfig: { startTime: new Date(now + 31 * MIN).toISOString().slice(0, 16) } });
    // A job created after it, for now: once it has run, the agent has fetched and seen no scheduled one.
    await createJob(stack, 'now-1', thing, { operation: 'record' });
    await agent.waitForLog(reported('now-1'));
    expect(jobStatus('sched-1')).toBe('SCHEDULED');
    expect(execStatus('sched-1', thing)).toBeUndefined();
    await simClock({ advanceMs: 31 * MIN });
    await agent.waitForLog(reported('sched-1'));
    expect(execStatus('sched-1', thing)).toBe('SUCCEEDED');
    expect(handlerRuns(handlerLog).map((r) => r.jobId)).toEqual(['now-1', 'sched-1']);
  });

  it('maximumPerMinute: the second device gets the job in the next rollout minute', async () => {
    const a = await startAgent('roll-a');
    const b = await startAgent('roll-b');
    await create('roll-1', ['roll-a', 'roll-b'], { operation: 'record' }, { jobExecutionsRolloutConfig: { maximumPerMinute: 1 } });
    await a.agent.waitForLog(reported('roll-1'));
    // roll-b is a target without an execution: nothing to notify it of yet.
    await createJob(stack, 'roll-marker', 'roll-b', { operation: 'record' });
    await b.agent.waitForLog(reported('roll-marker'));
    expect(execStatus('roll-1', 'roll-b')).toBeUndefined();
    await simClock({ advanceMs: MIN });
    await b.agent.waitForLog(reported('roll-1'));
    expect(handlerRuns(b.handlerLog).map((r) => r.jobId)).toEqual(['roll-marker', 'roll-1']);
    expect(jobStatus('roll-1')).toBe('COMPLETED');
  });

  it('an abort cancels a queued execution, which the device then never runs', async () => {
    const a = await startAgent('abort-a');
    const b = await startAgent('abort-b');
    // abort-b is busy, so the job waits in its queue behind the blocker.
    await createJob(stack, 'blocker', 'abort-b', { operation: 'record', ms: 600_000 });
    await waitFor(() => handlerRuns(b.handlerLog).some((r) => r.jobId === 'blocker'), 'blocker to start on abort-b');
    await create('abort-1', ['abort-a', 'abort-b'], { operation: 'record', fail: true }, {
      abortConfig: { criteriaList: [{ failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 50, minNumberOfExecutedThings: 1 }] },
    });
    await a.agent.waitForLog(reported('abort-1'));
    await waitFor(() => execStatus('abort-1', 'abort-b') === 'CANCELED', 'abort-1 on abort-b to be canceled by the abort');
    expect(jobStatus('abort-1')).toBe('CANCELED');
    await stack.iot.send(new CancelJobCommand({ jobId: 'blocker', force: true }));
    await b.agent.waitForLog(gone('blocker'));
    await createJob(stack, 'after-abort', 'abort-b', { operation: 'record' });
    await b.agent.waitForLog(reported('after-abort'));
    expect(handlerRuns(b.handlerLog).map((r) => r.jobId).filter(Boolean)).toEqual(['blocker', 'after-abort']);
    expect(execStatus('abort-1', 'abort-a')).toBe('FAILED');
  });
});
