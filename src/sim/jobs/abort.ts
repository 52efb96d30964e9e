/**
 * `abortConfig` (docs/ROLLOUT.md §R.2): the criteria, checked in the order given, each time an
 * execution of the job finishes. A criterion is met once at least `minNumberOfExecutedThings`
 * things have finished and at least `thresholdPercentage` % of them finished with its failure
 * type (ALL = FAILED, REJECTED or TIMED_OUT). "Finished" means the device got as far as an
 * outcome: SUCCEEDED, FAILED, REJECTED or TIMED_OUT; CANCELED and REMOVED executions were never
 * run by the device and do not count. A met criterion cancels the job the way CancelJob does.
 */
import type { ExecStatus } from '../../jobs/types';

export type FailureType = 'FAILED' | 'REJECTED' | 'TIMED_OUT' | 'ALL';
export const FAILURE_TYPES: readonly FailureType[] = ['FAILED', 'REJECTED', 'TIMED_OUT', 'ALL'];

export interface AbortCriterion {
  failureType: FailureType;
  action: 'CANCEL';
  thresholdPercentage: number;
  minNumberOfExecutedThings: number;
}

/** `things`: each thing counts once, by its latest finished execution; `executions`: every finished attempt counts. */
export type AbortCounting = 'things' | 'executions';

export interface Tally {
  executed: number;
  FAILED: number;
  REJECTED: number;
  TIMED_OUT: number;
}

const FINISHED: ReadonlySet<ExecStatus> = new Set<ExecStatus>(['SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT']);

export function isFinished(s: ExecStatus): boolean {
  return FINISHED.has(s);
}

/** Counts finished executions of one job; `perThing` holds each thing's executions, oldest first. */
export function tally(perThing: Iterable<readonly { status: ExecStatus }[]>, mode: AbortCounting): Tally {
  const t: Tally = { executed: 0, FAILED: 0, REJECTED: 0, TIMED_OUT: 0 };
  const add = (s: ExecStatus): void => {
    t.executed += 1;
    if (s === 'FAILED' || s === 'REJECTED' || s === 'TIMED_OUT') t[s] += 1;
  };
  for (const list of perThing) {
    for (let i = list.length - 1; i >= 0; i--) {
      const s = (list[i] as { status: ExecStatus }).status;
      if (!FINISHED.has(s)) continue;
      add(s);
      if (mode === 'things') break;
    }
  }
  return t;
}

export function failures(t: Tally, type: FailureType): number {
  return type === 'ALL' ? t.FAILED + t.REJECTED + t.TIMED_OUT : t[type];
}

/** The first criterion the tally meets, in list order; a criterion needs at least one failure. */
export function firstMet(criteria: readonly AbortCriterion[], t: Tally): AbortCriterion | undefined {
  return criteria.find((c) => {
    const f = failures(t, c.failureType);
    // Integer arithmetic for the comparison: the threshold has at most two decimals.
    return t.executed >= c.minNumberOfExecutedThings && f > 0 && f * 10_000 >= Math.round(c.thresholdPercentage * 100) * t.executed;
  });
}

/** The job's comment when a criterion cancels it (the service's automated wording: docs/ROLLOUT.md §R.2). */
export function abortComment(c: AbortCriterion, t: Tally): string {
  const f = failures(t, c.failureType);
  return `Job aborted by abortConfig: ${f} of ${t.executed} executed things ended ${c.failureType === 'ALL' ? 'FAILED, REJECTED or TIMED_OUT' : c.failureType}, meeting the ${c.thresholdPercentage}% threshold`;
}

export const ABORT_REASON_CODE = 'ABORT_CRITERIA_MET';
