/**
 * Records held by the local Jobs service and the per-(thing, namespace) pending order of docs/PROTOCOL.md §5.
 * Each pending order keeps two arrays sorted by (queuedAt ms, insertion seq): the IN_PROGRESS group
 * and the QUEUED group. Keeping them sorted makes head and notify lookups O(1) even with a backlog
 * of thousands of executions.
 */
import type { Details, ExecStatus } from '../jobs/types';
import type { RetryConfig } from './types';

/** Retries used so far by one thing, per failure type (jobs/retry.ts). */
export interface RetriesUsed {
  FAILED: number;
  TIMED_OUT: number;
}

/**
 * A job's rollout plan (docs/ROLLOUT.md): its progress, which the records need. The rollout, abort
 * and schedule specs it runs by are added by jobs/plan.ts (a module augmentation), so the records
 * import nothing from jobs/ and the import graph keeps no circle.
 */
export interface JobPlan {
  /** The configurations as DescribeJob shows them. */
  echo: { jobExecutionsRolloutConfig?: Record<string, unknown>; abortConfig?: Record<string, unknown>; schedulingConfig?: Record<string, unknown> };
  /** Targets still without an execution, in target order; `next` is the first of them. */
  waiting: string[];
  next: number;
  /** Things that became targets after CreateJob: created as soon as the job may roll out, outside the rate. */
  late: string[];
  /** Executions the rollout has created: AWS's "notified things". */
  notified: number;
  /** No more executions come from this plan (ended, aborted, or the job left IN_PROGRESS). */
  over: boolean;
  ended: boolean;
  /** The time the plan was last advanced to. */
  at: number;
}

/** Targets that would still get an execution from this plan. */
export function holdsTargets(plan: JobPlan): boolean {
  return !plan.over && (plan.next < plan.waiting.length || plan.late.length > 0);
}

export interface ExecRecord {
  readonly jobId: string;
  readonly thing: string;
  readonly namespace: string | undefined;
  readonly executionNumber: number;
  /** How many retries of this job on this thing came before this execution (0 for a first run). */
  readonly retryAttempt: number;
  /** Global creation counter: the tie-break for executions queued within the same millisecond. */
  readonly seq: number;
  readonly queuedAtMs: number;
  status: ExecStatus;
  statusDetails: Details;
  startedAtMs?: number;
  lastUpdatedAtMs: number;
  versionNumber: number;
  forceCanceled: boolean;
  stepDeadlineMs?: number;
  inProgressDeadlineMs?: number;
}

export type JobStatus = 'IN_PROGRESS' | 'CANCELED' | 'COMPLETED' | 'DELETION_IN_PROGRESS' | 'SCHEDULED';

export interface JobRecord {
  readonly jobId: string;
  readonly jobArn: string;
  readonly document: string;
  /** Parsed once; re-parsed per delivery only when presigned-URL placeholders are substituted. */
  readonly parsedDocument: unknown;
  readonly hasPlaceholders: boolean;
  description?: string;
  readonly namespaceId?: string;
  readonly targetSelection: 'SNAPSHOT' | 'CONTINUOUS';
  /** Target ARNs as given (CreateJob, then AssociateTargetsWithJob), things and thing groups. */
  readonly targets: string[];
  /** The same targets resolved: thing names and thing-group names. */
  readonly thingTargets: Set<string>;
  readonly groupTargets: Set<string>;
  /** Changed by UpdateJob; applies to executions that start afterwards. */
  inProgressTimeoutMinutes?: number;
  retryConfig?: RetryConfig;
  /** Retries used per thing (docs/FLEETS.md §A.3). */
  readonly retries: Map<string, RetriesUsed>;
  presignedUrlConfig?: { roleArn?: string; expiresInSec?: number };
  tags?: { Key: string; Value?: string }[];
  /** The template it was made from, and the managed template's parameters (docs/TEMPLATES.md). */
  jobTemplateArn?: string;
  documentParameters?: Readonly<Record<string, string>>;
  /** Its configurations as the request gave them, for CreateJobTemplate from this job's ARN. */
  templateConfigs?: Readonly<Record<string, unknown>>;
  readonly createdAtMs: number;
  status: JobStatus;
  lastUpdatedAtMs: number;
  completedAtMs?: number;
  forceCanceled?: boolean;
  comment?: string;
  reasonCode?: string;
  /** Rollout, abort and scheduling (docs/ROLLOUT.md); absent when the job has none of them. */
  plan?: JobPlan;
  /** Executions per thing, oldest first; the last one is the "latest" of docs/PROTOCOL.md §4.4. */
  readonly executions: Map<string, ExecRecord[]>;
}

