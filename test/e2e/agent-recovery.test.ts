/**
 * Recovery of the real agent process: kill -9 during a job and after its outcome, a broker restart
 * mid-job, SIGTERM draining, and what `status` shows. Outcomes are checked against the service's
 * own record (exactly one terminal update per execution) and the handler's own log (runs).
 */
import { execFile } from 'node:child_process';
import { AgentProcess, agentConfig, BIN, waitFor } from '../support/agent-proc';
import type { AgentSetup } from '../support/agent-proc';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { createJob, handlerRuns, statusOf, terminalCount } from './helpers';

let stack: Stack;
const procs: AgentProcess[] = [];

beforeAll(async () => {
  stack = await startStack({ things: ['kill-during', 'kill-after', 'broker-restart', 'drain-thing'] });
});
afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
  await stack.close();
});

function start(setup: AgentSetup, env: NodeJS.ProcessEnv = {}): AgentProcess {
  const p = new AgentProcess(['run', '--config', setup.configFile], env);
  procs.push(p);
  return p;
}

const reported = (jobId: string) => (l: Record<string, unknown>) => l.msg === 'outcome reported' && l.jobId === jobId;
const started = (jobId: string) => (l: Record<string, unknown>) => l.msg === 'job started' && l.jobId === jobId;

function detailsOf(thing: string, jobId: string): Record<string, unknown> {
  const r = stack.sim.runtime.service.describeJobExecutionControl(jobId, thing);
  if (!r.ok) throw new Error(r.error.message);
  return (r.value.execution.statusDetails as { detailsMap?: Record<string, unknown> } | undefined)?.detailsMap ?? {};
}

describe('agent recovery', () => {
  it('kill -9 during a job: a fail-policy job is reported FAILED "interrupted" once and never rerun; a rerun-policy job runs again', async () => {
    const thing = 'kill-during';
    const setup = await agentConfig(stack, thing, 'kill-during');
    const first = start(setup);
    await createJob(stack, 'once-only', thing, { operation: 'record', ms: 60_000 });
    await waitFor(() => handlerRuns(setup.handlerLog).some((r) => r.jobId === 'once-only'), 'once-only to start');
    first.kill('SIGKILL');
    await first.exited;
    const second = start(setup);
    await second.waitForLog(reported('once-only'));
    expect(statusOf(stack, 'once-only', thing)).toBe('FAILED');
    expect(detailsOf(thing, 'once-only')).toMatchObject({ reason: 'interrupted' });
    expect(terminalCount(stack, 'once-only', 'FAILED')).toBe(1);
    expect(handlerRuns(setup.handlerLog).filter((r) => r.jobId === 'once-only')).toHaveLength(1);

    await createJob(stack, 'idempotent', thing, { operation: 'again', ms: 60_000 });
    await waitFor(() => handlerRuns(setup.handlerLog).some((r) => r.again === 'idempotent'), 'idempotent to start');
    second.kill('SIGKILL');
    await second.exited;
    const third = start(setup);
    await waitFor(() => handlerRuns(setup.handlerLog).filter((r) => r.again === 'idempotent').length === 2, 'idempotent to run again');
    // The handler's file and the agent's log are two channels: wait for the log line too.
    await third.waitForLog(started('idempotent'));
    expect(third.count(started('idempotent'))).toBe(1);
    third.kill('SIGTERM');
    await third.exited;
  });

  it('kill -9 after the outcome and before the update: the outcome is sent once after restart', async () => {
    const thing = 'kill-after';
    const setup = await agentConfig(stack, thing, 'kill-after');
    const first = start(setup);
    await first.waitForLog((l) => l.msg === 'connected to the broker');
    await createJob(stack, 'journaled', thing, { operation: 'record', ms: 1500 });
    await first.waitForLog(started('journaled'));
    stack.broker.pause(); // the terminal update cannot get out
    await first.waitForLog((l) => l.msg === 'job finished' && l.jobId === 'journaled');
    first.kill('SIGKILL');
    await first.exited;
    stack.broker.resume();
    expect(statusOf(stack, 'journaled', thing)).toBe('IN_PROGRESS');
    const second = start(setup);
    await second.waitForLog(reported('journaled'));
    expect(statusOf(stack, 'journaled', thing)).toBe('SUCCEEDED');
    expect(terminalCount(stack, 'journaled', 'SUCCEEDED')).toBe(1);
    expect(handlerRuns(setup.handlerLog).filter((r) => r.jobId === 'journaled')).toHaveLength(1);
    expect(second.count((l) => l.msg === 'job started')).toBe(0);
    second.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });

  it('a broker restart mid-job: the job finishes and its outcome is delivered once the broker is back', async () => {
    const thing = 'broker-restart';
    const setup = await agentConfig(stack, thing, 'broker-restart');
    const agent = start(setup);
    await agent.waitForLog((l) => l.msg === 'connected to the broker');
    await createJob(stack, 'through-restart', thing, { operation: 'record', ms: 1500 });
    await agent.waitForLog(started('through-restart'));
    await stack.broker.restart();
    await agent.waitForLog(reported('through-restart'));
    expect(statusOf(stack, 'through-restart', thing)).toBe('SUCCEEDED');
    expect(terminalCount(stack, 'through-restart', 'SUCCEEDED')).toBe(1);
    // And it keeps working after the reconnect.
    await createJob(stack, 'after-restart', thing, { operation: 'record' });
    await agent.waitForLog(reported('after-restart'));
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });

  it('SIGTERM drains: a short job finishes within the grace period, a long one is reported FAILED "interrupted"; exit 0', async () => {
    const thing = 'drain-thing';
    const setup = await agentConfig(stack, thing, 'drain');
    const a = start(setup);
    await createJob(stack, 'short', thing, { operation: 'record', ms: 800 });
    await a.waitForLog(started('short'));
    a.kill('SIGTERM');
    expect((await a.exited).code).toBe(0);
    expect(statusOf(stack, 'short', thing)).toBe('SUCCEEDED');

    const b = start(setup);
    await createJob(stack, 'long', thing, { operation: 'record', ms: 60_000 });
    await b.waitForLog(started('long'));
    b.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
    expect(statusOf(stack, 'long', thing)).toBe('FAILED');
    expect(detailsOf(thing, 'long')).toMatchObject({ reason: 'interrupted' });

    // A second signal exits at once; the journal still holds the started job, so the next start reports it.
    const c = start(setup);
    await createJob(stack, 'impatient', thing, { operation: 'record', ms: 60_000 });
    await c.waitForLog(started('impatient'));
    c.kill('SIGTERM');
    await c.waitForLog((l) => l.msg === 'stop signal received: draining');
    c.kill('SIGTERM');
    expect((await c.exited).code).not.toBe(0);
    const d = start(setup);
    await d.waitForLog(reported('impatient'));
    expect(statusOf(stack, 'impatient', thing)).toBe('FAILED');
    expect(detailsOf(thing, 'impatient')).toMatchObject({ reason: 'interrupted' });
    expect(handlerRuns(setup.handlerLog).filter((r) => r.jobId === 'impatient')).toHaveLength(1);
    d.kill('SIGTERM');
    expect((await d.exited).code).toBe(0);

    const status = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [BIN, 'status', '--config', setup.configFile], (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    expect(status).toMatch(/outbox: 0 update\(s\) waiting/);
    expect(status).toMatch(/long#1\s+FAILED \(interrupted\)/);
    expect(status).toMatch(/short#1\s+SUCCEEDED/);
  });
});
