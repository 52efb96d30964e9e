/**
 * A job that could not start keeps its place. The real Agent, its book, ready queue, executions,
 * MQTT Jobs client and durable store, against the sim's Jobs service in process (the transport is
 * the only stand-in: it hands each publish to the service and its answers back). The service refuses
 * the IN_PROGRESS update of chosen jobs with its own injected throttling, more often than an
 * execution's own retries allow.
 */
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../src/agent/agent';
import type { AgentDeps } from '../../src/agent/agent';
import { mapRegistry } from '../../src/agent/registry';
import { loadConfig } from '../../src/config/load';
import type { JobHandler, ProcessRunner } from '../../src/handlers/api';
import { MqttJobsClient } from '../../src/jobs/mqtt-client';
import { sleep } from '../../src/lib/backoff';
import { ManualClock } from '../../src/lib/clock';
import { createLogger } from '../../src/lib/log';
import { JobsService } from '../../src/sim/service';
import { openStateStore } from '../../src/store/file-store';
import type { StateStore } from '../../src/store/types';
import type { Transport } from '../../src/transport/types';

const THING = 't1';

/** The wire: every publish reaches the service on the next turn, every answer comes back as a message. */
class ServiceTransport extends EventEmitter implements Transport {
  connected = false;
  /** Job id → how many more of its IN_PROGRESS updates the service throttles. */
  readonly refuseStart = new Map<string, number>();

  constructor(private readonly svc: JobsService) {
    super();
  }

  deliver(topic: string, payload: unknown): void {
    this.emit('message', { topic, payload: Buffer.from(JSON.stringify(payload)) });
  }

  connect(): Promise<void> {
    this.connected = true;
    setImmediate(() => this.emit('connect', { sessionPresent: false }));
    return Promise.resolve();
  }

  subscribe = (): Promise<void> => Promise.resolve();
  unsubscribe = (): Promise<void> => Promise.resolve();
  restart(): void {}

  publish(topic: string, payload: string | Buffer): Promise<void> {
    setImmediate(() => {
      const body = JSON.parse(payload.toString()) as { status?: string };
      const jobId = /\/jobs\/([^/]+)\/update$/.exec(topic)?.[1];
      const left = jobId !== undefined && body.status === 'IN_PROGRESS' ? (this.refuseStart.get(jobId) ?? 0) : 0;
      if (left > 0) {
        this.refuseStart.set(jobId as string, left - 1);
        this.svc.setFaults(THING, { throttle: 1 });
      }
      this.svc.handleMqtt(THING, topic, Buffer.from(payload));
      this.svc.setFaults(THING, {});
    });
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.connected = false;
    return Promise.resolve();
  }
}

type Line = Record<string, unknown> & { msg: string };

interface Rig {
  agent: Agent;
  svc: JobsService;
  transport: ServiceTransport;
  lines: Line[];
  /** Job ids in the order their handler began. */
  ran: string[];
  /** Resolves at the first log line (past or future) that `pred` accepts. */
  logged(pred: (l: Line) => boolean): Promise<Line>;
  job(jobId: string, namespaceId?: string): void;
}

