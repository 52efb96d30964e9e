/**
 * Wire shapes (docs/PROTOCOL.md §2.6): whole seconds on the device plane, optional fields omitted rather than
 * null, job documents as objects on MQTT and as JSON text on HTTPS.
 */
import { createHash } from 'node:crypto';
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

const PLACEHOLDER = /\$\{aws:iot:s3-presigned-url(?:-v2)?:([^}"\\]+)\}/g;

/** The document with every object member whose value is null left out (arrays keep their nulls). */
export function stripNullMembers(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripNullMembers);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = stripNullMembers(x);
  return out;
}

export function hasPlaceholders(text: string): boolean {
  PLACEHOLDER.lastIndex = 0;
  return PLACEHOLDER.test(text);
}

function isoBasic(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/**
 * Replace each `${aws:iot:s3-presigned-url:URL}` with URL plus a SigV4-looking query that differs
 * on every delivery, as AWS does (docs/PROTOCOL.md §2.6) — so agents that de-duplicate on document text fail
 * here as they would in production. Only URL-safe characters are added, so the JSON stays valid.
 */
export function presign(text: string, nowMs: number, delivery: number, expiresSec = 3600): string {
  return text.replace(PLACEHOLDER, (_m, url: string) => {
    const sig = createHash('sha256').update(`${url}|${nowMs}|${delivery}`).digest('hex');
    const sep = url.includes('?') ? '&' : '?';
    return (
      `${url}${sep}X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=${isoBasic(nowMs)}` +
      `&X-Amz-Expires=${expiresSec}&X-Amz-SignedHeaders=host&X-Amz-Signature=${sig}`
    );
  });
}