export interface HistoryEntry {
  at: number;
  thing: string;
  namespace?: string;
  jobId: string;
  executionNumber: number;
  from: string;
  to: string;
  by: 'device' | 'service';
  statusDetails?: Record<string, string>;
}

export function isPending(s: ExecStatus): boolean {
  return s === 'QUEUED' || s === 'IN_PROGRESS';
}

function before(a: ExecRecord, b: ExecRecord): boolean {
  return a.queuedAtMs < b.queuedAtMs || (a.queuedAtMs === b.queuedAtMs && a.seq < b.seq);
}

function insertSorted(list: ExecRecord[], rec: ExecRecord): void {
  // Executions are usually queued in clock order, so the common case is a push at the end.
  let lo = 0;
  let hi = list.length;
  const last = list[hi - 1];
  if (last === undefined || before(last, rec)) {
    list.push(rec);
    return;
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const m = list[mid] as ExecRecord;
    if (before(m, rec)) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, rec);
}

function removeFrom(list: ExecRecord[], rec: ExecRecord): boolean {
  const i = list.indexOf(rec);
  if (i < 0) return false;
  list.splice(i, 1);
  return true;
}

/** The pending order of one (thing, namespace): IN_PROGRESS group first, each by queue time. */
export class PendingOrder {
  readonly inProgress: ExecRecord[] = [];
  readonly queued: ExecRecord[] = [];

  head(): ExecRecord | undefined {
    return this.inProgress[0] ?? this.queued[0];
  }

  /** Head as a `$next` read sees it when QUEUED executions newer than `cutoffMs` are not yet visible. */
  visibleHead(cutoffMs: number | undefined): ExecRecord | undefined {
    const ip = this.inProgress[0];
    if (ip !== undefined) return ip;
    const q = this.queued[0];
    if (q === undefined || (cutoffMs !== undefined && q.queuedAtMs > cutoffMs)) return undefined;
    return q;
  }

  add(rec: ExecRecord): void {
    insertSorted(rec.status === 'IN_PROGRESS' ? this.inProgress : this.queued, rec);
  }

  remove(rec: ExecRecord): boolean {
    return removeFrom(this.inProgress, rec) || removeFrom(this.queued, rec);
  }

  /** Re-file an execution whose status moved between QUEUED and IN_PROGRESS. */
  refile(rec: ExecRecord): void {
    if (this.remove(rec)) this.add(rec);
  }

  /** At most `max` pending executions, IN_PROGRESS first (docs/PROTOCOL.md §2.2, §1.4). */
  listed(max: number): { inProgress: ExecRecord[]; queued: ExecRecord[] } {
    const inProgress = this.inProgress.slice(0, Math.max(0, max));
    const queued = this.queued.slice(0, Math.max(0, max - inProgress.length));
    return { inProgress, queued };
  }

  get size(): number {
    return this.inProgress.length + this.queued.length;
  }
}

export interface ThingRecord {
  readonly name: string;
  /** Pending orders keyed by namespace id; '' is the default (no namespace) bucket. */
  readonly orders: Map<string, PendingOrder>;
}

export function nsKey(ns: string | undefined): string {
  return ns ?? '';
}

export function latest(list: readonly ExecRecord[] | undefined): ExecRecord | undefined {
  return list === undefined ? undefined : list[list.length - 1];
}

/** Effective deadline: the step timer never outlives the in-progress timer (docs/PROTOCOL.md §4.5). */
export function deadlineOf(rec: ExecRecord): number | undefined {
  const { stepDeadlineMs: s, inProgressDeadlineMs: p } = rec;
  if (s === undefined) return p;
  if (p === undefined) return s;
  return Math.min(s, p);
}
