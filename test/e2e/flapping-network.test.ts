/**
 * A flapping network is not a take-over. The real agent on mosquitto, MQTT 3.1.1 and 5: the broker
 * restarted three times in a row (down long enough for the agent to see it gone, as a restart is),
 * and, separately, its connection reset four times in a row through a TCP proxy (a RST: ECONNRESET
 * on the agent's side, as a NAT or a Wi-Fi roam does). Each time the agent must reconnect; it must
 * never say "duplicate client id" in its log, STATUS or `status`, and then it must run a job. Three
 * bare closes of young connections are what the MQTT 3.1.1 take-over heuristic needs
 * (src/transport/close-reason.ts); what it cannot tell from a take-over is in docs/PROTOCOL.md §11.
 */
import { join } from 'node:path';
import { ChaosProxy } from '../../bench/chaos/proxy';
import { LIKELY_TAKEOVER_CLOSES } from '../../src/transport/close-reason';
import { AgentProcess, agentConfig, waitFor, type AgentSetup, type LogLine } from '../support/agent-proc';
import { NotifySocket } from '../support/device-faults';
import { startStack, type Stack } from '../support/stack';
import { agentStatus, createJob, handlerRuns, statusOf } from './helpers';

jest.setTimeout(180_000);

/** Resets in a row: one more than the bare closes that make a likely take-over. */
const FLAPS = LIKELY_TAKEOVER_CLOSES + 1;
/**
 * Restarts in a row: as many as make a likely take-over were they not restarts. Not more: every one
 * costs two of the agent's reconnect waits, which grow to a minute while connections stay short.
 */
const RESTARTS = LIKELY_TAKEOVER_CLOSES;

const isConnected = (l: LogLine): boolean => l.msg === 'connected to the broker';
const isDisconnected = (l: LogLine): boolean => l.msg === 'disconnected from the broker; reconnecting';
/** The agent's listing after a (re)connect was answered: it has nothing more to send until keep-alive. */
const isListed = (l: LogLine): boolean => l.msg === 'pending executions listed';
/** A reconnect attempt that failed (the broker was not there). */
const isFailedAttempt = (l: LogLine): boolean => l.msg === 'transport error; the transport retries by itself';
const mentionsDuplicate = (s: string): boolean => /duplicate client id|take-?over|another device or process/i.test(s);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ things: ['restart4', 'restart5', 'reset4', 'reset5'] });
});
afterAll(async () => {
  await stack.close();
});

interface Running {
  agent: AgentProcess;
  setup: AgentSetup;
  notify: NotifySocket;
}

async function startAgent(thing: string, protocolVersion: 4 | 5, port?: number): Promise<Running> {
  const setup = await agentConfig(stack, thing, thing, { mqtt: { protocolVersion, ...(port !== undefined ? { port } : {}) } });
  const notify = await NotifySocket.listen(join(stack.dir, `${thing}.sock`));
  const agent = new AgentProcess(['run', '--config', setup.configFile], { NOTIFY_SOCKET: notify.path });
  await agent.waitForLog(isConnected);
  return { agent, setup, notify };
}

/** Waits until the agent has logged `pred` at least `n` times. */
function nth(agent: AgentProcess, pred: (l: LogLine) => boolean, n: number, what: string): Promise<void> {
  return waitFor(() => agent.count(pred) >= n, `${what} #${n}`, 60_000);
}

/** Nothing anywhere says duplicate client id; then a job runs. */
async function assertNoTakeOverAndRunsAJob(r: Running, thing: string, jobId: string): Promise<void> {
  expect(r.agent.raw.filter(mentionsDuplicate)).toEqual([]);
  expect(r.notify.statuses().filter(mentionsDuplicate)).toEqual([]);
  const status = await agentStatus(r.setup.configFile);
  expect(status).not.toMatch(/duplicate client id/);
  expect(status).not.toMatch(/connection: PROBLEM/);
  await createJob(stack, jobId, thing, { operation: 'record' });
  await waitFor(() => statusOf(stack, jobId, thing) === 'SUCCEEDED', `${jobId} to succeed`, 60_000);
  expect(handlerRuns(r.setup.handlerLog).map((x) => x.jobId)).toEqual([jobId]);
  expect(r.agent.raw.filter(mentionsDuplicate)).toEqual([]);
}

