/**
 * The service's state and the only code that changes an execution's status. Every change goes
 * through `withNotifications`, which compares the pending order before and after and emits exactly
 * the notifications of docs/PROTOCOL.md §1.4 (membership changed → notify) and §1.5 (head identity changed →
 * notify-next). Notifications collect in an outbox that the caller flushes after its response.
 */
import type { Clock } from '../../lib/clock';
import { topics } from '../../jobs/topics';
import type { Details, ExecStatus, NotifyMsg, NotifyNextMsg } from '../../jobs/types';
import type { Publication, SimOptions } from '../types';
import { PendingOrder, deadlineOf, holdsTargets, isPending, latest, nsKey } from '../model';
import type { ExecRecord, HistoryEntry, JobRecord, ThingRecord } from '../model';
import { ThingGroups } from '../registry/groups';
import { deviceExecution, stripNullMembers, summary } from './render';
import { presign } from './presign';
import type { ObjectsOrigin, PresignCtx } from './presign';
import type { RenderCtx } from './render';

export interface TransitionOpts {
  by: 'device' | 'service';
  details?: Details;
  bumpVersion: boolean;
}

export class World {
  readonly things = new Map<string, ThingRecord>();
  readonly jobs = new Map<string, JobRecord>();
  /** Executions with a running step or in-progress timer. */
  readonly timed = new Set<ExecRecord>();
  /** Jobs whose rollout plan still has something to do (docs/ROLLOUT.md). */
  readonly planned = new Set<JobRecord>();
  readonly history: HistoryEntry[] = [];
  readonly groups = new ThingGroups();
  /**
   * Run, in order, after an execution reaches a terminal status and before the job may complete:
   * the place for what a terminal execution sets off (retries; abort criteria go before them).
   */
  readonly terminalHooks: ((rec: ExecRecord, job: JobRecord) => void)[] = [];
  /** The instant being replayed by `at`, and the latest instant handed out: time never runs backwards. */
  private replaying: number | undefined;
  private latestNow = 0;
  private outbox: Publication[] = [];
  private seq = 0;
  private deliveries = 0;
  /** Set when the sim serves S3 objects itself: presigned URLs then point at it. */
  objects: ObjectsOrigin | undefined;

  constructor(
    readonly opts: SimOptions,
    readonly clock: Clock,
  ) {}

  now(): number {
    if (this.replaying !== undefined) return this.replaying;
    const t = this.clock.now();
    if (t > this.latestNow) this.latestNow = t;
    return t;
  }

  /** Runs `fn` as of instant `t` (not before any instant already handed out): replaying a clock jump step by step. */
  at(t: number, fn: () => void): void {
    const instant = Math.min(Math.max(t, this.latestNow), this.clock.now());
    this.latestNow = instant;
    this.replaying = instant;
    try {
      fn();
    } finally {
      this.replaying = undefined;
    }
  }

  nextSeq(): number {
    return ++this.seq;
  }

  ensureThing(name: string): ThingRecord {
    let t = this.things.get(name);
    if (t === undefined) {
      t = { name, orders: new Map() };
      this.things.set(name, t);
    }
    return t;
  }

  order(thing: string, ns: string | undefined): PendingOrder {
    const t = this.ensureThing(thing);
    let o = t.orders.get(nsKey(ns));
    if (o === undefined) {
      o = new PendingOrder();
      t.orders.set(nsKey(ns), o);
    }
    return o;
  }

  peekOrder(thing: string, ns: string | undefined): PendingOrder | undefined {
    return this.things.get(thing)?.orders.get(nsKey(ns));
  }

  /** Latest execution (or a given one) of a job on a thing. */
  findExecution(thing: string, jobId: string, executionNumber?: number): ExecRecord | undefined {
    const list = this.jobs.get(jobId)?.executions.get(thing);
    if (executionNumber === undefined) return latest(list);
    return list?.find((e) => e.executionNumber === executionNumber);
  }

  jobOf(rec: ExecRecord): JobRecord {
    const job = this.jobs.get(rec.jobId);
    if (job === undefined) throw new Error(`execution ${rec.jobId}/${rec.thing} has no job`);
    return job;
  }

