/**
 * A job that could not start keeps its place (docs/ARCHITECTURE.md §3, "Order"). When an execution's
 * start fails for a passing reason (its describe or IN_PROGRESS update throttled, refused with an
 * internal error or timed out more often than the execution's own retries allow, or the journal
 * unable to take its start), it goes back to the head of its namespace's line and the line is held
 * for a backoff delay: no later job of that namespace starts meanwhile, or it would run before the
 * one the service queued first. Other namespaces are lines of their own and go on. The delay grows
 * with each failure of that execution in a row (one backoff per execution) and starts from the
 * beginning once it has started or gone.
 */
import { Backoff } from '../lib/backoff';
import type { BackoffOptions } from '../lib/backoff';
import { monotonicMs } from '../lib/clock';
import { RecentMap } from '../lib/recent';
import type { ExecRef } from '../store/types';
import type { Orderable } from './order';
import type { Entry, ReadyQueue } from './ready';
import { refKey } from './reconcile';

/** Executions whose failures in a row are counted: more are not waiting at once in practice, and a forgotten count only restarts its backoff. */
const FAILURES_KEEP = 1_000;

interface Hold {
  /** The execution that could not start. */
  key: string;
  /** Monotonic time the line opens again. */
  until: number;
  timer: NodeJS.Timeout;
}

export class StartHolds {
  private readonly failures = new RecentMap<string, Backoff>(FAILURES_KEEP);
  /** Held lines, by namespace. */
  private readonly holds = new Map<string, Hold>();
  private waiters: (() => void)[] = [];
  private readonly opts: BackoffOptions;

  /** Delays double from baseMs to maxMs. */
  constructor(o: { baseMs: number; maxMs: number; random?: (() => number) | undefined }) {
    // Equal jitter: the wait really grows with each failure in a row; it never draws ~0 and tries again at once.
    this.opts = { baseMs: o.baseMs, maxMs: o.maxMs, jitter: 'equal', ...(o.random ? { random: o.random } : {}) };
  }

  /**
   * The first candidate of `ready` whose line is not held. While only held lines have candidates it
   * waits — never spins — for a line to open, a new candidate (`wake`) or `signal`; undefined once
   * nothing is ready or `active()` says the agent no longer takes jobs.
   */
  async take<T extends Orderable & ExecRef>(ready: ReadyQueue<T>, active: () => boolean, signal: AbortSignal): Promise<Entry<T> | undefined> {
    for (;;) {
      if (!active()) return undefined;
      const c = ready.takeNext((ns) => this.isHeld(ns));
      if (c || ready.size === 0) return c;
      await this.changed(signal);
    }
  }

  /**
   * `c`, taken from `ready`, could not start: back in its place, its line held. The delay and its
   * failures in a row, or undefined when it is queued again already (nothing to hold).
   */
  putBack<T extends Orderable & ExecRef>(ready: ReadyQueue<T>, c: Entry<T>): { delayMs: number; failures: number } | undefined {
    return ready.putBack(c) ? this.hold(c) : undefined;
  }

  /**
   * `ref` could not start: holds its namespace's line for its next backoff delay (or longer, when the
   * line is held already for longer). Returns the delay and how many times in a row it failed.
   */
  hold(ref: ExecRef): { delayMs: number; failures: number } {
    const key = refKey(ref);
    const backoff = this.failures.get(key) ?? new Backoff(this.opts);
    this.failures.set(key, backoff);
    const delayMs = backoff.next();
    const until = monotonicMs() + delayMs;
    const held = this.holds.get(ref.namespace);
    if (held === undefined || held.until < until) {
      if (held) clearTimeout(held.timer);
      const timer = setTimeout(() => this.open(ref.namespace), delayMs);
      timer.unref();
      this.holds.set(ref.namespace, { key, until, timer });
    }
    return { delayMs, failures: backoff.attempts };
  }

  /** True while the namespace's line waits for an execution that could not start. */
  isHeld(namespace: string): boolean {
    return this.holds.has(namespace);
  }

  /**
   * The execution started, ended without starting, or left the pending set: its next failure waits
   * from the beginning, and a line held for it opens now (what stands behind it may go).
   */
  forget(key: string): void {
    this.failures.delete(key);
    for (const [ns, h] of this.holds) if (h.key === key) this.open(ns);
  }

  /** Resolves when a line opens, `wake()` is called, or `signal` fires: the moment to look again. */
  changed(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        signal.removeEventListener('abort', done);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      this.waiters.push(done);
    });
  }

  /** Something else may be ready now (a new candidate, possibly of another line). */
  wake(): void {
    const due = this.waiters;
    this.waiters = [];
    for (const w of due) w();
  }

  /** The agent stops: every line opens and every waiter looks again at once (and finds the agent stopping). */
  clear(): void {
    for (const h of this.holds.values()) clearTimeout(h.timer);
    this.holds.clear();
    this.wake();
  }

  private open(namespace: string): void {
    const h = this.holds.get(namespace);
    if (!h) return;
    clearTimeout(h.timer);
    this.holds.delete(namespace);
    this.wake();
  }
}
