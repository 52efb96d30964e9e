/**
 * Control-plane job-execution calls: CancelJobExecution, DescribeJobExecution (control shape) and
 * the two ListJobExecutions* listings with opaque pagination tokens.
 */
import { EXEC_STATUSES, isTerminal } from '../../jobs/types';
import type { Result } from '../types';
import { latest } from '../model';
import type { ExecRecord } from '../model';
import { serviceError } from './options';
import { secondsBeforeTimeout } from './render';
import { badRequest, badTransition, ctlTime, err, notFound, thingArn } from './jobs';
import type { Names } from './jobs';
import { detailRules, parseLong, validJobId, validNamespace, validThing, validateDetails } from './validate';
import type { World } from './world';

export interface CancelExecutionOpts {
  force?: boolean;
  expectedVersion?: number;
  statusDetails?: Record<string, string>;
}

function missing(jobId: string, thing: string): Result<never> {
  return err(notFound(`No job execution found for job ${jobId} and thing ${thing}`));
}

export function cancelJobExecution(w: World, jobId: string, thing: string, o: CancelExecutionOpts): Result<void> {
  const rec = w.findExecution(thing, jobId);
  if (rec === undefined) return missing(jobId, thing);
  let details: Record<string, string> | undefined;
  if (o.statusDetails !== undefined) {
    const d = validateDetails(o.statusDetails, detailRules(w.opts));
    if (!d.ok) return err(badRequest(d.err.message));
    details = d.value;
  }
  if (o.expectedVersion !== undefined && parseLong(o.expectedVersion) !== rec.versionNumber)
    return err(
      serviceError('VersionConflictException', 409, `Expected version ${String(o.expectedVersion)} but found version ${rec.versionNumber}`),
    );
  if (isTerminal(rec.status)) return err(badTransition(`Job execution is already ${rec.status}`));
  if (rec.status === 'IN_PROGRESS' && o.force !== true)
    return err(badTransition('Job execution is IN_PROGRESS; set force to cancel it'));
  rec.forceCanceled = o.force === true;
  const t: Parameters<World['transition']>[2] = { by: 'service', bumpVersion: w.opts.bumpVersionOnServiceTransition };
  if (details !== undefined) t.details = details;
  w.transition(rec, 'CANCELED', t);
  return { ok: true, value: undefined };
}

export function describeExecutionControl(
  w: World,
  n: Names,
  jobId: string,
  thing: string,
  executionNumber?: number,
): Result<{ execution: Record<string, unknown> }> {
  const rec = w.findExecution(thing, jobId, executionNumber);
  if (rec === undefined) return missing(jobId, thing);
  const e: Record<string, unknown> = {
    jobId: rec.jobId,
    status: rec.status,
    forceCanceled: rec.forceCanceled,
    statusDetails: { detailsMap: { ...rec.statusDetails } },
    thingArn: thingArn(n, rec.thing),
    queuedAt: ctlTime(rec.queuedAtMs),
    lastUpdatedAt: ctlTime(rec.lastUpdatedAtMs),
    executionNumber: rec.executionNumber,
    versionNumber: rec.versionNumber,
  };
  if (rec.startedAtMs !== undefined) e.startedAt = ctlTime(rec.startedAtMs);
  const left = secondsBeforeTimeout(rec, w.now());
  if (left !== undefined) e.approximateSecondsBeforeTimedOut = left;
  return { ok: true, value: { execution: e } };
}

function execSummary(rec: ExecRecord): Record<string, unknown> {
  const s: Record<string, unknown> = {
    status: rec.status,
    queuedAt: ctlTime(rec.queuedAtMs),
    lastUpdatedAt: ctlTime(rec.lastUpdatedAtMs),
    executionNumber: rec.executionNumber,
    retryAttempt: rec.retryAttempt,
  };
  if (rec.startedAtMs !== undefined) s.startedAt = ctlTime(rec.startedAtMs);
  return s;
}