  renderCtx(withThing: boolean): RenderCtx {
    return {
      nowMs: this.now(),
      withThing,
      documentText: (job) => {
        const text = this.presigned(job);
        return this.opts.stripNulls ? JSON.stringify(stripNullMembers(JSON.parse(text))) : text;
      },
      documentObject: (job) => {
        const doc = job.hasPlaceholders && this.opts.presignPlaceholders ? JSON.parse(this.presigned(job)) : job.parsedDocument;
        return this.opts.stripNulls ? stripNullMembers(doc) : doc;
      },
    };
  }

  private presigned(job: JobRecord): string {
    if (!job.hasPlaceholders || !this.opts.presignPlaceholders) return job.document;
    this.deliveries += 1;
    const ctx: PresignCtx = { nowMs: this.now(), delivery: this.deliveries, style: this.opts.presignedUrlStyle };
    if (job.presignedUrlConfig?.expiresInSec !== undefined) ctx.expiresSec = job.presignedUrlConfig.expiresInSec;
    if (this.objects) ctx.objects = this.objects;
    return presign(job.document, ctx);
  }

  /** Run one change to a pending order and emit the notifications it calls for. */
  withNotifications(thing: string, ns: string | undefined, jobId: string, change: () => boolean): void {
    const order = this.order(thing, ns);
    const headBefore = order.head();
    const membershipChanged = change();
    if (membershipChanged) this.emitNotify(thing, ns, jobId, order);
    if (order.head() !== headBefore) this.emitNotifyNext(thing, ns, order);
  }

  /**
   * A new QUEUED execution with the next executionNumber. Only targets.ts's `thingBecameTarget`
   * calls this, and the rollout plan for the targets `thingBecameTarget` handed it (plan.ts).
   */
  queueExecution(job: JobRecord, thing: string, retryAttempt = 0): ExecRecord {
    const now = this.now();
    const list = job.executions.get(thing) ?? [];
    const rec: ExecRecord = {
      jobId: job.jobId,
      thing,
      namespace: job.namespaceId,
      executionNumber: (latest(list)?.executionNumber ?? 0) + 1,
      retryAttempt,
      seq: this.nextSeq(),
      queuedAtMs: now,
      status: 'QUEUED',
      statusDetails: {},
      lastUpdatedAtMs: now,
      versionNumber: 1,
      forceCanceled: false,
    };
    list.push(rec);
    job.executions.set(thing, list);
    this.withNotifications(thing, rec.namespace, rec.jobId, () => {
      this.order(thing, rec.namespace).add(rec);
      return true;
    });
    this.record(rec, 'NONE', 'QUEUED', 'service');
    return rec;
  }

  /** Move an execution to `to`, keeping the pending order, timers, history and job status right. */
  transition(rec: ExecRecord, to: ExecStatus, o: TransitionOpts): void {
    const from = rec.status;
    const now = this.now();
    this.withNotifications(rec.thing, rec.namespace, rec.jobId, () => {
      rec.status = to;
      rec.lastUpdatedAtMs = now;
      if (o.bumpVersion) rec.versionNumber += 1;
      if (o.details !== undefined) rec.statusDetails = this.mergeDetails(rec.statusDetails, o.details);
      const order = this.order(rec.thing, rec.namespace);
      if (to === 'IN_PROGRESS' && from !== 'IN_PROGRESS') this.start(rec, now);
      if (isPending(to)) {
        if (from !== to) order.refile(rec);
        return false;
      }
      this.clearTimers(rec);
      return order.remove(rec);
    });
    this.record(rec, from, to, o.by);
    if (!isPending(to)) {
      const job = this.jobOf(rec);
      for (const hook of this.terminalHooks) hook(rec, job);
      this.maybeCompleteJob(job);
    }
  }

  private start(rec: ExecRecord, now: number): void {
    rec.startedAtMs ??= now;
    const minutes = this.jobs.get(rec.jobId)?.inProgressTimeoutMinutes;
    if (minutes !== undefined) {
      rec.inProgressDeadlineMs = now + minutes * 60_000;
      this.timed.add(rec);
    }
  }

