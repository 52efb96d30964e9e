/**
 * A clock without RTC, for real: libfaketime moves the agent's wall clock (and only it; the
 * monotonic clock and the broker, the service and this test keep real time) as NTP would step it.
 * Started in 1970 the agent stays up, says the clock is the problem and connects once it is right;
 * jumps of a day either way during a job, during reconnect backoff and while an outcome waits in
 * the outbox fire nothing early, delay nothing and reorder nothing.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { AgentProcess, agentConfig, BIN, waitFor } from '../support/agent-proc';
import type { AgentSetup, LogLine } from '../support/agent-proc';
import { FakeClock, NotifySocket } from '../support/device-faults';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { createJob, deviceTransitions, handlerRuns, statusOf, terminalCount } from './helpers';

let stack: Stack;
const procs: AgentProcess[] = [];
const sockets: NotifySocket[] = [];

beforeAll(async () => {
  stack = await startStack({ things: ['clock-1970', 'clock-jumps'] });
});
afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
  for (const s of sockets) s.close();
  await stack.close();
});

function start(setup: AgentSetup, env: NodeJS.ProcessEnv): AgentProcess {
  const p = new AgentProcess(['run', '--config', setup.configFile], env);
  procs.push(p);
  return p;
}

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    ),
  );
}

const msg = (m: string, jobId?: string) => (l: LogLine) => l.msg === m && (jobId === undefined || l.jobId === jobId);
const connected = msg('connected to the broker');
const jumped = (l: LogLine) => typeof l.msg === 'string' && l.msg.startsWith('the wall clock jumped');

/** Step the agent's wall clock and wait until the agent has noticed. */
async function step(agent: AgentProcess, clock: FakeClock, spec: string): Promise<LogLine> {
  const from = agent.lines.length;
  await clock.set(spec);
  return agent.waitForLog((l) => jumped(l) && agent.lines.indexOf(l) >= from);
}

describe('a clock without RTC', () => {
  it('starts in 1970: stays up, names the clock with both times (log, STATUS, check-config warning), connects once the clock is right', async () => {
    const thing = 'clock-1970';
    const setup = await agentConfig(stack, thing, 'clock-1970');
    const clock = await FakeClock.create(join(stack.dir, 'clock-1970.time'), '@1970-01-02 00:00:00');
    const notify = await NotifySocket.listen(join(stack.dir, 'clock-1970.sock'));
    sockets.push(notify);

    const check = await cli(['check-config', '--config', setup.configFile], clock.env());
    expect(check.code).toBe(0);
    expect(check.out).toMatch(/warning: tls\.certificateFile: certificate is not valid before .* by device time 1970-01-02T.* \(is the clock right\?\)/);

    const agent = start(setup, { ...clock.env(), NOTIFY_SOCKET: notify.path });
    const why = await agent.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('cannot connect: clock:'));
    expect(String(why.deviceTime)).toMatch(/^1970-01-02T/);
    expect(new Date(String(why.certificateValidFrom)).getFullYear()).toBeGreaterThan(2000);
    expect(why.kind).toBe('certificate-time'); // Node refused the broker's certificate: "not yet valid"
    // A second failed attempt, and still running: the clock is a state, not a reason to exit.
    await agent.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('cannot connect: clock:') && l !== why);
    expect(agent.child.exitCode).toBeNull();
    await waitFor(() => notify.statuses().some((s) => s.startsWith('clock: device time 1970-01-02')), 'STATUS naming the clock');

    await step(agent, clock, '+0'); // NTP syncs
    await agent.waitForLog(connected);
    // STATUS travels through systemd-notify, a child process: wait for it rather than race it.
    await waitFor(() => notify.statuses().at(-1) === 'idle', 'STATUS=idle, the clock condition cleared');
    await createJob(stack, 'after-ntp', thing, { operation: 'record' });
    await agent.waitForLog(msg('outcome reported', 'after-ntp'));
    expect(statusOf(stack, 'after-ntp', thing)).toBe('SUCCEEDED');
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });

  it('jumps a day forward and back during a job, during reconnect backoff and while an outcome waits in the outbox', async () => {
    const thing = 'clock-jumps';
    const setup = await agentConfig(stack, thing, 'clock-jumps');
    const clock = await FakeClock.create(join(stack.dir, 'clock-jumps.time'), '+0');
    const agent = start(setup, clock.env());
    await agent.waitForLog(connected);

    // During a job: its 20 s limit must not fire on the forward jump, nor its end wait a day on the way back.
    await createJob(stack, 'during-job', thing, { operation: 'record', ms: 4000, progress: true, timeoutSeconds: 20 });
    await agent.waitForLog(msg('job started', 'during-job'));
    expect((await step(agent, clock, '+86400')).jumpMs).toBeGreaterThan(86_000_000);
    expect((await step(agent, clock, '+0')).jumpMs).toBeLessThan(-86_000_000);
    await agent.waitForLog(msg('outcome reported', 'during-job'));
    expect(statusOf(stack, 'during-job', thing)).toBe('SUCCEEDED');
    expect(handlerRuns(setup.handlerLog).some((r) => r.aborted === 'during-job')).toBe(false);

    // During reconnect backoff: the broker is gone; the clock jumps both ways; the broker returns.
    await stack.broker.stop();
    await agent.waitForLog(msg('disconnected from the broker; reconnecting'));
    await step(agent, clock, '-86400');
    await step(agent, clock, '+0');
    await stack.broker.restart();
    await agent.waitForLog((l) => connected(l) && agent.count(connected) >= 2, 90_000);

    // While an outcome waits in the outbox: the broker stalls, the job ends, the clock jumps.
    await createJob(stack, 'in-outbox', thing, { operation: 'record', ms: 1000 });
    await agent.waitForLog(msg('job started', 'in-outbox'));
    stack.broker.pause();
    await agent.waitForLog(msg('job finished', 'in-outbox'));
    await agent.waitForLog((l) => l.msg === 'status update not delivered; will retry' && l.jobId === 'in-outbox');
    await step(agent, clock, '-86400');
    await step(agent, clock, '+86400');
    stack.broker.resume();
    await agent.waitForLog(msg('outcome reported', 'in-outbox'), 90_000);
    expect(statusOf(stack, 'in-outbox', thing)).toBe('SUCCEEDED');
    for (const j of ['during-job', 'in-outbox']) {
      expect(terminalCount(stack, j, 'SUCCEEDED')).toBe(1);
      expect(deviceTransitions(stack, j).filter((t) => t.to === 'FAILED')).toEqual([]);
      expect(handlerRuns(setup.handlerLog).filter((r) => r.jobId === j)).toHaveLength(1);
    }
    await clock.set('+0');
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);

    // The journal keeps its own order whatever the wall clock said: most recent first, no negative durations.
    const view = await cli(['status', '--config', setup.configFile], {});
    expect(view.code).toBe(0);
    expect(view.out.indexOf('in-outbox#1')).toBeLessThan(view.out.indexOf('during-job#1'));
    expect(view.out).not.toMatch(/in -\d/);
  });
});
