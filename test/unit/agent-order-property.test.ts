/**
 * Properties of the dispatch order over generated mixes of namespaces, execution numbers, queuedAt
 * ties, retries, start-up IN_PROGRESS executions, listings that arrive late or out of order, and
 * concurrency above 1. The model is a service that keeps one pending order per namespace (creation
 * order, queuedAt never decreasing) and answers listings with the first 10 of it.
 */
import fc from 'fast-check';
import { compareExecutions } from '../../src/agent/order';
import type { Sequenced } from '../../src/agent/order';
import { ReadyQueue } from '../../src/agent/ready';
import type { Candidate } from '../../src/agent/execution';
import { LIST_CAP, refKey } from '../../src/agent/reconcile';

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);

const sequenced: fc.Arbitrary<Sequenced> = fc.record({
  jobId: fc.constantFrom('a', 'b', 'c'),
  executionNumber: fc.integer({ min: 1, max: 3 }),
  queuedAt: fc.integer({ min: 0, max: 2 }),
  seen: fc.integer({ min: 0, max: 3 }),
  namespace: fc.constantFrom('', 'x', 'y'),
  resumeFirst: fc.boolean(),
});

describe('compareExecutions is a strict weak (here: total) order', () => {
  it('is antisymmetric and reflexive', () => {
    fc.assert(
      fc.property(sequenced, sequenced, (a, b) => {
        expect(sign(compareExecutions(a, b)) + sign(compareExecutions(b, a))).toBe(0);
        expect(compareExecutions(a, a)).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('is transitive, for "before" and for "not after"', () => {
    fc.assert(
      fc.property(sequenced, sequenced, sequenced, (a, b, c) => {
        if (compareExecutions(a, b) < 0 && compareExecutions(b, c) < 0) expect(compareExecutions(a, c)).toBeLessThan(0);
        if (compareExecutions(a, b) <= 0 && compareExecutions(b, c) <= 0) expect(compareExecutions(a, c)).toBeLessThanOrEqual(0);
      }),
      { numRuns: 5000 },
    );
  });
});

// ---- The dispatch model ----

type Cmd =
  | { t: 'create'; ns: number; executionNumber: number; nextSecond: boolean; jobId: string }
  | { t: 'list'; ns: number; late: boolean }
  | { t: 'deliverLate'; which: number }
  | { t: 'begin' }
  | { t: 'take' }
  | { t: 'finish'; which: number };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('create' as const), ns: fc.nat(2), executionNumber: fc.integer({ min: 1, max: 3 }), nextSecond: fc.boolean(), jobId: fc.string({ minLength: 1, maxLength: 3 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('list' as const), ns: fc.nat(2), late: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('deliverLate' as const), which: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'begin' as const }) },
  { weight: 3, arbitrary: fc.constant({ t: 'take' as const }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('finish' as const), which: fc.nat(5) }) },
);

interface Truth {
  c: Candidate;
  /** Position in the service's order of its namespace (creation order; start-up ones negative). */
  pos: number;
}

class World {
  readonly q = new ReadyQueue<Candidate>();
  readonly truth = new Map<string, Truth>();
  /** Per namespace, the service's pending order (queued and running). */
  readonly pending = new Map<string, string[]>();
  readonly learned = new Map<string, number>();
  readonly taken: string[] = [];
  readonly running: string[] = [];
  readonly late: string[][] = [];
  clock = 1000;
  created = 0;
  learnCount = 0;
  begun = false;

  constructor(readonly namespaces: string[], readonly concurrency: number) {
    for (const ns of namespaces) this.pending.set(ns, []);
  }

  resumeAtStartup(ns: string, jobId: string): void {
    const c: Candidate = { namespace: ns, jobId, executionNumber: 1, queuedAt: 0, resumeFirst: true, mode: 'rerun' };
    this.truth.set(refKey(c), { c, pos: -1000 + this.truth.size });
    this.learn(c);
  }

  create(ns: string, jobId: string, executionNumber: number, nextSecond: boolean): void {
    if (nextSecond) this.clock += 1;
    const c: Candidate = { namespace: ns, jobId: `${jobId}#${this.created}`, executionNumber, queuedAt: this.clock, mode: 'fresh' };
    this.truth.set(refKey(c), { c, pos: this.created++ });
    this.pending.get(ns)?.push(refKey(c));
  }

  /** What GetPendingJobExecutions would answer now: the first 10 of the namespace's pending order. */
  listing(ns: string): string[] {
    return (this.pending.get(ns) ?? []).slice(0, LIST_CAP);
  }

  deliver(keys: string[]): void {
    for (const k of keys) {
      const t = this.truth.get(k);
      if (t && !this.taken.includes(k) && !this.q.has(k)) this.learn(t.c);
    }
  }

  private learn(c: Candidate): void {
    if (this.q.add(c)) this.learned.set(refKey(c), ++this.learnCount);
  }

  begin(): void {
    if (this.begun) return;
    this.begun = true;
    this.q.resequence(this.namespaces);
    // The documented rule: what was found before dispatch began is ranked by configuration order.
    const waiting = this.q.keys().sort((a, b) => this.rankNs(a) - this.rankNs(b) || this.nsKey(a, b));
    waiting.forEach((k, i) => this.learned.set(k, i + 1));
    this.learnCount = waiting.length;
  }

  private rankNs(k: string): number {
    return this.namespaces.indexOf(this.get(k).c.namespace);
  }

  get(k: string): Truth {
    const t = this.truth.get(k);
    if (!t) throw new Error(`unknown ${k}`);
    return t;
  }

  /** The service's order within one namespace, refined by executionNumber (retries after first runs). */
  nsKey(a: string, b: string): number {
    const x = this.get(a);
    const y = this.get(b);
    return (x.c.resumeFirst ? 0 : 1) - (y.c.resumeFirst ? 0 : 1) || x.c.executionNumber - y.c.executionNumber || x.pos - y.pos;
  }

  /** The documented keys between namespace heads. */
  headKey(a: string, b: string): number {
    const x = this.get(a).c;
    const y = this.get(b).c;
    return (x.resumeFirst ? 0 : 1) - (y.resumeFirst ? 0 : 1) || x.executionNumber - y.executionNumber || x.queuedAt - y.queuedAt || (this.learned.get(a) ?? 0) - (this.learned.get(b) ?? 0);
  }

  take(): void {
    if (!this.begun || this.running.length >= this.concurrency) return;
    const next = this.q.takeNext();
    if (!next) return;
    const k = refKey(next);
    const waiting = this.q.keys();
    // Within its namespace, nothing still waiting comes before it in the service's order.
    for (const w of waiting) if (this.get(w).c.namespace === next.namespace) expect(this.nsKey(k, w)).toBeLessThan(0);
    // Among the other namespaces' heads, the documented keys put it first.
    for (const ns of this.namespaces) {
      if (ns === next.namespace) continue;
      const lane = waiting.filter((w) => this.get(w).c.namespace === ns).sort((a, b) => this.nsKey(a, b));
      if (lane[0] !== undefined) expect(this.headKey(k, lane[0])).toBeLessThan(0);
    }
    expect(this.taken).not.toContain(k);
    this.taken.push(k);
    this.running.push(k);
  }

  finish(which: number): void {
    const k = this.running.splice(which % Math.max(1, this.running.length), 1)[0];
    if (k === undefined) return;
    const lane = this.pending.get(this.get(k).c.namespace);
    if (lane && lane.includes(k)) lane.splice(lane.indexOf(k), 1);
  }
}

describe('the ready queue dispatches in each namespace\'s service order, and the documented keys decide between heads', () => {
  it('holds for generated mixes of namespaces, retries, ties, late listings and concurrency', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.tuple(fc.nat(2), fc.string({ minLength: 1, maxLength: 2 })), { maxLength: 3 }),
        fc.array(cmd, { maxLength: 120 }),
        (nsCount, concurrency, resumed, cmds) => {
          const namespaces = ['', 'nsa', 'nsb'].slice(0, nsCount);
          const w = new World(namespaces, concurrency);
          const nsOf = (i: number): string => namespaces[i % namespaces.length] as string;
          resumed.forEach(([ns, id], i) => w.resumeAtStartup(nsOf(ns), `${id}-r${i}`));
          for (const m of cmds) {
            if (m.t === 'create') w.create(nsOf(m.ns), m.jobId, m.executionNumber, m.nextSecond);
            else if (m.t === 'list') {
              const l = w.listing(nsOf(m.ns));
              if (m.late) w.late.push(l);
              else w.deliver(l);
            } else if (m.t === 'deliverLate') {
              const l = w.late.splice(m.which % Math.max(1, w.late.length), 1)[0];
              if (l) w.deliver(l);
            } else if (m.t === 'begin') w.begin();
            else if (m.t === 'take') w.take();
            else w.finish(m.which);
          }
          // Drain: every execution the agent learned of is dispatched exactly once.
          w.begin();
          while (w.q.size > 0) {
            w.finish(0);
            w.take();
          }
          expect(new Set(w.taken).size).toBe(w.taken.length);
          expect(w.taken.length).toBe(w.learned.size);
        },
      ),
      { numRuns: 400 },
    );
  });
});