  private mergeDetails(old: Details, next: Details): Details {
    if (this.opts.statusDetailsMode === 'replace') return { ...next };
    return Object.fromEntries([...Object.entries(old), ...Object.entries(next)]) as Details;
  }

  /** Step timer (docs/PROTOCOL.md §4.5): each value restarts from now, -1 cancels. */
  setStepTimer(rec: ExecRecord, minutes: number): void {
    if (minutes === -1) delete rec.stepDeadlineMs;
    else rec.stepDeadlineMs = this.now() + minutes * 60_000;
    if (deadlineOf(rec) === undefined) this.timed.delete(rec);
    else this.timed.add(rec);
  }

  private clearTimers(rec: ExecRecord): void {
    delete rec.stepDeadlineMs;
    delete rec.inProgressDeadlineMs;
    this.timed.delete(rec);
  }

  /** The execution disappears (job deleted): notifications as for a removal (docs/PROTOCOL.md §4.2). */
  deleteExecution(rec: ExecRecord): void {
    const wasPending = isPending(rec.status);
    this.withNotifications(rec.thing, rec.namespace, rec.jobId, () => {
      this.clearTimers(rec);
      return this.order(rec.thing, rec.namespace).remove(rec);
    });
    if (wasPending) this.record(rec, rec.status, 'DELETED', 'service');
  }

  /** DeleteJobExecution: the execution disappears from its job too; its number may be reused. */
  removeExecution(rec: ExecRecord): void {
    this.deleteExecution(rec);
    const job = this.jobs.get(rec.jobId);
    const list = job?.executions.get(rec.thing);
    if (job === undefined || list === undefined) return;
    const i = list.indexOf(rec);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) job.executions.delete(rec.thing);
    this.maybeCompleteJob(job);
  }

  maybeCompleteJob(job: JobRecord): void {
    if (job.status !== 'IN_PROGRESS' || job.targetSelection !== 'SNAPSHOT') return;
    if (job.plan !== undefined && holdsTargets(job.plan)) return;
    for (const list of job.executions.values()) {
      const l = latest(list);
      if (l !== undefined && isPending(l.status)) return;
    }
    job.status = 'COMPLETED';
    job.completedAtMs = this.now();
    job.lastUpdatedAtMs = job.completedAtMs;
  }

  private record(rec: ExecRecord, from: string, to: string, by: 'device' | 'service'): void {
    const h: HistoryEntry = { at: this.now(), thing: rec.thing, jobId: rec.jobId, executionNumber: rec.executionNumber, from, to, by };
    if (rec.namespace !== undefined) h.namespace = rec.namespace;
    if (Object.keys(rec.statusDetails).length > 0) h.statusDetails = { ...rec.statusDetails };
    this.history.push(h);
  }

  notification(thing: string, topic: string, payload: unknown): void {
    this.outbox.push({ topic, payload, thing, kind: 'notification' });
  }

  private emitNotify(thing: string, ns: string | undefined, jobId: string, order: PendingOrder): void {
    const { inProgress, queued } = order.listed(this.opts.maxPendingListed);
    const jobs: NotifyMsg['jobs'] = {};
    if (inProgress.length > 0) jobs.IN_PROGRESS = inProgress.map(summary);
    if (queued.length > 0) jobs.QUEUED = queued.map(summary);
    const payload: NotifyMsg = { timestamp: Math.floor(this.now() / 1000), jobs };
    if (ns === undefined || this.opts.namespaceNotifyForm !== 'doc') this.notification(thing, topics.notify(thing, ns), payload);
    if (ns !== undefined && this.opts.namespaceNotifyForm !== 'short')
      this.notification(thing, topics.notifyNamespaceDocForm(thing, jobId, ns), payload);
  }

  emitNotifyNext(thing: string, ns: string | undefined, order: PendingOrder): void {
    const head = order.head();
    const payload: NotifyNextMsg = { timestamp: Math.floor(this.now() / 1000) };
    if (head !== undefined) {
      payload.execution = deviceExecution(head, this.jobOf(head), this.renderCtx(this.opts.mqttThingName), 'object');
    }
    this.notification(thing, topics.notifyNext(thing, ns), payload);
  }

  /** Hand the collected notifications to the caller, in the order they were produced. */
  drain(): Publication[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }
}