let dir: string;
let store: StateStore | undefined;
let rig: Rig | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'start-retry-'));
});
afterEach(async () => {
  await rig?.agent.stop({ immediate: true });
  await store?.close();
  rig = undefined;
  store = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** Each failed start's six attempts follow each other at once (the random source draws the shortest delays). */
async function makeRig(o: { startRetry: AgentDeps['startRetry']; concurrency?: number; namespaces?: string[]; block?: Map<string, Promise<void>> }): Promise<Rig> {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const svc = new JobsService({ clock, publish: (p) => transport.deliver(p.topic, p.payload) });
  svc.createThing(THING);
  const transport = new ServiceTransport(svc);
  const lines: Line[] = [];
  const seen = new EventEmitter();
  const log = createLogger({
    level: 'debug',
    destination: {
      write: (s: string) => {
        const l = JSON.parse(s) as Line;
        lines.push(l);
        seen.emit('line', l);
      },
    },
  });
  const namespaces = o.namespaces ?? [];
  const config = loadConfig({
    overrides: {
      thingName: THING,
      mqtt: { endpoint: '127.0.0.1', port: 8883 },
      tls: { certificateFile: join(dir, 'c.pem'), privateKeyFile: join(dir, 'k.pem'), rootCaFile: join(dir, 'ca.pem') },
      jobs: { concurrency: o.concurrency ?? 1, namespaces, mqttNamespaces: namespaces, requestTimeoutSeconds: 10, drainGraceSeconds: 1 },
      handlers: { directories: [] },
      stateDirectory: dir,
    },
  });
  const ran: string[] = [];
  const record: JobHandler = {
    name: 'record',
    run: async (ctx) => {
      ran.push(ctx.job.jobId);
      await o.block?.get(ctx.job.jobId);
      return { status: 'SUCCEEDED' };
    },
  };
  store = await openStateStore(join(dir, 'journal'));
  const mqttJobs = new MqttJobsClient({ transport, thingName: THING, namespaces, timeoutMs: 10_000 });
  const agent = new Agent({
    config,
    log,
    transport,
    mqttJobs,
    store,
    registry: mapRegistry(new Map([['record', record]])),
    exec: {} as ProcessRunner,
    random: () => 0,
    startRetry: o.startRetry,
  });
  const logged = (pred: (l: Line) => boolean): Promise<Line> => {
    const past = lines.find(pred);
    if (past) return Promise.resolve(past);
    return new Promise((resolve) => {
      const on = (l: Line): void => {
        if (!pred(l)) return;
        seen.off('line', on);
        resolve(l);
      };
      seen.on('line', on);
    });
  };
  // One second apart: queuedAt alone orders them, across namespaces too.
  const job = (jobId: string, namespaceId?: string): void => {
    clock.advance(1000);
    const r = svc.createJob({ jobId, targets: [THING], document: JSON.stringify({ operation: 'record' }), ...(namespaceId ? { namespaceId } : {}) });
    if (!r.ok) throw new Error(`createJob ${jobId}: ${r.error.message}`);
  };
  return { agent, svc, transport, lines, ran, logged, job };
}

const held = (jobId: string) => (l: Line) => l.msg === 'job keeps its place and is tried again after a delay' && l.jobId === jobId;
const reported = (jobId: string) => (l: Line) => l.msg === 'outcome reported' && l.jobId === jobId;
const statusOf = (svc: JobsService, jobId: string): string | undefined => {
  const r = svc.describeJobExecutionControl(jobId, THING);
  return r.ok ? String(r.value.execution.status) : undefined;
};

describe('a job that could not start', () => {
  it('keeps its place: the next job waits, it runs after a growing wait, each job is queued and run once', async () => {
    rig = await makeRig({ startRetry: { baseMs: 400, maxMs: 30_000 } });
    const { agent, transport, lines, ran, logged, job } = rig;
    const queued: string[] = [];
    agent.on('queued', (e: { ref: { jobId: string } }) => queued.push(e.ref.jobId));
    // Two rounds of six refusals: the wait is taken twice, the second one longer.
    transport.refuseStart.set('j2', 12);
    for (const j of ['j1', 'j2', 'j3']) job(j);
    await agent.start();
    await logged(reported('j3'));
    expect(ran).toEqual(['j1', 'j2', 'j3']);
    const waits = lines.filter(held('j2'));
    expect(waits.map((l) => l.failures)).toEqual([1, 2]);
    expect(waits[1]?.delayMs as number).toBeGreaterThan(waits[0]?.delayMs as number);
    // j3 was not even dispatched before j2 started.
    const at = (pred: (l: Line) => boolean): number => lines.findIndex(pred);
    const j2Started = at((l) => l.msg === 'job started' && l.jobId === 'j2');
    expect(at(held('j2'))).toBeLessThan(j2Started);
    expect(at((l) => l.msg === 'job dispatched' && l.jobId === 'j3')).toBeGreaterThan(j2Started);
    expect(transport.refuseStart.get('j2')).toBe(0);
    // Listings and notifications during the waits found it ready: never queued twice.
    expect(queued).toEqual(['j1', 'j2', 'j3']);
    for (const j of ['j1', 'j2', 'j3']) expect(statusOf(rig.svc, j)).toBe('SUCCEEDED');
  });

  it('stop() during the wait returns at once, the waiting slot ends, and neither job has started', async () => {
    // A wait of five minutes at least: had the slot slept it out, it would still be asleep.
    const holdMs = 600_000;
    rig = await makeRig({ startRetry: { baseMs: holdMs, maxMs: holdMs } });
    const { agent, transport, ran, logged, job } = rig;
    transport.refuseStart.set('j1', Number.POSITIVE_INFINITY);
    job('j1');
    job('j2');
    await agent.start();
    const wait = await logged(held('j1'));
    expect(wait.delayMs).toBeGreaterThanOrEqual(holdMs / 2);
    await agent.stop();
    expect(agent.state).toBe('stopped');
    const ctl = new AbortController();
    const idle = await Promise.race([agent.whenIdle().then(() => 'idle'), sleep(holdMs / 20, ctl.signal).then(() => 'still waiting')]);
    ctl.abort();
    expect(idle).toBe('idle');
    expect(ran).toEqual([]);
    expect(statusOf(rig.svc, 'j1')).toBe('QUEUED');
    expect(statusOf(rig.svc, 'j2')).toBe('QUEUED');
  });

  it('with two slots, holds only its own line: another namespace goes on, and the line opens when the job is canceled', async () => {
    const holdMs = 600_000;
    let releaseLong!: () => void;
    const block = new Map([['f1', new Promise<void>((r) => (releaseLong = r))]]);
    rig = await makeRig({ startRetry: { baseMs: holdMs, maxMs: holdMs }, concurrency: 2, namespaces: ['fleet'], block });
    const { agent, svc, transport, ran, logged, job } = rig;
    transport.refuseStart.set('a1', Number.POSITIVE_INFINITY);
    // f1 takes one slot for the whole test, a1 the other; a2 stands behind a1.
    job('f1', 'fleet');
    job('a1');
    job('a2');
    await agent.start();
    await logged(held('a1'));
    // A new job of the other namespace runs during the wait; a2 does not.
    job('f2', 'fleet');
    await logged(reported('f2'));
    expect(ran).toEqual(['f1', 'f2']);
    // Canceled in the cloud while it waits: the next listing drops it and its line opens at once.
    const canceled = svc.cancelJob('a1', {});
    expect(canceled.ok).toBe(true);
    await logged((l) => l.msg === 'queued job left the pending set before it started' && l.jobId === 'a1');
    await logged(reported('a2'));
    expect(ran).toEqual(['f1', 'f2', 'a2']);
    releaseLong();
    await logged(reported('f1'));
    expect(statusOf(svc, 'a1')).toBe('CANCELED');
    expect(statusOf(svc, 'a2')).toBe('SUCCEEDED');
  });
});