export interface ListQuery {
  status?: string;
  maxResults?: number;
  nextToken?: string;
}

const MAX_RESULTS = 250;

function checkQuery(q: ListQuery): string | undefined {
  if (q.status !== undefined && !(EXEC_STATUSES as readonly string[]).includes(q.status))
    return `status must be one of ${EXEC_STATUSES.join(', ')}`;
  if (q.maxResults !== undefined && (!Number.isInteger(q.maxResults) || q.maxResults < 1 || q.maxResults > MAX_RESULTS))
    return `maxResults must be between 1 and ${MAX_RESULTS}`;
  return undefined;
}

/** Page through `items`; the token is an opaque base64url offset. */
function page<T>(items: T[], q: ListQuery): Result<{ executionSummaries: T[]; nextToken?: string }> {
  let start = 0;
  if (q.nextToken !== undefined) {
    const raw = typeof q.nextToken === 'string' ? Buffer.from(q.nextToken, 'base64url').toString() : '';
    const n = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n > items.length) return err(badRequest('nextToken is invalid'));
    start = n;
  }
  const end = start + (q.maxResults ?? MAX_RESULTS);
  const out: { executionSummaries: T[]; nextToken?: string } = { executionSummaries: items.slice(start, end) };
  if (end < items.length) out.nextToken = Buffer.from(String(end)).toString('base64url');
  return { ok: true, value: out };
}

/**
 * Latest execution per job on the thing; with `jobId`, every execution of that job there, oldest
 * first, so retries can be followed (docs/FLEETS.md §A.3, UNVERIFIED).
 */
export function listForThing(
  w: World,
  thing: string,
  q: ListQuery & { namespaceId?: string; jobId?: string },
): Result<{ executionSummaries: unknown[]; nextToken?: string }> {
  if (typeof thing !== 'string' || !validThing(thing)) return err(badRequest('thingName is invalid'));
  const bad = checkQuery(q);
  if (bad !== undefined) return err(badRequest(bad));
  if (q.namespaceId !== undefined && !validNamespace(q.namespaceId)) return err(badRequest('namespaceId is invalid'));
  if (q.jobId !== undefined && !validJobId(q.jobId)) return err(badRequest('jobId is invalid'));
  if (!w.things.has(thing)) return err(notFound(`Thing ${thing} does not exist`));
  const recs: ExecRecord[] = [];
  const keep = (rec: ExecRecord): boolean =>
    (q.status === undefined || rec.status === q.status) && (q.namespaceId === undefined || rec.namespace === q.namespaceId);
  for (const job of w.jobs.values()) {
    if (q.jobId !== undefined && job.jobId !== q.jobId) continue;
    const list = job.executions.get(thing) ?? [];
    const candidates = q.jobId !== undefined ? list : list.slice(-1);
    for (const rec of candidates) if (keep(rec)) recs.push(rec);
  }
  recs.sort((a, b) => a.queuedAtMs - b.queuedAtMs || a.seq - b.seq);
  return page(
    recs.map((r) => ({ jobId: r.jobId, jobExecutionSummary: execSummary(r) })),
    q,
  );
}

export function listForJob(
  w: World,
  n: Names,
  jobId: string,
  q: ListQuery,
): Result<{ executionSummaries: unknown[]; nextToken?: string }> {
  const bad = checkQuery(q);
  if (bad !== undefined) return err(badRequest(bad));
  const job = w.jobs.get(jobId);
  if (job === undefined) return err(notFound(`Job ${jobId} does not exist`));
  const items: unknown[] = [];
  for (const [thing, list] of job.executions) {
    const rec = latest(list);
    if (rec === undefined || (q.status !== undefined && rec.status !== q.status)) continue;
    items.push({ thingArn: thingArn(n, thing), jobExecutionSummary: execSummary(rec) });
  }
  return page(items, q);
}
