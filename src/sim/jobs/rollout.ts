/**
 * `jobExecutionsRolloutConfig` (docs/ROLLOUT.md §R.1): how many targets are notified — get their
 * execution created — per minute. A constant rate is `maximumPerMinute` (1000 when unset). An
 * exponential rate starts at `baseRatePerMinute` and is multiplied by `incrementFactor` each time
 * another `numberOfNotifiedThings` things have been notified or another `numberOfSucceededThings`
 * have succeeded (AWS's table: 50, 100, 200, 400 per minute at 1000, 2000, 3000 notified), never
 * above `maximumPerMinute`. Minutes are counted from the first execution of each stretch, and each
 * minute keeps the rate it started with.
 */
import { MINUTE_MS } from './schedule';

export interface ExponentialRate {
  baseRatePerMinute: number;
  incrementFactor: number;
  numberOfNotifiedThings?: number;
  numberOfSucceededThings?: number;
}

export interface RolloutSpec {
  maximumPerMinute?: number;
  exponentialRate?: ExponentialRate;
}

export const DEFAULT_MAXIMUM_PER_MINUTE = 1000;

/** How many times the rate has been raised: whichever criterion has been met more often. */
export function increments(e: ExponentialRate, notified: number, succeeded: number): number {
  const by = (count: number, step: number | undefined): number => (step === undefined ? 0 : Math.floor(count / step));
  return Math.max(by(notified, e.numberOfNotifiedThings), by(succeeded, e.numberOfSucceededThings));
}

/** Executions the rollout may create per minute, given what has been notified and has succeeded so far. */
export function ratePerMinute(spec: RolloutSpec, notified: number, succeeded: number): number {
  const cap = spec.maximumPerMinute ?? DEFAULT_MAXIMUM_PER_MINUTE;
  const e = spec.exponentialRate;
  if (e === undefined) return cap;
  let rate = e.baseRatePerMinute;
  for (let i = increments(e, notified, succeeded); i > 0 && rate < cap; i--) rate *= e.incrementFactor;
  // 10 × 1.1 × 1.1 is 12.100000000000001 in binary floating point: round the noise away, not the value.
  return Math.max(1, Math.min(cap, Math.floor(rate + 1e-9)));
}

/** The current rollout minute: when it began, its rate, and how many executions it has created. */
export interface Pacer {
  minuteStartMs: number | undefined;
  rate: number;
  inMinute: number;
}

/** Starts a new minute at `t` (at the rate `rateNow()` gives) when the current one is over; returns how many more may be created at `t`. */
export function room(p: Pacer, rateNow: () => number, t: number): number {
  if (p.minuteStartMs === undefined || t >= p.minuteStartMs + MINUTE_MS) {
    p.minuteStartMs = t;
    p.rate = rateNow();
    p.inMinute = 0;
  }
  return Math.max(0, p.rate - p.inMinute);
}

/** When the next execution may be created, if the current minute is used up. */
export function nextMinute(p: Pacer): number | undefined {
  return p.minuteStartMs === undefined ? undefined : p.minuteStartMs + MINUTE_MS;
}
