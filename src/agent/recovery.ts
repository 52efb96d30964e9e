/**
 * Recovery at start-up (docs/ARCHITECTURE.md §3): a started-but-unfinished execution follows its handler's
 * restart policy — `fail` (default: FAILED "interrupted"), `rerun` (run again) or `resume`
 * (the handler's resume() decides). Finished-but-unreported outcomes are the outbox's. Pure.
 */
import { startOrder } from '../store/records';
import type { ExecRef, JournalEntry } from '../store/types';
import type { Candidate } from './execution';
import type { HandlerRegistry } from './registry';

export interface RecoveryPlan {
  /** With the version our IN_PROGRESS gave it: the FAILED report is written against it (src/agent/incarnation.ts). */
  fail: (ExecRef & { handler: string; versionNumber?: number; queuedAt?: number })[];
  resume: Candidate[];
}

export function recoveryPlan(entries: readonly JournalEntry[], registry: HandlerRegistry): RecoveryPlan {
  const plan: RecoveryPlan = { fail: [], resume: [] };
  const started = entries.filter((e) => e.state === 'started').sort((a, b) => startOrder(a) - startOrder(b)); // journal order: wall time can jump
  for (const e of started) {
    const ref = { namespace: e.namespace, jobId: e.jobId, executionNumber: e.executionNumber };
    const policy = registry.byName(e.handler)?.restartPolicy ?? 'fail';
    if (policy === 'fail') {
      plan.fail.push({ ...ref, handler: e.handler, ...(e.versionNumber !== undefined ? { versionNumber: e.versionNumber } : {}), ...(e.queuedAt !== undefined ? { queuedAt: e.queuedAt } : {}) });
      continue;
    }
    // In the order they started: the ready queue stamps discovery order from it.
    plan.resume.push({ ...ref, queuedAt: 0, resumeFirst: true, mode: policy === 'resume' ? 'resume' : 'rerun' });
  }
  return plan;
}