async function stop(r: Running): Promise<void> {
  r.agent.kill('SIGTERM');
  expect((await r.agent.exited).code).toBe(0);
  r.notify.close();
}

it(`the broker restarted ${RESTARTS} times in a row: MQTT 3.1.1 and 5 agents reconnect every time, say no duplicate client id, then run a job`, async () => {
  // Both protocols at once: one agent after the other would double the wait without proving more.
  const agents = [await startAgent('restart4', 4), await startAgent('restart5', 5)];
  try {
    for (let i = 1; i <= RESTARTS; i++) {
      const failedBefore = agents.map((r) => r.agent.count(isFailedAttempt));
      await stack.broker.stop();
      await Promise.all(agents.map((r) => nth(r.agent, isDisconnected, i, 'disconnect')));
      // mosquitto sends no DISCONNECT when it stops (MQTT 5 either): the close alone looks like a
      // take-over. The broker stays down until each agent has seen it gone (a refused attempt), as in
      // a real restart; that is what tells the two apart (docs/PROTOCOL.md §11).
      await Promise.all(agents.map((r, k) => nth(r.agent, isFailedAttempt, failedBefore[k]! + 1, 'failed reconnect attempt')));
      await stack.broker.restart();
      await Promise.all(agents.map((r) => nth(r.agent, isConnected, i + 1, 'reconnect')));
    }
    for (const r of agents) expect(r.agent.lines.filter(isDisconnected).map((l) => String(l.err))).toHaveLength(RESTARTS);
    await assertNoTakeOverAndRunsAJob(agents[0]!, 'restart4', 'after-restarts-4');
    await assertNoTakeOverAndRunsAJob(agents[1]!, 'restart5', 'after-restarts-5');
  } finally {
    await Promise.all(agents.map(stop));
  }
}, 240_000);

describe.each([4, 5] as const)('a connection reset is not a take-over (MQTT %s)', (protocolVersion) => {
  it(`the connection reset ${FLAPS} times in a row, each soon after connecting: reconnects every time, no duplicate client id, then runs a job`, async () => {
    const thing = `reset${protocolVersion}`;
    const proxy = new ChaosProxy({ host: '127.0.0.1', port: stack.broker.port });
    const port = await proxy.listen();
    try {
      const r = await startAgent(thing, protocolVersion, port);
      try {
        for (let i = 1; i <= FLAPS; i++) {
          // Reset only once the agent's post-connect traffic is answered. A RST that meets one of
          // the agent's own writes is reported to that write, and Node's TLS layer drops a write
          // error once the cleartext write has completed: the read that follows sees a bare EOF,
          // and the reset looks like the broker's own close. This test is about resets the agent
          // can see, so it keeps them clear of its writes.
          await nth(r.agent, isListed, i, 'answered listing');
          expect(proxy.reset()).toBe(1);
          await nth(r.agent, isDisconnected, i, 'disconnect');
          await nth(r.agent, isConnected, i + 1, 'reconnect');
        }
        // Every loss was the network's: the agent saw the reset on its side.
        const losses = r.agent.lines.filter(isDisconnected).map((l) => String(l.err));
        expect(losses).toHaveLength(FLAPS);
        for (const e of losses) expect(e).toMatch(/ECONNRESET/);
        await assertNoTakeOverAndRunsAJob(r, thing, `after-resets-${protocolVersion}`);
      } finally {
        await stop(r);
      }
    } finally {
      await proxy.close();
    }
  });
});
