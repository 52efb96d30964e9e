/**
 * The slow back-off after a take-over. Two clients with one client id knock each other off at every
 * connect; with the ordinary reconnect back-off they would fight at full speed (and AWS IoT throttles
 * connects per client id). After a take-over the waits grow from maxMs/64 to maxMs with equal jitter
 * (they really grow, so the pair drifts minutes apart), and a connection that outlives maxMs means the
 * other client has gone: its own waits are no longer than that.
 */
import { Backoff } from '../lib/backoff';

export const DEFAULT_TAKEOVER_BACKOFF_MS = 300_000;

export class TakeOverWatch {
  private readonly backoff: Backoff;
  private active = false;
  private settleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly maxMs: number = DEFAULT_TAKEOVER_BACKOFF_MS,
    private readonly onSettled: () => void,
  ) {
    this.backoff = new Backoff({ baseMs: Math.max(1, Math.floor(maxMs / 64)), maxMs, jitter: 'equal' });
  }

  get takenOver(): boolean {
    return this.active;
  }

  /** The connection closed; `takenOver` when the close was (likely) a take-over. */
  disconnected(takenOver: boolean): void {
    this.clearTimer();
    if (takenOver) this.active = true;
  }

  /** The wait before the next attempt while taken over; undefined otherwise (use the ordinary back-off). */
  delay(): number | undefined {
    return this.active ? this.backoff.next() : undefined;
  }

  connected(): void {
    this.clearTimer();
    if (!this.active) return;
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      this.active = false;
      this.backoff.reset();
      this.onSettled();
    }, this.maxMs);
    this.settleTimer.unref();
  }

  stop(): void {
    this.clearTimer();
  }

  private clearTimer(): void {
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
  }
}
