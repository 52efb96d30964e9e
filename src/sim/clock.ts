/**
 * The local Jobs service's clock: real (or `--time-scale`d) time plus an offset that only grows.
 * `POST /sim/clock` moves it forward so a test can reach a job's scheduled start, the next
 * maintenance window or the next rollout minute without waiting; time never runs backwards, so
 * every timestamp the service has handed out stays in the past.
 */
import type { Clock } from '../lib/clock';

/** The largest single move: past the longest AWS horizon (a job may end two years after it starts). */
export const MAX_ADVANCE_MS = 3 * 366 * 24 * 3_600_000;

export class SimClock implements Clock {
  private offset = 0;

  constructor(private readonly base: Clock) {}

  now(): number {
    return this.base.now() + this.offset;
  }

  /** Milliseconds added so far by `advance`. */
  get offsetMs(): number {
    return this.offset;
  }

  advance(ms: number): void {
    if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_ADVANCE_MS) {
      throw new RangeError(`clock advance must be a whole number of milliseconds between 0 and ${MAX_ADVANCE_MS}`);
    }
    this.offset += ms;
  }
}

/** What the control plane needs to show and move the clock (the runtime fires due timers after a move). */
export interface ClockControl {
  now(): number;
  offsetMs(): number;
  advance(ms: number): void;
}
