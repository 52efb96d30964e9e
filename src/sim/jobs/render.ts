/**
 * Wire shapes (docs/PROTOCOL.md §2.6): whole seconds on the device plane, optional fields omitted rather than
 * null, job documents as objects on MQTT and as JSON text on HTTPS.
 */
import type { JobExecution, JobExecutionState, JobExecutionSummary } from '../../jobs/types';
import { deadlineOf, isPending } from '../model';
import type { ExecRecord, JobRecord } from '../model';

export function secs(ms: number): number {
  return Math.floor(ms / 1000);
}

export function summary(rec: ExecRecord): JobExecutionSummary {
  const s: JobExecutionSummary = {
    jobId: rec.jobId,
    queuedAt: secs(rec.queuedAtMs),
    lastUpdatedAt: secs(rec.lastUpdatedAtMs),
    executionNumber: rec.executionNumber,
    versionNumber: rec.versionNumber,
  };
  if (rec.startedAtMs !== undefined) s.startedAt = secs(rec.startedAtMs);
  return s;
}

function hasDetails(rec: ExecRecord): boolean {
  return Object.keys(rec.statusDetails).length > 0;
}

export function executionState(rec: ExecRecord): JobExecutionState {
  const s: JobExecutionState = { status: rec.status, versionNumber: rec.versionNumber };
  if (hasDetails(rec)) s.statusDetails = { ...rec.statusDetails };
  return s;
}

/** Remaining time while a timer runs; never on terminal executions (docs/PROTOCOL.md §2.6). */
export function secondsBeforeTimeout(rec: ExecRecord, nowMs: number): number | undefined {
  const d = deadlineOf(rec);
  if (d === undefined || !isPending(rec.status)) return undefined;
  return Math.max(0, Math.ceil((d - nowMs) / 1000));
}

export type DocForm = 'object' | 'string' | 'none';

export interface RenderCtx {
  nowMs: number;
  withThing: boolean;
  /** The job document as delivered now (placeholders substituted when enabled). */
  documentText: (job: JobRecord) => string;
  documentObject: (job: JobRecord) => unknown;
}

export function deviceExecution(rec: ExecRecord, job: JobRecord, ctx: RenderCtx, doc: DocForm): JobExecution {
  const e: JobExecution = { ...summary(rec), status: rec.status };
  if (ctx.withThing) e.thingName = rec.thing;
  if (hasDetails(rec)) e.statusDetails = { ...rec.statusDetails };
  const left = secondsBeforeTimeout(rec, ctx.nowMs);
  if (left !== undefined) e.approximateSecondsBeforeTimedOut = left;
  if (doc === 'object') e.jobDocument = ctx.documentObject(job);
  else if (doc === 'string') e.jobDocument = ctx.documentText(job);
  return e;
}

/** The document with every object member whose value is null left out (arrays keep their nulls). */
export function stripNullMembers(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripNullMembers);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = stripNullMembers(x);
  return out;
}
