/**
 * Dispatch order as a real agent process runs it, against the sim through mosquitto: jobs queued in
 * one second (the sim's clock is held still) across the default namespace and two others — one over
 * the HTTPS data plane, one over MQTT — with jobIds that sort against creation order. Each
 * namespace's jobs start in creation order; between namespaces the documented rule decides.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualClock } from '../../src/lib/clock';
import { AgentProcess, agentConfig } from '../support/agent-proc';
import type { LogLine } from '../support/agent-proc';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { createJob, statusOf } from './helpers';

let stack: Stack;
const procs: AgentProcess[] = [];

beforeAll(async () => {
  stack = await startStack({ things: ['order-startup', 'order-live', 'order-pair'], sim: { clock: new ManualClock(Date.UTC(2026, 11, 1, 12, 0, 0)) } });
});
afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
  await stack.close();
});

const NS_HTTPS = 'nsa';
const NS_MQTT = 'nsb';
/** Creation order; within each namespace the jobIds sort against it. */
const CREATED: [string, string][] = [
  ['', 'zz-kernel'],
  [NS_HTTPS, 'yy-fleet'],
  ['', 'mm-firmware'],
  [NS_MQTT, 'xx-ops'],
  [NS_HTTPS, 'bb-fleet'],
  ['', 'aa-config'],
  [NS_MQTT, 'cc-ops'],
  ['', 'ab-long'],
];

const HOLD = `'use strict';
const fs = require('node:fs');
module.exports = {
  name: 'hold',
  run(ctx) {
    return new Promise((resolve, reject) => {
      const t = setInterval(() => { if (fs.existsSync(ctx.document.until)) { clearInterval(t); resolve({ status: 'SUCCEEDED' }); } }, 20);
      ctx.signal.addEventListener('abort', () => { clearInterval(t); reject(ctx.signal.reason); }, { once: true });
    });
  },
};
`;

const jobsConfig = (extra: Record<string, unknown> = {}) => ({ jobs: { namespaces: [NS_HTTPS, NS_MQTT], mqttNamespaces: [NS_MQTT], ...extra } });

async function createAll(thing: string, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (const [ns, id] of CREATED) {
    await createJob(stack, `${prefix}${id}`, thing, { operation: 'record' }, ns ? { namespaceId: ns } : {});
    ids.push(`${prefix}${id}`);
  }
  return ids;
}

const key = (l: LogLine): string => `${String(l.namespace ?? '')}/${String(l.jobId)}`;
const dispatched = (a: AgentProcess): string[] => a.lines.filter((l) => l.msg === 'job dispatched').map(key);
const perNamespace = (seq: string[], ns: string): string[] => seq.filter((k) => k.startsWith(`${ns}/`));
const expectedIn = (ns: string, prefix: string): string[] => CREATED.filter(([n]) => n === ns).map(([n, id]) => `${n}/${prefix}${id}`);

function start(configFile: string): AgentProcess {
  const p = new AgentProcess(['run', '--config', configFile]);
  procs.push(p);
  return p;
}

async function allReported(a: AgentProcess, ids: string[]): Promise<void> {
  for (const id of ids) await a.waitForLog((l) => l.msg === 'outcome reported' && l.jobId === id);
}

describe('dispatch order across namespaces', () => {
  it('jobs found at start-up: each namespace in creation order, namespaces in configuration order', async () => {
    const thing = 'order-startup';
    const ids = await createAll(thing, 's-');
    const setup = await agentConfig(stack, thing, 'order-startup', jobsConfig());
    const agent = start(setup.configFile);
    await allReported(agent, ids);
    const seq = dispatched(agent);
    for (const ns of ['', NS_HTTPS, NS_MQTT]) expect(perNamespace(seq, ns)).toEqual(expectedIn(ns, 's-'));
    // All in one second: the start-up listings are applied in configuration order.
    expect(seq).toEqual([...expectedIn('', 's-'), ...expectedIn(NS_HTTPS, 's-'), ...expectedIn(NS_MQTT, 's-')]);
    for (const id of ids) expect(statusOf(stack, id, thing)).toBe('SUCCEEDED');
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });

  it('jobs queued while the agent works: each namespace in creation order, and overall in the order notified', async () => {
    const thing = 'order-live';
    const setup = await agentConfig(stack, thing, 'order-live', jobsConfig());
    // agentConfig puts the handler directory beside the state directory.
    await writeFile(join(setup.stateDir, '..', 'handlers', 'hold.js'), HOLD, { mode: 0o644 });
    const release = join(setup.stateDir, '..', 'release');
    const agent = start(setup.configFile);
    await agent.waitForLog((l) => l.msg === 'connected to the broker');
    await createJob(stack, 'l-blocker', thing, { operation: 'hold', until: release });
    await agent.waitForLog((l) => l.msg === 'job started' && l.jobId === 'l-blocker');
    const ids = await createAll(thing, 'l-');
    // Release the blocker only once the agent has heard of every job, so the backlog is ordered whole.
    for (const id of ids) await agent.waitForLog((l) => l.msg === 'job queued' && l.jobId === id);
    await writeFile(release, '');
    await allReported(agent, ['l-blocker', ...ids]);
    const seq = dispatched(agent).filter((k) => k !== '/l-blocker');
    for (const ns of ['', NS_HTTPS, NS_MQTT]) expect(perNamespace(seq, ns)).toEqual(expectedIn(ns, 'l-'));
    expect(seq).toEqual(CREATED.map(([ns, id]) => `${ns}/l-${id}`));
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });

  it('with jobs.concurrency 2, each namespace still starts in creation order', async () => {
    const thing = 'order-pair';
    const ids = await createAll(thing, 'p-');
    const setup = await agentConfig(stack, thing, 'order-pair', jobsConfig({ concurrency: 2 }));
    const agent = start(setup.configFile);
    await allReported(agent, ids);
    const seq = dispatched(agent);
    for (const ns of ['', NS_HTTPS, NS_MQTT]) expect(perNamespace(seq, ns)).toEqual(expectedIn(ns, 'p-'));
    expect(seq).toEqual([...expectedIn('', 'p-'), ...expectedIn(NS_HTTPS, 'p-'), ...expectedIn(NS_MQTT, 'p-')]);
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });
});
