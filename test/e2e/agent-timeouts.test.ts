/**
 * Time limits and systemd: the service's step timer (run 120× faster so a minute passes in half a
 * second) ends a job whose handler overruns it; the handler's own time limit fails it with reason
 * "timeout"; and the agent speaks sd_notify (READY, STATUS, STOPPING) to a socket the test owns.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { AgentProcess, agentConfig, waitFor } from '../support/agent-proc';
import type { AgentSetup } from '../support/agent-proc';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { createJob, deviceTransitions, handlerRuns, statusOf } from './helpers';

let stack: Stack;
const procs: AgentProcess[] = [];
let listener: ChildProcess | undefined;

beforeAll(async () => {
  stack = await startStack({ things: ['timer-thing', 'notify-thing'], sim: { timeScale: 120 } });
});
afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
  listener?.kill('SIGKILL');
  await stack.close();
});

function start(setup: AgentSetup, env: NodeJS.ProcessEnv = {}): AgentProcess {
  const p = new AgentProcess(['run', '--config', setup.configFile], env);
  procs.push(p);
  return p;
}

describe('time limits', () => {
  it('a step timeout set from the job time limit ends an overrunning job as TIMED_OUT; the agent aborts it and reports nothing', async () => {
    const thing = 'timer-thing';
    const setup = await agentConfig(stack, thing, 'timer');
    const agent = start(setup);
    await agent.waitForLog((l) => l.msg === 'connected to the broker');
    // timeoutSeconds 600 → stepTimeoutInMinutes 11 → 5.5 s at 120×; the handler would take 60 s.
    await createJob(stack, 'overrun', thing, { operation: 'record', ms: 60_000, timeoutSeconds: 600 });
    await agent.waitForLog((l) => l.msg === 'job ended in the cloud; nothing to report' && l.jobId === 'overrun', 40_000);
    expect(statusOf(stack, 'overrun', thing)).toBe('TIMED_OUT');
    expect(handlerRuns(setup.handlerLog).some((r) => r.aborted === 'overrun')).toBe(true);
    expect(deviceTransitions(stack, 'overrun').every((t) => t.to === 'IN_PROGRESS')).toBe(true);
  });

  it("the handler's own limit (document timeoutSeconds) fails a job before the service's step timer would", async () => {
    // In real time: at 120x the step timer the agent sets for a 1 s limit (2 min) would fire at the
    // same moment as the handler's own limit, and a loaded machine decides the race.
    const realTime = await startStack({ things: ['slow-thing'] });
    try {
      const setup = await agentConfig(realTime, 'slow-thing', 'slow');
      const agent = start(setup);
      await agent.waitForLog((l) => l.msg === 'connected to the broker');
      await createJob(realTime, 'too-slow', 'slow-thing', { operation: 'record', ms: 60_000, timeoutSeconds: 1 });
      await agent.waitForLog((l) => l.msg === 'outcome reported' && l.jobId === 'too-slow');
      expect(statusOf(realTime, 'too-slow', 'slow-thing')).toBe('FAILED');
      const r = realTime.sim.runtime.service.describeJobExecutionControl('too-slow', 'slow-thing');
      expect(r.ok && (r.value.execution.statusDetails as { detailsMap: Record<string, string> }).detailsMap.reason).toBe('timeout');
      agent.kill('SIGTERM');
      expect((await agent.exited).code).toBe(0);
    } finally {
      await realTime.close();
    }
  });
});

describe('systemd notification', () => {
  it('sends READY, STATUS with the running job, WATCHDOG and STOPPING to NOTIFY_SOCKET', async () => {
    const thing = 'notify-thing';
    const setup = await agentConfig(stack, thing, 'notify');
    const socketPath = join(stack.dir, 'notify.sock');
    const received: string[] = [];
    const py = `import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint('listening',flush=True)\nwhile True:\n  d,_=s.recvfrom(65536)\n  print(d.decode().replace('\\n','|'),flush=True)\n`;
    listener = spawn('python3', ['-c', py, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    listener.stdout?.on('data', (b: Buffer) => received.push(...b.toString().split('\n').filter(Boolean)));
    await waitFor(() => received.includes('listening'), 'the notify socket');
    const agent = start(setup, { NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '2000000' });
    await waitFor(() => received.some((m) => m.includes('READY=1')), 'READY=1');
    await createJob(stack, 'visible', thing, { operation: 'record', ms: 1500 });
    await waitFor(() => received.some((m) => m.includes('STATUS=running job visible')), 'STATUS naming the job');
    await waitFor(() => received.some((m) => m.includes('WATCHDOG=1')), 'WATCHDOG=1');
    await agent.waitForLog((l) => l.msg === 'outcome reported' && l.jobId === 'visible');
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    await waitFor(() => received.some((m) => m.includes('STOPPING=1')), 'STOPPING=1');
  });
});
