/**
 * Sends the persisted status outbox to the cloud, strictly in order, one update at a time. An item
 * leaves the outbox only when the service has accepted it — or has shown that the execution already
 * has that status (a duplicate after a lost response) or can no longer change (terminal, deleted).
 * Transient failures (offline, timeout, throttling, internal error) back off and retry.
 */
import { JobsRejectedError } from '../jobs/errors';
import type { JobsApi } from '../jobs/api';
import { isTerminal } from '../jobs/types';
import { Backoff, sleep } from '../lib/backoff';
import { monotonicMs } from '../lib/clock';
import { errorMessage } from '../lib/errors';
import type { Logger } from '../lib/log';
import type { OutboxItem, StateStore } from '../store/types';
import { stateOfAnother } from './incarnation';

export interface OutboxSenderOptions {
  store: StateStore;
  apiFor(namespace: string): JobsApi;
  log: Logger;
  isOnline(): boolean;
  timeoutMs: number;
  onReported?(item: OutboxItem, how: 'accepted' | 'already' | 'gone'): void;
}

type Verdict = 'done-accepted' | 'done-already' | 'done-gone' | 'retry' | { retryWithVersion: number };

/** What a rejection means for one outbox item. */
export function judgeRejection(item: OutboxItem, err: unknown): Verdict {
  if (!(err instanceof JobsRejectedError)) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ResourceNotFound' || code === 'InvalidStateTransition' || code === 'TerminalState') return 'done-gone';
    return 'retry';
  }
  const st = err.executionState;
  if (st && st.status === item.status) return 'done-already';
  switch (err.rejectCode) {
    case 'VersionMismatch':
    case 'InvalidStateTransition':
      // Over HTTPS a version mismatch arrives as InvalidStateTransitionException with the stored state.
      if (st && isTerminal(st.status)) return 'done-gone';
      // A version below ours: a new job behind this id, or our start never reached the service. Either way
      // this outcome is not its outcome; retrying at its version would finish a job that never ran.
      if (st && stateOfAnother(item.expectedVersion, st)) return 'done-gone';
      if (st) return { retryWithVersion: st.versionNumber };
      return err.rejectCode === 'VersionMismatch' ? 'retry' : 'done-gone';
    case 'TerminalStateReached':
    case 'ResourceNotFound':
      return 'done-gone';
    case 'RequestThrottled':
    case 'InternalError':
      return 'retry';
    case 'InvalidRequest':
    case 'InvalidJson':
    case 'InvalidTopic':
      // Our update can never be accepted as written: drop it rather than block every later outcome.
      return 'done-gone';
  }
}

export class OutboxSender {
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private stopped = false;
  private readonly backoff = new Backoff({ baseMs: 200, maxMs: 30_000 });
  private readonly abort = new AbortController();

  constructor(private readonly o: OutboxSenderOptions) {}

  /** Start (or nudge) the sender. */
  kick(): void {
    if (this.stopped) return;
    if (this.wake) {
      const w = this.wake;
      this.wake = undefined;
      w();
    }
    this.running ??= this.loop().finally(() => {
      this.running = undefined;
    });
  }

  get size(): number {
    return this.o.store.pending().length;
  }

  /** Resolves when the outbox is empty, or after `ms`; true if empty. */
  async flush(ms: number): Promise<boolean> {
    this.kick();
    const deadline = monotonicMs() + ms;
    while (this.o.store.pending().length > 0 && monotonicMs() < deadline && this.o.isOnline()) {
      await Promise.race([this.running ?? Promise.resolve(), sleep(Math.min(50, Math.max(1, deadline - monotonicMs())))]);
      if (!this.running) this.kick();
    }
    return this.o.store.pending().length === 0;
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
    this.wake?.();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const item = this.o.store.pending()[0];
      if (!item) return;
      if (!this.o.isOnline()) return; // resumed by kick() on reconnect
      let verdict: Verdict;
      try {
        verdict = await this.sendOne(item);
      } catch (err) {
        // Nothing may end this loop but stop(): an outcome waiting here is the one thing not to lose.
        this.o.log.error({ jobId: item.jobId, err: errorMessage(err) }, 'status outbox: unexpected failure; will retry');
        verdict = 'retry';
      }
      if (verdict === 'retry' || this.stopped) {
        await this.pause(this.backoff.next());
        continue;
      }
      this.backoff.reset();
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  private async sendOne(item: OutboxItem): Promise<Verdict> {
    const api = this.o.apiFor(item.namespace);
    let expectedVersion = item.expectedVersion;
    for (let attempt = 0; attempt < 3; attempt++) {
      const req: Parameters<JobsApi['update']>[1] = { status: item.status, executionNumber: item.executionNumber };
      if (item.statusDetails) req.statusDetails = item.statusDetails;
      if (expectedVersion !== undefined) req.expectedVersion = expectedVersion;
      const opts = item.namespace === '' ? { timeoutMs: this.o.timeoutMs, signal: this.abort.signal } : { namespace: item.namespace, timeoutMs: this.o.timeoutMs, signal: this.abort.signal };
      let verdict: Verdict;
      try {
        await api.update(item.jobId, req, opts);
        verdict = 'done-accepted';
      } catch (err) {
        verdict = judgeRejection(item, err);
        if (verdict === 'retry') this.o.log.warn({ jobId: item.jobId, err: errorMessage(err) }, 'status update not delivered; will retry');
      }
      if (typeof verdict === 'object') {
        if (verdict.retryWithVersion !== expectedVersion) {
          expectedVersion = verdict.retryWithVersion;
          continue;
        }
        // Refused at the version the service itself reports: a transition it will never accept.
        this.o.log.error({ jobId: item.jobId, executionNumber: item.executionNumber, status: item.status }, 'the service refuses this status update; dropping it so later outcomes are not held back');
        verdict = 'done-gone';
      }
      if (verdict !== 'retry') await this.settle(item, verdict);
      return verdict;
    }
    this.o.log.warn({ jobId: item.jobId, executionNumber: item.executionNumber }, 'execution version keeps moving while we update it; will retry');
    return 'retry';
  }

  private async settle(item: OutboxItem, v: 'done-accepted' | 'done-already' | 'done-gone'): Promise<void> {
    if (v === 'done-gone') this.o.log.warn({ jobId: item.jobId, executionNumber: item.executionNumber, status: item.status }, 'execution can no longer be updated; outcome dropped from the outbox');
    // One durable record (one fsync): `reported` also takes the execution's items out of the outbox.
    await this.o.store.markReported(item);
    this.o.onReported?.(item, v === 'done-accepted' ? 'accepted' : v === 'done-already' ? 'already' : 'gone');
  }
}
