/** Injectable time, so timer logic is tested without waiting. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to (tests, simulations). */
export class ManualClock implements Clock {
  constructor(private ms = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
}

/** Whole seconds since the epoch, the unit of every device-plane timestamp. */
export function epochSeconds(clock: Clock): number {
  return Math.floor(clock.now() / 1000);
}

/** Zero of monotonicMs(): the first load of this module, so values stay small as performance.now()'s do. */
const ORIGIN = process.hrtime.bigint();

/**
 * Milliseconds on the monotonic clock: what every deadline, rate limit and elapsed time is measured on.
 * process.hrtime rather than the `performance` global: its first use loads node:perf_hooks, a few
 * milliseconds of every start for a clock the process already has.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() - ORIGIN) / 1e6;
}

/**
 * Notices wall-clock steps (an NTP sync after an RTC-less boot, an operator's `date -s`) by
 * comparing the wall clock with the monotonic one once a second. Returns a stop function.
 */
export function watchWallClock(onJump: (jumpMs: number, nowMs: number) => void, opts: { intervalMs?: number; thresholdMs?: number } = {}): () => void {
  const threshold = opts.thresholdMs ?? 2000;
  let offset = Date.now() - monotonicMs();
  const timer = setInterval(() => {
    const current = Date.now() - monotonicMs();
    const jump = current - offset;
    offset = current;
    if (Math.abs(jump) >= threshold) onJump(jump, Date.now());
  }, opts.intervalMs ?? 1000);
  timer.unref();
  return () => clearInterval(timer);
}
