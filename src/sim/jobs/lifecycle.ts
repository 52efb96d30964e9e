/**
 * What a terminal execution sets off, installed as the World's terminal hooks in this order:
 * (abort criteria belong first, so a job they cancel queues no retry), then retries.
 */
import { latest } from '../model';
import type { ExecRecord, JobRecord } from '../model';
import { noRetriesUsed, retryAllowed } from './retry';
import { isTarget, thingBecameTarget } from './targets';
import type { World } from './world';

/**
 * A FAILED or TIMED_OUT latest execution of an IN_PROGRESS job is followed by the next execution
 * while the retry budget lasts and the thing is still a target (docs/FLEETS.md §A.3).
 */
export function retryAfterFailure(w: World, rec: ExecRecord, job: JobRecord): void {
  if (rec.status !== 'FAILED' && rec.status !== 'TIMED_OUT') return;
  if (job.status !== 'IN_PROGRESS' || job.retryConfig === undefined) return;
  if (latest(job.executions.get(rec.thing)) !== rec || !isTarget(w, job, rec.thing)) return;
  const used = job.retries.get(rec.thing) ?? noRetriesUsed();
  if (!retryAllowed(job.retryConfig, rec.status, used)) return;
  used[rec.status] += 1;
  job.retries.set(rec.thing, used);
  thingBecameTarget(w, job, rec.thing, 'retry', rec.retryAttempt + 1);
}

export function installLifecycle(w: World): void {
  w.terminalHooks.push((rec, job) => retryAfterFailure(w, rec, job));
}
