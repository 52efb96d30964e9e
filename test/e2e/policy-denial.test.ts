/**
 * A publish the IoT policy does not allow, seen by the real agent process. Its first request at
 * every connection is GetPendingJobExecutions (a publish to jobs/get), which the AWS IoT Device
 * Client's recommended policy does not allow.
 * - The sim's embedded broker closes the connection right after it, as AWS does to MQTT 3.1.1
 *   clients (the `denyPublish` fault): the agent must report a likely denial naming the topic,
 *   iot:Publish and the topic ARN in its log, STATUS and `status`, never a duplicate client id, and
 *   recover once the policy allows it.
 * - mosquitto with an ACL that does not allow it: MQTT 5 gets PUBACK 0x87 (a certain denial, the
 *   connection stays), MQTT 3.1.1 gets a PUBACK and the publish is dropped (nothing to tell but a
 *   request with no answer). Either way the agent stays up and still runs a job (it starts jobs
 *   through start-next on a notify-next, which the policy allows).
 */
import { join } from 'node:path';
import { AgentProcess, agentConfig, waitFor, type AgentSetup, type LogLine } from '../support/agent-proc';
import { NotifySocket } from '../support/device-faults';
import { startEmbeddedStack, startStack, type Stack } from '../support/stack';
import { agentStatus, handlerRuns, statusOf } from './helpers';

jest.setTimeout(120_000);

const isConnected = (l: LogLine): boolean => l.msg === 'connected to the broker';
const isDisconnected = (l: LogLine): boolean => l.msg === 'disconnected from the broker; reconnecting';
const mentionsDuplicate = (s: string): boolean => /duplicate client id|take-?over|another device or process/i.test(s);
const getTopic = (thing: string): string => `$aws/things/${thing}/jobs/get`;
const arnOf = (thing: string): string => `arn:aws:iot:REGION:ACCOUNT:topic/$aws/things/${thing}/jobs/get`;

interface Running {
  agent: AgentProcess;
  setup: AgentSetup;
  notify: NotifySocket;
}

async function startAgent(stack: Stack, thing: string, protocolVersion: 4 | 5): Promise<Running> {
  const setup = await agentConfig(stack, thing, thing, { mqtt: { protocolVersion } });
  const notify = await NotifySocket.listen(join(stack.dir, `${thing}.sock`));
  const agent = new AgentProcess(['run', '--config', setup.configFile], { NOTIFY_SOCKET: notify.path });
  return { agent, setup, notify };
}

async function stop(r: Running): Promise<void> {
  r.agent.kill('SIGTERM');
  expect((await r.agent.exited).code).toBe(0);
  r.notify.close();
}

function isDenial(thing: string): (l: LogLine) => boolean {
  return (l) => typeof l.msg === 'string' && l.msg.includes('denied by the IoT policy') && l.topic === getTopic(thing);
}

function expectNoDuplicate(r: Running): void {
  expect(r.agent.raw.filter(mentionsDuplicate)).toEqual([]);
  expect(r.notify.statuses().filter(mentionsDuplicate)).toEqual([]);
}

