/**
 * Two devices, one identity: two real agent processes with the same certificate and
 * client id (separate state directories, as two clones of one image), on mosquitto with MQTT 5
 * (reason 0x8E) and 3.1.1 (the "likely" heuristic), and on the sim's embedded broker. Each must say
 * "duplicate client id" in the log, STATUS and `status`, stay up, back off more and more, and when
 * one stops the other must settle and run a job. mqtt.takeoverBackoffSeconds (a documented key) is
 * small here so the back-off's growth and the settling fit in a test.
 */
import { AgentProcess, agentConfig, waitFor, type LogLine } from '../support/agent-proc';
import { startEmbeddedStack, startStack, type Stack } from '../support/stack';
import { agentStatus as statusText, handlerRuns, statusOf } from './helpers';

jest.setTimeout(180_000);

const TAKEOVER_BACKOFF_SECONDS = 8;
const DUPLICATE = /^duplicate client id thing1/;

const isTakeOver = (l: LogLine): boolean => typeof l.msg === 'string' && DUPLICATE.test(l.msg);
const isConnected = (l: LogLine): boolean => l.msg === 'connected to the broker';
const time = (l: LogLine): number => Date.parse(String(l.time));

/** Gaps between each take-over and the agent's next connection (the back-off actually waited). */
function waits(p: AgentProcess): number[] {
  const out: number[] = [];
  let since: number | undefined;
  for (const l of p.lines) {
    if (isTakeOver(l)) since = time(l);
    else if (isConnected(l) && since !== undefined) {
      out.push(time(l) - since);
      since = undefined;
    }
  }
  return out;
}

async function twoAgentsOneIdentity(stack: Stack, protocolVersion: 4 | 5): Promise<void> {
  const mqtt = { protocolVersion, takeoverBackoffSeconds: TAKEOVER_BACKOFF_SECONDS };
  const a = await agentConfig(stack, 'thing1', `a${protocolVersion}`, { mqtt });
  const b = await agentConfig(stack, 'thing1', `b${protocolVersion}`, { mqtt });
  const pa = new AgentProcess(['run', '--config', a.configFile]);
  const pb = new AgentProcess(['run', '--config', b.configFile]);
  try {
    // Each is told within a bounded time, in the log (with the client id and what to check) ...
    const [la, lb] = await Promise.all([pa.waitForLog(isTakeOver, 60_000), pb.waitForLog(isTakeOver, 60_000)]);
    for (const l of [la, lb]) {
      expect(l.clientId).toBe('thing1');
      expect(l.msg).toMatch(/another device or process uses this identity/);
      expect(l.msg).toMatch(/cloned/);
      expect(l.msg).toMatch(/second copy of the agent/);
      expect(l.msg).toMatch(/Greengrass/);
      // mosquitto 2.0.11 closes the older connection without a DISCONNECT, even on MQTT 5, and aedes
      // speaks 3.1.1 only: both are the "likely" reading (0x8E itself: test/integration/takeover.test.ts).
      expect(l.certain).toBe(false);
      expect(l.msg).toMatch(/duplicate client id thing1 \(likely\)/);
    }
    // ... and in `status`.
    expect(await statusText(a.configFile)).toMatch(/connection: PROBLEM duplicate client id thing1.*another device or process uses this identity/);
    // The back-off grows: six take-overs of one agent, the waits really getting longer.
    await waitFor(() => waits(pa).length >= 6, 'six take-over waits of agent a', 90_000);
    const w = waits(pa);
    expect(w[5]!).toBeGreaterThan(w[0]!);
    const retries = pa.lines.filter(isTakeOver).map((l) => Number(l.retryInMs));
    expect(retries[5]!).toBeGreaterThan(retries[0]!);
    expect(Math.max(...retries)).toBeLessThanOrEqual(TAKEOVER_BACKOFF_SECONDS * 1000);
    // Both stay up.
    expect(pa.child.exitCode).toBeNull();
    expect(pb.child.exitCode).toBeNull();
    // One stops: the other settles (says so, STATUS and status clear) and runs a job.
    pb.kill('SIGTERM');
    expect((await pb.exited).code).toBe(0);
    await pa.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('the connection is settled'), 60_000);
    expect(await statusText(a.configFile)).not.toMatch(/duplicate client id/);
    const r = stack.sim.runtime.service.createJob({ jobId: `after-${protocolVersion}`, targets: ['thing1'], document: JSON.stringify({ operation: 'record' }) });
    expect(r.ok).toBe(true);
    await waitFor(() => statusOf(stack, `after-${protocolVersion}`, 'thing1') === 'SUCCEEDED', 'the job to succeed', 60_000);
    expect(handlerRuns(a.handlerLog).map((x) => x.jobId)).toEqual([`after-${protocolVersion}`]);
  } finally {
    pa.kill('SIGTERM');
    pb.kill('SIGTERM');
    await Promise.all([pa.exited, pb.exited]);
  }
}

describe('two agents with one identity', () => {
  describe('on mosquitto', () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack({ things: ['thing1'] });
    });
    afterAll(async () => {
      await stack.close();
    });

    it('MQTT 5 (no DISCONNECT from mosquitto 2.0.11): both say likely duplicate client id, back off, and the survivor settles and runs a job', async () => {
      await twoAgentsOneIdentity(stack, 5);
    });

    it('MQTT 3.1.1: both say likely duplicate client id, back off, and the survivor settles and runs a job', async () => {
      await twoAgentsOneIdentity(stack, 4);
    });
  });

  describe('on the embedded broker', () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await startEmbeddedStack(['thing1']);
    });
    afterAll(async () => {
      await stack.close();
    });

    it('MQTT 3.1.1: both say likely duplicate client id, back off, and the survivor settles and runs a job', async () => {
      await twoAgentsOneIdentity(stack, 4);
    });
  });
});
