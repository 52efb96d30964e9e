/**
 * Bad input on every topic the agent subscribes to, against the real MqttJobsClient over a loopback
 * transport: whatever arrives, nothing throws, listeners only ever see validated messages, and an
 * outstanding request still completes with the service's real answer afterwards.
 */
import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { MqttJobsClient } from '../../src/jobs/mqtt-client';
import type { NotifyMsg, NotifyNextMsg } from '../../src/jobs/types';
import type { Transport } from '../../src/transport/types';

class LoopbackTransport extends EventEmitter implements Transport {
  restart(): void {}
  connected = true;
  published: { topic: string; payload: Record<string, unknown> }[] = [];
  connect(): Promise<void> {
    return Promise.resolve();
  }
  subscribe(): Promise<void> {
    return Promise.resolve();
  }
  unsubscribe(): Promise<void> {
    return Promise.resolve();
  }
  publish(topic: string, payload: string | Buffer): Promise<void> {
    this.published.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> });
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const THING = 'fz1';
const NS = 'fleet';

/** Concrete topics for every subscription filter: `+` becomes a job id, or accepted/rejected at the end. */
function concreteTopics(filters: readonly string[]): fc.Arbitrary<string> {
  const jobId = fc.constantFrom('j1', '$next', 'x-y_z', 'notify', 'get', 'namespace-fleet');
  return fc.constantFrom(...filters).chain((f) => {
    const parts = f.split('/');
    return fc.tuple(...parts.map((p, i) => (p !== '+' ? fc.constant(p) : i === parts.length - 1 ? fc.constantFrom('accepted', 'rejected', 'other') : jobId))).map((ps) => ps.join('/'));
  });
}

/** Payloads: raw bytes, any JSON, and near-valid Jobs messages with wrong field types. */
const execution = fc.record({ jobId: fc.oneof(fc.string(), fc.integer()), status: fc.oneof(fc.constantFrom('QUEUED', 'IN_PROGRESS', 'SUCCEEDED', 'nope'), fc.integer()), versionNumber: fc.oneof(fc.integer(), fc.string()), executionNumber: fc.oneof(fc.integer(), fc.constant(null)), queuedAt: fc.oneof(fc.integer(), fc.string()), jobDocument: fc.oneof(fc.object(), fc.string()) }, { requiredKeys: [] });
const nearValid = fc.record(
  {
    clientToken: fc.oneof(fc.string(), fc.integer(), fc.object()),
    timestamp: fc.oneof(fc.integer(), fc.string(), fc.constant(null)),
    code: fc.oneof(fc.constantFrom('VersionMismatch', 'RequestThrottled', 'InternalError', 'Nope'), fc.integer()),
    jobs: fc.oneof(fc.dictionary(fc.constantFrom('QUEUED', 'IN_PROGRESS', 'x'), fc.array(execution, { maxLength: 3 })), fc.string(), fc.array(fc.anything())),
    execution: fc.oneof(execution, fc.string(), fc.constant(null)),
    executionState: fc.oneof(execution, fc.integer()),
    queuedJobs: fc.oneof(fc.array(execution, { maxLength: 3 }), fc.string()),
    inProgressJobs: fc.oneof(fc.array(execution, { maxLength: 3 }), fc.object()),
  },
  { requiredKeys: [] },
);
const payload = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? '')),
  nearValid.map((v) => Buffer.from(JSON.stringify(v))),
  fc.string().map((s) => Buffer.from(s)),
);

describe('fuzz: MQTT payloads on every subscribed topic', () => {
  const probe = new MqttJobsClient({ transport: new LoopbackTransport(), thingName: THING, namespaces: [NS] });
  const topicsArb = concreteTopics(probe.subscriptions());

  it('never throws; listeners only see well-formed notify and notify-next messages', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(topicsArb, payload), { minLength: 1, maxLength: 30 }), (msgs) => {
        const t = new LoopbackTransport();
        const c = new MqttJobsClient({ transport: t, thingName: THING, namespaces: [NS] });
        const notes: NotifyMsg[] = [];
        const nexts: NotifyNextMsg[] = [];
        c.onNotify((m) => notes.push(m));
        c.onNotifyNext((m) => nexts.push(m));
        for (const [topic, body] of msgs) t.emit('message', { topic, payload: body });
        for (const n of notes) expect(typeof n.jobs === 'object' && n.jobs !== null && !Array.isArray(n.jobs)).toBe(true);
        for (const n of nexts) if (n.execution !== undefined) expect(typeof n.execution.jobId).toBe('string');
        void c.close();
      }),
      { numRuns: 300 },
    );
  });

  it('an outstanding request ignores junk on its own response topics and resolves with the real answer', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(payload, { maxLength: 12 }), fc.array(fc.tuple(topicsArb, payload), { maxLength: 10 }), async (own, other) => {
        const t = new LoopbackTransport();
        const c = new MqttJobsClient({ transport: t, thingName: THING, namespaces: [NS], timeoutMs: 2_000 });
        const p = c.getPending();
        const req = t.published[0];
        if (!req) throw new Error('no request published');
        for (const body of own) t.emit('message', { topic: `${req.topic}/accepted`, payload: body });
        for (const [topic, body] of other) t.emit('message', { topic, payload: body });
        const answer = { clientToken: req.payload.clientToken, timestamp: 5, inProgressJobs: [], queuedJobs: [{ jobId: 'real', queuedAt: 1, lastUpdatedAt: 1, versionNumber: 1, executionNumber: 1 }] };
        t.emit('message', { topic: `${req.topic}/accepted`, payload: Buffer.from(JSON.stringify(answer)) });
        const r = await p;
        expect(r.queuedJobs.map((j) => j.jobId)).toEqual(['real']);
        await c.close();
      }),
      { numRuns: 200 },
    );
  });

  it('a request whose publish waits for its PUBACK past the timeout rejects with a timeout in time, never as an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const t = new LoopbackTransport();
      let release: () => void = () => undefined;
      // A half-open connection: the QoS 1 publish is never acknowledged while the request times out.
      t.publish = () => new Promise<void>((r) => (release = r));
      const c = new MqttJobsClient({ transport: t, thingName: THING, timeoutMs: 50 });
      const p = c.describe('j1');
      // The timeout first, then the late PUBACK.
      await expect(p).rejects.toMatchObject({ code: 'Timeout' });
      release();
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