/** Retries an async assertion until it holds (a file written just after an event). */
async function eventually(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function runsAJob(stack: Stack, r: Running, thing: string, jobId: string): Promise<void> {
  expect(stack.sim.runtime.service.createJob({ jobId, targets: [thing], document: JSON.stringify({ operation: 'record' }) }).ok).toBe(true);
  await waitFor(() => statusOf(stack, jobId, thing) === 'SUCCEEDED', `${jobId} to succeed`, 60_000);
  expect(handlerRuns(r.setup.handlerLog).map((x) => x.jobId)).toEqual([jobId]);
}

describe('the sim closes the connection on a denied publish, as AWS does (embedded broker, MQTT 3.1.1)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startEmbeddedStack(['denied1']);
  });
  afterAll(async () => {
    await stack.close();
  });

  it('a likely denial of jobs/get naming iot:Publish and the topic ARN in the log, STATUS and status, not a duplicate client id; it clears once the policy allows it', async () => {
    const thing = 'denied1';
    stack.sim.runtime.service.setFaults(thing, { denyPublish: ['jobs/get'] });
    const r = await startAgent(stack, thing, 4);
    try {
      const line = await r.agent.waitForLog(isDenial(thing), 60_000);
      expect(line).toMatchObject({ operation: 'publish', policyAction: 'iot:Publish', resource: arnOf(thing), likely: true });
      expect(line.msg).toBe(
        `likely denied by the IoT policy: publish to ${getTopic(thing)} needs iot:Publish on ${arnOf(thing)} (docs/INSTALL.md "IoT policy"); this is not another client using this identity`,
      );
      expect(String(line.evidence)).toMatch(/closed the connection \d+ ms after our publish, before acknowledging it, on two connections in a row/);
      // Each connection was closed on the request; none of it reads as a take-over. The denial is
      // logged as the second connection closes, just before that close's own disconnect line.
      await waitFor(() => r.agent.count(isDisconnected) >= 2, 'a disconnect line for each closed connection');
      await waitFor(() => r.notify.statuses().some((s) => s.includes(`likely denied publish to ${getTopic(thing)}: the IoT policy must allow iot:Publish`)), 'STATUS naming the denial');
      const status = await agentStatus(r.setup.configFile);
      expect(status).toContain(`connection: PROBLEM likely denied publish to ${getTopic(thing)}`);
      expect(status).toContain(`the IoT policy must allow iot:Publish on ${arnOf(thing)}`);
      expectNoDuplicate(r);
      expect(r.agent.child.exitCode).toBeNull();

      // The policy is fixed: the next connection's listing is answered and the trouble is gone.
      const connects = r.agent.count(isConnected);
      stack.sim.runtime.service.setFaults(thing, {});
      // The agent is asleep in its reconnect back-off (ceiling 60 s, grown over the denied connections;
      // an attempt that fails under load sleeps once more): the next connection may be two waits away.
      await waitFor(() => r.agent.count(isConnected) > connects, 'a reconnect after the fix', 150_000).catch((err: Error) => {
        throw new Error(`${err.message}; last agent lines:\n${r.agent.raw.slice(-20).join('\n')}`);
      });
      await waitFor(() => !r.notify.statuses().at(-1)!.includes('denied'), 'STATUS without the denial');
      await runsAJob(stack, r, thing, 'after-the-fix');
      await eventually(async () => expect(await agentStatus(r.setup.configFile)).not.toMatch(/connection: PROBLEM/));
      expectNoDuplicate(r);
    } finally {
      await stop(r);
    }
  }, 240_000);
});

describe('mosquitto with an ACL that does not allow jobs/get', () => {
  // Things may read their own topics and publish updates, start-next and describe: not jobs/get.
  const ACL = [
    'pattern read $aws/things/%u/#',
    'pattern write $aws/things/%u/jobs/+/update',
    'pattern write $aws/things/%u/jobs/+/get',
    'pattern write $aws/things/%u/jobs/start-next',
    '',
    'user jobs-service',
    'topic readwrite #',
    'topic readwrite $aws/#',
    '',
  ].join('\n');
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ things: ['acl5', 'acl4'], acl: ACL });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('MQTT 5: PUBACK 0x87 is a certain denial naming iot:Publish and the topic ARN; the connection stays and a job still runs', async () => {
    const thing = 'acl5';
    const r = await startAgent(stack, thing, 5);
    try {
      const line = await r.agent.waitForLog(isDenial(thing), 60_000);
      expect(line).toMatchObject({ operation: 'publish', policyAction: 'iot:Publish', resource: arnOf(thing), likely: false });
      expect(String(line.evidence)).toMatch(/PUBACK reason 0x87/);
      expect(line.msg).toMatch(new RegExp(`^denied by the IoT policy: publish to \\$aws/things/${thing}/jobs/get needs iot:Publish`));
      await waitFor(() => r.notify.statuses().some((s) => s.includes(`denied publish to ${getTopic(thing)}: the IoT policy must allow iot:Publish`)), 'STATUS naming the denial');
      expect(await agentStatus(r.setup.configFile)).toContain(`connection: PROBLEM denied publish to ${getTopic(thing)}`);
      await runsAJob(stack, r, thing, 'despite-0x87');
      // MQTT 5 refuses the packet, not the client: never disconnected.
      expect(r.agent.count(isDisconnected)).toBe(0);
      expectNoDuplicate(r);
    } finally {
      await stop(r);
    }
  });

  it('MQTT 3.1.1: the publish is acknowledged and dropped; the agent says its listing went unanswered, stays up, says no duplicate and still runs a job', async () => {
    const thing = 'acl4';
    const r = await startAgent(stack, thing, 4);
    try {
      const line = await r.agent.waitForLog((l) => l.msg === 'could not fetch pending jobs; will retry', 60_000);
      expect(String(line.err)).toContain(getTopic(thing));
      await runsAJob(stack, r, thing, 'despite-the-drop');
      expect(r.agent.count(isDisconnected)).toBe(0);
      expect(r.agent.count(isDenial(thing))).toBe(0);
      expectNoDuplicate(r);
    } finally {
      await stop(r);
    }
  });
});
