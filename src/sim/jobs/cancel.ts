/**
 * Canceling a job, whoever asks: CancelJob, an abort criterion, or a scheduled end with CANCEL /
 * FORCE_CANCEL. The job becomes CANCELED; its QUEUED executions are canceled, and its IN_PROGRESS
 * ones too when forced — without force they keep running and may still report (docs/PROTOCOL.md §4.6).
 */
import { isPending, latest } from '../model';
import type { JobRecord } from '../model';
import type { World } from './world';

export function cancelExecutions(w: World, job: JobRecord, force: boolean, why: { comment?: string; reasonCode?: string } = {}): void {
  job.status = 'CANCELED';
  job.forceCanceled = (job.forceCanceled ?? false) || force;
  if (why.comment !== undefined) job.comment = why.comment;
  if (why.reasonCode !== undefined) job.reasonCode = why.reasonCode;
  job.lastUpdatedAtMs = w.now();
  for (const list of job.executions.values()) {
    const rec = latest(list);
    if (rec === undefined || !isPending(rec.status)) continue;
    if (rec.status === 'IN_PROGRESS' && !force) continue;
    rec.forceCanceled = force;
    w.transition(rec, 'CANCELED', { by: 'service', bumpVersion: w.opts.bumpVersionOnServiceTransition });
  }
}
