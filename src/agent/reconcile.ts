/**
 * Reconcile: the cloud's pending list for one namespace merged with what the agent knows. Pure:
 * returns what to enqueue, which queued candidates vanished, and which running ones to confirm.
 */
import type { GetPendingAccepted } from '../jobs/types';
import type { ExecRef } from '../store/types';
import type { Candidate } from './execution';
import { sameExecution } from './incarnation';
import type { Remembered } from './incarnation';

export function refKey(r: ExecRef): string {
  return `${r.namespace}\u0000${r.jobId}\u0000${r.executionNumber}`;
}

/** AWS lists at most 10 pending executions (15 with scheduling): a list this long may be cut. */
export const LIST_CAP = 10;

/** An execution under a ref this agent already took: finished or dropped in this process, or journaled. */
export interface Past extends Remembered {
  /** Its outcome still waits in the outbox (or it is still only started). */
  unreported: boolean;
}

export interface KnownState {
  isRunning(key: string): boolean;
  isReady(key: string): boolean;
  past(ref: ExecRef): Past | undefined;
}

export interface ReconcilePlan {
  enqueue: Candidate[];
  /** Ready (not yet started) keys of this namespace that left the pending set. */
  dropReady: string[];
  /** Running keys of this namespace missing from the list: confirm before aborting. */
  confirmRunning: string[];
  truncated: boolean;
  /** New jobs behind the id of one whose outcome is still unreported: taken once the outbox has settled it. */
  waitForReport: ExecRef[];
  /**
   * Running keys listed as QUEUED: before our IN_PROGRESS lands that is the running one, but it may be
   * a recreated job behind the same ref (the old run still finishing): fetch again once the run ends.
   */
  recheckAfterRun: string[];
}

export function planReconcile(
  namespace: string,
  list: GetPendingAccepted,
  known: KnownState,
  readyKeys: readonly string[],
  runningKeys: readonly string[],
  startup: boolean,
): ReconcilePlan {
  const listed = [
    ...list.inProgressJobs.map((s) => ({ s, inProgress: true })),
    ...list.queuedJobs.map((s) => ({ s, inProgress: false })),
  ];
  const seen = new Set<string>();
  const enqueue: Candidate[] = [];
  const waitForReport: ExecRef[] = [];
  const recheckAfterRun: string[] = [];
  for (const { s, inProgress } of listed) {
    const ref = { namespace, jobId: s.jobId, executionNumber: s.executionNumber };
    const key = refKey(ref);
    if (seen.has(key)) continue; // a duplicate entry in one listing
    seen.add(key);
    if (known.isRunning(key)) {
      if (!inProgress) recheckAfterRun.push(key);
      continue;
    }
    if (known.isReady(key)) continue;
    // Started, finished or reported executions are recovery's and the outbox's business, never rerun here —
    // unless what is listed is another execution behind the same ref (a recreated job).
    const past = known.past(ref);
    if (past !== undefined && sameExecution(s, past)) continue;
    if (past?.unreported) {
      waitForReport.push(ref);
      continue;
    }
    // In listing order: the ready queue stamps discovery order from it.
    enqueue.push({ ...ref, queuedAt: s.queuedAt, mode: 'fresh', ...(startup && inProgress ? { resumeFirst: true } : {}), ...(past ? { supersedes: true } : {}) });
  }
  const truncated = listed.length >= LIST_CAP;
  const ofNs = (k: string): boolean => k.startsWith(`${namespace}\u0000`);
  return {
    enqueue,
    dropReady: truncated ? [] : readyKeys.filter((k) => ofNs(k) && !seen.has(k)),
    confirmRunning: runningKeys.filter((k) => ofNs(k) && !seen.has(k)),
    truncated,
    waitForReport,
    recheckAfterRun,
  };
}
