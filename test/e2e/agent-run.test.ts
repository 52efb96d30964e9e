/**
 * The agent as a real process against the sim through mosquitto over mTLS: order across namespaces,
 * notify-triggered fetch, cancellation, malformed payloads, injected faults, bad configuration.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CancelJobCommand } from '@aws-sdk/client-iot';
import { MqttTransport } from '../../src/transport/mqtt-transport';
import { AgentProcess, agentConfig, waitFor } from '../support/agent-proc';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { createJob, deviceTransitions, handlerRuns, statusOf, terminalCount } from './helpers';

let stack: Stack;
const procs: AgentProcess[] = [];

beforeAll(async () => {
  stack = await startStack({ things: ['order-thing', 'cancel-thing', 'fuzz-thing', 'fault-thing', 'hold-thing', 'cfg-thing'] });
});
afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
  await stack.close();
});

function start(configFile: string): AgentProcess {
  const p = new AgentProcess(['run', '--config', configFile]);
  procs.push(p);
  return p;
}

const finished = (jobId: string) => (l: Record<string, unknown>) => l.msg === 'outcome reported' && l.jobId === jobId;

describe('agent end to end', () => {
  it('runs jobs found at start-up in order across the default and a namespace, then notify-triggered ones', async () => {
    const thing = 'order-thing';
    await createJob(stack, 'ord-1', thing, { operation: 'record' });
    await createJob(stack, 'ord-2', thing, { operation: 'record' }, { namespaceId: 'fleet' });
    await createJob(stack, 'ord-3', thing, { operation: 'record' });
    const setup = await agentConfig(stack, thing, 'order', { jobs: { namespaces: ['fleet'] } });
    const agent = start(setup.configFile);
    await agent.waitForLog(finished('ord-3'));
    await agent.waitForLog(finished('ord-2'));
    // Each namespace in creation order (across namespaces, see agent-order.test.ts: here the three may
    // or may not share a second of queuedAt, which decides between the namespaces).
    const ran = handlerRuns(setup.handlerLog).map((r) => r.jobId);
    expect([...ran].sort()).toEqual(['ord-1', 'ord-2', 'ord-3']);
    expect(ran.filter((j) => j !== 'ord-2')).toEqual(['ord-1', 'ord-3']);
    // Created while the agent idles: only a notify can make it fetch (the safety poll is 15 min).
    await createJob(stack, 'ord-4', thing, { operation: 'record' });
    await createJob(stack, 'ord-5', thing, { operation: 'record' }, { namespaceId: 'fleet' });
    await agent.waitForLog(finished('ord-4'));
    await agent.waitForLog(finished('ord-5'));
    for (const j of ['ord-1', 'ord-2', 'ord-3', 'ord-4', 'ord-5']) {
      expect(statusOf(stack, j, thing)).toBe('SUCCEEDED');
      expect(terminalCount(stack, j, 'SUCCEEDED')).toBe(1);
    }
    expect(handlerRuns(setup.handlerLog)).toHaveLength(5);
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });

  it('aborts a force-canceled job and sends nothing more for it; a queued cancel never runs', async () => {
    const thing = 'cancel-thing';
    const setup = await agentConfig(stack, thing, 'cancel');
    const agent = start(setup.configFile);
    await agent.waitForLog((l) => l.msg === 'connected to the broker');
    await createJob(stack, 'long-1', thing, { operation: 'record', ms: 60_000 });
    await createJob(stack, 'queued-2', thing, { operation: 'record' });
    await waitFor(() => handlerRuns(setup.handlerLog).some((r) => r.jobId === 'long-1'), 'long-1 to start');
    await stack.iot.send(new CancelJobCommand({ jobId: 'queued-2' }));
    await stack.iot.send(new CancelJobCommand({ jobId: 'long-1', force: true }));
    await agent.waitForLog((l) => l.msg === 'job ended in the cloud; nothing to report' && l.jobId === 'long-1');
    expect(handlerRuns(setup.handlerLog).some((r) => r.aborted === 'long-1')).toBe(true);
    await createJob(stack, 'after-3', thing, { operation: 'record' });
    await agent.waitForLog(finished('after-3'));
    expect(statusOf(stack, 'long-1', thing)).toBe('CANCELED');
    expect(deviceTransitions(stack, 'long-1').every((t) => t.to === 'IN_PROGRESS')).toBe(true);
    expect(handlerRuns(setup.handlerLog).map((r) => r.jobId).filter(Boolean)).toEqual(['long-1', 'after-3']);
  });

  it('ignores malformed payloads on every subscribed topic and keeps working', async () => {
    const thing = 'fuzz-thing';
    const setup = await agentConfig(stack, thing, 'fuzz', { jobs: { namespaces: ['fz'], mqttNamespaces: ['fz'] } });
    const agent = start(setup.configFile);
    await agent.waitForLog((l) => l.msg === 'connected to the broker');
    const files = stack.pki.things[thing];
    if (!files) throw new Error('no cert');
    const evil = new MqttTransport({ host: '127.0.0.1', port: stack.broker.port, clientId: `${thing}-evil`, protocolVersion: 4, alpn: false, keepAliveSeconds: 30, tls: { ...files, rootCaFile: stack.pki.caFile } });
    await evil.connect();
    const p = `$aws/things/${thing}/jobs`;
    const topics = [`${p}/notify`, `${p}/notify-next`, `${p}/get/accepted`, `${p}/get/rejected`, `${p}/start-next/accepted`, `${p}/x/get/accepted`, `${p}/x/update/rejected`, `${p}/notify-namespace-fz`, `${p}/notify-next-namespace-fz`, `${p}/x/namespace-fz/update/accepted`, `${p}/j/notify-namespace-fz/`];
    const payloads = ['', 'not json', '[1,2]', 'null', '{"jobs":{"QUEUED":"x"}}', '{"execution":{"jobId":5}}', '{"clientToken":{},"code":"Nope"}', JSON.stringify({ timestamp: 1, jobs: { QUEUED: [{ jobId: 'ghost', queuedAt: 'x' }] } }), '\u0000\u00ff'];
    for (const t of topics) for (const body of payloads) await evil.publish(t, body, 1);
    await evil.close();
    await createJob(stack, 'fuzz-ok', thing, { operation: 'record' });
    await createJob(stack, 'fuzz-ns', thing, { operation: 'record' }, { namespaceId: 'fz' });
    await agent.waitForLog(finished('fuzz-ok'));
    await agent.waitForLog(finished('fuzz-ns'));
    expect(agent.child.exitCode).toBeNull();
    expect(agent.count((l) => l.msg === 'dropped malformed jobs message' || l.msg === 'dropped invalid jobs message')).toBeGreaterThan(0);
  });

  it('retries through injected throttling and internal errors, losing nothing and running nothing twice', async () => {
    const thing = 'fault-thing';
    stack.sim.runtime.service.setFaults(thing, { throttle: 0.3, internalError: 0.2, duplicateNotifyNext: true });
    const setup = await agentConfig(stack, thing, 'fault');
    const agent = start(setup.configFile);
    const jobs = ['f-1', 'f-2', 'f-3', 'f-4', 'f-5', 'f-6'];
    for (const j of jobs) await createJob(stack, j, thing, { operation: 'record', progress: true, ms: 1200 });
    for (const j of jobs) await agent.waitForLog(finished(j), 60_000);
    stack.sim.runtime.service.setFaults(thing, {});
    for (const j of jobs) {
      expect(statusOf(stack, j, thing)).toBe('SUCCEEDED');
      expect(terminalCount(stack, j, 'SUCCEEDED')).toBe(1);
    }
    // Duplicate notify-next naming the running job never aborted it.
    expect(handlerRuns(setup.handlerLog).filter((r) => r.aborted)).toEqual([]);
    // Exact order even when a start failed more often than its retries allow: it kept its place.
    expect(handlerRuns(setup.handlerLog).map((r) => r.jobId)).toEqual(jobs);
  });

  it('a job whose start fails more often than its retries allow keeps its place: the next one waits behind it', async () => {
    const thing = 'hold-thing';
    const setup = await agentConfig(stack, thing, 'hold');
    const agent = start(setup.configFile);
    await agent.waitForLog((l) => l.msg === 'connected to the broker');
    await agent.waitForLog((l) => l.msg === 'pending executions listed');
    // Every request of this thing throttled: the notifications still bring both jobs, neither can start.
    stack.sim.runtime.service.setFaults(thing, { throttle: 1 });
    await createJob(stack, 'h-1', thing, { operation: 'record' });
    await createJob(stack, 'h-2', thing, { operation: 'record' });
    const wait = await agent.waitForLog((l) => l.msg === 'job keeps its place and is tried again after a delay', 60_000);
    stack.sim.runtime.service.setFaults(thing, {});
    expect(wait.jobId).toBe('h-1');
    expect(wait.delayMs).toEqual(expect.any(Number));
    await agent.waitForLog(finished('h-2'), 60_000);
    expect(handlerRuns(setup.handlerLog).map((r) => r.jobId)).toEqual(['h-1', 'h-2']);
    expect(agent.count((l) => l.msg === 'job dispatched' && l.jobId === 'h-2')).toBe(1);
    for (const j of ['h-1', 'h-2']) expect(terminalCount(stack, j, 'SUCCEEDED')).toBe(1);
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });

  it('refuses an invalid configuration with exit 2 and names every bad key', async () => {
    const setup = await agentConfig(stack, 'cfg-thing', 'cfg');
    const bad = { ...setup.config, mqtt: { endpoint: '127.0.0.1', port: 'eighty' }, jobs: { concurrency: 0 }, surprise: true };
    const file = join(stack.dir, 'bad-config.json');
    await writeFile(file, JSON.stringify(bad));
    const agent = start(file);
    const { code } = await agent.exited;
    expect(code).toBe(2);
    const text = agent.raw.join('\n');
    expect(text).toMatch(/mqtt\.port/);
    expect(text).toMatch(/jobs\.concurrency/);
    expect(text).toMatch(/surprise/);
  });
});
