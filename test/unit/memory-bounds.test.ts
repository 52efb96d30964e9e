/**
 * Memory levels off: every structure the agent keeps per job holds at most a bounded recent history,
 * however many jobs pass through it. Each test drives one structure through many more jobs than its
 * bound and checks what is left.
 */
import { EventEmitter, getEventListeners, setMaxListeners } from 'node:events';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ReadyQueue } from '../../src/agent/ready';
import type { Candidate } from '../../src/agent/execution';
import { MqttJobsClient } from '../../src/jobs/mqtt-client';
import { RecentSet } from '../../src/lib/recent';
import { openStateStore } from '../../src/store/file-store';
import { JOURNAL_FILE } from '../../src/store/journal-file';
import { REPORTED_KEEP, applyRecord, emptyState, toSnapshot } from '../../src/store/records';
import type { ExecRef } from '../../src/store/types';
import type { IncomingMessage, Transport } from '../../src/transport/types';

const ref = (i: number, namespace = ''): ExecRef => ({ namespace, jobId: `job-${i}`, executionNumber: 1 });

describe('RecentSet (the agent\'s settled executions)', () => {
  it('never holds more than its limit and forgets the oldest first', () => {
    const s = new RecentSet<string>(100);
    for (let i = 0; i < 5_000; i++) {
      s.add(`k${i}`);
      expect(s.size).toBeLessThanOrEqual(100);
    }
    expect(s.size).toBe(100);
    expect(s.has('k4999')).toBe(true);
    expect(s.has('k4900')).toBe(true);
    expect(s.has('k4899')).toBe(false);
    expect(s.has('k0')).toBe(false);
  });

  it('adding a known key makes it the most recent, so a key still in use is not forgotten', () => {
    const s = new RecentSet<string>(3);
    s.add('a').add('b').add('c');
    s.add('a');
    s.add('d');
    expect(s.has('a')).toBe(true);
    expect(s.has('b')).toBe(false);
    expect(s.size).toBe(3);
    expect(s.delete('a')).toBe(true);
    expect(s.has('a')).toBe(false);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses the limit %p', (limit) => {
    expect(() => new RecentSet(limit)).toThrow(/positive integer/);
  });
});

describe('journal state (records folded in memory)', () => {
  it('after 5,000 jobs started, finished and reported: nothing active, an empty outbox, REPORTED_KEEP recent entries', () => {
    const state = emptyState();
    let n = 0;
    for (let i = 0; i < 5_000; i++) {
      const r = ref(i);
      applyRecord(state, { n: ++n, op: 'start', entry: { ...r, handler: 'noop', startedAt: i } });
      applyRecord(state, { n: ++n, op: 'finish', ref: r, at: i, outcome: { status: 'SUCCEEDED' }, item: { ...r, seq: i + 1, status: 'SUCCEEDED', enqueuedAt: i } });
      applyRecord(state, { n: ++n, op: 'report', ref: r, at: i });
    }
    expect(state.active.size).toBe(0);
    expect(state.outbox).toHaveLength(0);
    expect(state.reported).toHaveLength(REPORTED_KEEP);
    expect(state.reported[REPORTED_KEEP - 1]?.jobId).toBe('job-4999');
    expect(state.reported[0]?.jobId).toBe(`job-${5_000 - REPORTED_KEEP}`);
    expect(toSnapshot(state).entries).toHaveLength(REPORTED_KEEP);
  });

  it('outbox items acknowledged one by one leave nothing behind', () => {
    const state = emptyState();
    for (let i = 0; i < 2_000; i++) {
      const r = ref(i);
      applyRecord(state, { n: 2 * i + 1, op: 'finish', ref: r, at: i, outcome: { status: 'FAILED' }, item: { ...r, seq: i + 1, status: 'FAILED', enqueuedAt: i } });
      applyRecord(state, { n: 2 * i + 2, op: 'ack', seq: i + 1 });
    }
    expect(state.outbox).toHaveLength(0);
  });
});

