/**
 * jobExecutionsRetryConfig (docs/FLEETS.md §A.3): a FAILED or TIMED_OUT execution of a job with
 * retry criteria is followed by a new QUEUED execution of the same job on the same thing, with the
 * next executionNumber, while the budget for that failure type lasts — at most 10 retries across
 * failure types. The budget of a thing restarts when its group membership changes (continuous jobs).
 */
import type { RetriesUsed } from '../model';
import type { RetryConfig } from '../types';
import { isObj } from './validate';

export type { RetriesUsed } from '../model';
export type { RetryConfig, RetryFailureType } from '../types';

export const MAX_RETRIES_IN_ALL = 10;

/** Cross-member rules of a shape-checked retry config (the member checks come first). */
export function retryBudgetProblem(v: unknown, path: string): string | undefined {
  if (!isObj(v) || !Array.isArray(v.criteriaList)) return undefined;
  const list = v.criteriaList as RetryConfig['criteriaList'];
  const types = list.map((c) => c.failureType);
  const dup = types.find((t, i) => types.indexOf(t) !== i);
  if (dup !== undefined) return `${path}.criteriaList names ${dup} more than once`;
  if (types.includes('ALL') && types.length > 1) return `${path}.criteriaList: ALL already covers FAILED and TIMED_OUT; give it alone`;
  const total = list.reduce((n, c) => n + c.numberOfRetries, 0);
  if (total > MAX_RETRIES_IN_ALL) return `${path}: at most ${MAX_RETRIES_IN_ALL} retries across failure types, got ${total}`;
  return undefined;
}

/** Whether one more retry is allowed after a failure of `failure`, given what was used. */
export function retryAllowed(cfg: RetryConfig | undefined, failure: 'FAILED' | 'TIMED_OUT', used: RetriesUsed): boolean {
  if (cfg === undefined) return false;
  const own = cfg.criteriaList.find((c) => c.failureType === failure);
  if (own !== undefined) return used[failure] < own.numberOfRetries;
  const allTypes = cfg.criteriaList.find((c) => c.failureType === 'ALL');
  return allTypes !== undefined && used.FAILED + used.TIMED_OUT < allTypes.numberOfRetries;
}

export function noRetriesUsed(): RetriesUsed {
  return { FAILED: 0, TIMED_OUT: 0 };
}
