/**
 * IN_PROGRESS updates while a handler runs: rate-limited (latest details win), chained with
 * expectedVersion, sanitised. A rejection showing the execution terminal aborts the job.
 */
import type { JobsApi, CallOptions } from '../jobs/api';
import { sanitizeDetails } from '../jobs/details';
import { JobsRejectedError } from '../jobs/errors';
import { isTerminal } from '../jobs/types';
import type { ExecStatus } from '../jobs/types';
import { monotonicMs } from '../lib/clock';
import { errorMessage } from '../lib/errors';
import type { Logger } from '../lib/log';

export interface ProgressOptions {
  api: JobsApi;
  jobId: string;
  executionNumber: number;
  callOptions: CallOptions;
  intervalMs: number;
  version: number;
  log: Logger;
  /** The service says the execution is over (canceled, timed out…). */
  onTerminal(status: ExecStatus | 'deleted'): void;
}

export class ProgressReporter {
  private version: number;
  private latest: Record<string, string> | undefined;
  /** Monotonic: a wall-clock jump must neither flood the service nor hold progress back for a day. */
  private lastSentAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly o: ProgressOptions) {
    this.version = o.version;
  }

  get currentVersion(): number {
    return this.version;
  }

  report(details: Record<string, string>): void {
    if (this.closed) return;
    this.latest = sanitizeDetails(details);
    if (this.timer) return;
    const wait = Math.max(0, this.lastSentAt + this.o.intervalMs - monotonicMs());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.chain = this.chain.then(() => this.send());
    }, wait);
    this.timer.unref();
  }

  /** Stop reporting and wait for an update in flight, so the final update's version is right. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.chain;
  }

  private async send(): Promise<void> {
    const details = this.latest;
    this.latest = undefined;
    if (!details || this.closed) return;
    this.lastSentAt = monotonicMs();
    try {
      await this.o.api.update(this.o.jobId, { status: 'IN_PROGRESS', statusDetails: details, expectedVersion: this.version, executionNumber: this.o.executionNumber }, this.o.callOptions);
      this.version += 1;
    } catch (err) {
      if (err instanceof JobsRejectedError && err.executionState) {
        const st = err.executionState;
        if (isTerminal(st.status)) return this.o.onTerminal(st.status);
        this.version = st.versionNumber; // someone else (a duplicate of ours) moved it on: catch up
        return;
      }
      const code = (err as { code?: unknown }).code;
      if (code === 'ResourceNotFound') return this.o.onTerminal('deleted');
      const st = (err as { executionState?: { status?: ExecStatus; versionNumber?: number } }).executionState;
      if (st?.status && isTerminal(st.status)) return this.o.onTerminal(st.status);
      if (typeof st?.versionNumber === 'number') this.version = st.versionNumber;
      this.o.log.debug({ err: errorMessage(err) }, 'progress update not delivered');
    }
  }
}
