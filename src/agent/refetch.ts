/**
 * Per-namespace "fetch again later" timers: after a failed fetch or a job that could not start,
 * each namespace is fetched again after its own capped, jittered backoff, one timer at a time.
 */
import { Backoff } from '../lib/backoff';

export class RefetchTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly backoffs = new Map<string, Backoff>();

  constructor(private readonly fetch: (ns: string) => void) {}

  /** Schedules one fetch of `ns` unless one is already scheduled. */
  later(ns: string): void {
    if (this.timers.has(ns)) return;
    const b = this.backoffs.get(ns) ?? new Backoff({ baseMs: 500, maxMs: 30_000 });
    this.backoffs.set(ns, b);
    const t = setTimeout(() => {
      this.timers.delete(ns);
      this.fetch(ns);
    }, 250 + b.next());
    t.unref();
    this.timers.set(ns, t);
  }

  /** A fetch of `ns` succeeded: its next failure starts the backoff from the beginning. */
  succeeded(ns: string): void {
    this.backoffs.get(ns)?.reset();
  }

  /** Fetches every scheduled namespace now (e.g. the wall clock stepped, so waiting may be moot). */
  fireAll(): void {
    const due = [...this.timers.keys()];
    this.cancelAll();
    for (const ns of due) this.fetch(ns);
  }

  cancelAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