describe('the durable store over many jobs', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'bounds-'));
  });
  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('holds REPORTED_KEEP entries and a journal file no longer than one compaction interval', async () => {
    const compactEvery = 100;
    const s = await openStateStore(dir, { compactEvery });
    try {
      let largestJournal = 0;
      for (let i = 0; i < REPORTED_KEEP + 2 * compactEvery; i++) {
        const r = ref(i);
        await s.markStarted({ ...r, handler: 'noop', startedAt: i });
        await s.markFinished(r, { status: 'SUCCEEDED' }, { status: 'SUCCEEDED' });
        await s.markReported(r);
        largestJournal = Math.max(largestJournal, (await fsp.stat(path.join(dir, JOURNAL_FILE))).size);
      }
      expect(s.entries()).toHaveLength(REPORTED_KEEP);
      expect(s.pending()).toHaveLength(0);
      // A record is a few hundred bytes at most: the file is cut back at every compaction.
      expect(largestJournal).toBeLessThan(compactEvery * 1_000);
    } finally {
      await s.close();
    }
  });
});

describe('the ready queue', () => {
  it('after 5,000 candidates queued and taken holds nothing', () => {
    const q = new ReadyQueue<Candidate>();
    for (let i = 0; i < 5_000; i++) {
      q.add({ ...ref(i, i % 2 ? 'ns' : ''), queuedAt: i, mode: 'fresh' });
      if (i % 3 === 2) while (q.takeNext());
    }
    while (q.takeNext());
    expect(q.size).toBe(0);
    expect(q.keys()).toEqual([]);
    expect(q.hasNamespace('') || q.hasNamespace('ns')).toBe(false);
  });
});

/** Answers every request (or lets it time out, or fails its publish) the way the service would. */
class ScriptedTransport extends EventEmitter implements Transport {
  restart(): void {}
  connected = true;
  n = 0;
  connect = (): Promise<void> => Promise.resolve();
  subscribe = (): Promise<void> => Promise.resolve();
  unsubscribe = (): Promise<void> => Promise.resolve();
  close = (): Promise<void> => Promise.resolve();
  publish(topic: string, payload: string | Buffer): Promise<void> {
    const i = this.n++;
    if (i % 10 === 9) return Promise.reject(new Error('offline'));
    if (i % 10 === 8) return Promise.resolve(); // never answered: the request times out
    const { clientToken } = JSON.parse(payload.toString()) as { clientToken: string };
    const answer = i % 2 ? 'accepted' : 'rejected';
    const body = answer === 'accepted' ? { clientToken, timestamp: 1 } : { clientToken, code: 'ResourceNotFound', message: 'gone' };
    setImmediate(() => this.emit('message', { topic: `${topic}/${answer}`, payload: Buffer.from(JSON.stringify(body)) } satisfies IncomingMessage));
    return Promise.resolve();
  }
}

describe('the MQTT Jobs client', () => {
  it('after 2,000 requests answered, refused, timed out or not sent: no request held, one message listener, no abort listeners', async () => {
    const t = new ScriptedTransport();
    const c = new MqttJobsClient({ transport: t, thingName: 't1', timeoutMs: 50 });
    const stop = new AbortController();
    // 2,000 requests wait on it at once here; the point is that none is left once they settle.
    setMaxListeners(2_500, stop.signal);
    const settled = await Promise.allSettled(Array.from({ length: 2_000 }, (_, i) => c.describe(`job-${i}`, {}, { signal: stop.signal })));
    expect(settled.filter((s) => s.status === 'fulfilled').length).toBeGreaterThan(0);
    expect(settled.filter((s) => s.status === 'rejected').length).toBeGreaterThan(0);
    expect((c as unknown as { pending: Map<string, unknown> }).pending.size).toBe(0);
    expect(t.listenerCount('message')).toBe(1);
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
    await c.close();
  });
});
