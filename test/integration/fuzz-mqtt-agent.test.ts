/**
 * Generated payloads on every topic the real agent process subscribes to, published by another
 * client with the thing's own certificate (what a buggy or hostile co-located process could do):
 * the agent stays up and still runs and reports the next jobs in both namespaces.
 */
import fc from 'fast-check';
import { MqttTransport } from '../../src/transport/mqtt-transport';
import { AgentProcess, agentConfig } from '../support/agent-proc';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { createJob, statusOf, terminalCount } from '../e2e/helpers';

const THING = 'fuzz-mqtt-thing';
const NS = 'fz';
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

const p = `$aws/things/${THING}/jobs`;
const TOPICS = [
  `${p}/notify`, `${p}/notify-next`, `${p}/get/accepted`, `${p}/get/rejected`, `${p}/start-next/accepted`, `${p}/start-next/rejected`,
  `${p}/j1/get/accepted`, `${p}/j1/get/rejected`, `${p}/$next/get/accepted`, `${p}/j1/update/accepted`, `${p}/j1/update/rejected`,
  `${p}/notify-namespace-${NS}`, `${p}/notify-next-namespace-${NS}`, `${p}/j1/notify-namespace-${NS}/`,
  `${p}/j1/namespace-${NS}/get/accepted`, `${p}/j1/namespace-${NS}/update/rejected`,
];
const exec = fc.record({ jobId: fc.oneof(fc.constantFrom('ghost', 'j1', ''), fc.integer()), status: fc.constantFrom('QUEUED', 'IN_PROGRESS', 'CANCELED', 'x'), versionNumber: fc.oneof(fc.integer(), fc.string()), executionNumber: fc.integer({ min: -1, max: 3 }), queuedAt: fc.oneof(fc.integer(), fc.string()), jobDocument: fc.object({ maxDepth: 1 }) }, { requiredKeys: [] });
const payload = fc.oneof(
  fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b)),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? ''),
  fc.record({ clientToken: fc.string(), timestamp: fc.integer(), code: fc.constantFrom('VersionMismatch', 'RequestThrottled', 'Nope'), jobs: fc.dictionary(fc.constantFrom('QUEUED', 'IN_PROGRESS'), fc.array(exec, { maxLength: 3 })), execution: exec, executionState: exec, queuedJobs: fc.array(exec, { maxLength: 3 }), inProgressJobs: fc.array(exec, { maxLength: 2 }) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
);

describe('fuzz: MQTT payloads at the real agent', () => {
  it('300 generated messages on every subscribed topic: the agent keeps running and still works', async () => {
    const setup = await agentConfig(stack, THING, 'mq', { jobs: { namespaces: [NS], mqttNamespaces: [NS] } });
    agent = new AgentProcess(['run', '--config', setup.configFile]);
    await agent.waitForLog((l) => l.msg === 'connected to the broker');
    const files = stack.pki.things[THING]!;
    const evil = new MqttTransport({ host: '127.0.0.1', port: stack.broker.port, clientId: `${THING}-evil`, protocolVersion: 4, alpn: false, keepAliveSeconds: 30, tls: { ...files, rootCaFile: stack.pki.caFile } });
    await evil.connect();
    try {
      const msgs = fc.sample(fc.tuple(fc.constantFrom(...TOPICS), payload), { numRuns: 300, seed: 99 });
      for (const [topic, body] of msgs) await evil.publish(topic, body, 1);
    } finally {
      await evil.close();
    }
    await createJob(stack, 'fzm-1', THING, { operation: 'record' });
    await createJob(stack, 'fzm-2', THING, { operation: 'record' }, { namespaceId: NS });
    for (const j of ['fzm-1', 'fzm-2']) await agent.waitForLog((l) => l.msg === 'outcome reported' && l.jobId === j);
    for (const j of ['fzm-1', 'fzm-2']) {
      expect(statusOf(stack, j, THING)).toBe('SUCCEEDED');
      expect(terminalCount(stack, j, 'SUCCEEDED')).toBe(1);
    }
    expect(agent.child.exitCode).toBeNull();
    // The junk really reached the agent (and was dropped, not acted on).
    expect(agent.count((l) => l.msg === 'dropped malformed jobs message' || l.msg === 'dropped invalid jobs message')).toBeGreaterThan(20);
    expect(agent.lines.some((l) => l.level === 'fatal' || l.level === 60)).toBe(false);
  });
});
