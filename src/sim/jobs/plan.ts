/**
 * A job's rollout plan: what stands between "this thing is a target" and "its execution exists"
 * (docs/ROLLOUT.md). Targets wait while the job is SCHEDULED, while no maintenance window is open
 * and while the minute's rollout rate is used up; at the end time the end behavior applies; after
 * each finished execution the abort criteria are checked. Everything is driven by the service's
 * clock through `advancePlan` at the instants `nextPlanEvent` names, so a clock moved forward by an
 * hour replays the hour minute by minute.
 */
import { holdsTargets } from '../model';
import type { ExecRecord, JobPlan, JobRecord } from '../model';
import { ABORT_REASON_CODE, abortComment, firstMet, isFinished, tally } from './abort';
import type { AbortCriterion } from './abort';
import { cancelExecutions } from './cancel';
import type { JobConfigs } from './job-config';
import { nextMinute, ratePerMinute, room } from './rollout';
import type { Pacer, RolloutSpec } from './rollout';
import { formatDateTime, upcomingOpenings, windowState } from './schedule';
import type { ScheduleSpec, WindowState } from './schedule';
import type { World } from './world';

declare module '../model' {
  /** What a plan runs by; its progress members are in model.ts. */
  interface JobPlan {
    rollout?: RolloutSpec;
    abort?: AbortCriterion[];
    schedule?: ScheduleSpec;
    pacer: Pacer;
    windowCache?: WindowState & { from: number };
  }
}

type Obj = Record<string, unknown>;

/** A plan when the job needs one: any of the three configurations, or a service-wide default rate. */
export function makePlan(c: JobConfigs, now: number, defaultPerMinute: number): JobPlan | undefined;
export function makePlan(c: JobConfigs, now: number, defaultPerMinute: number, always: true): JobPlan;
export function makePlan(c: JobConfigs, now: number, defaultPerMinute: number, always = false): JobPlan | undefined {
  if (!always && c.rollout === undefined && c.abort === undefined && c.schedule === undefined && defaultPerMinute <= 0) return undefined;
  const plan: JobPlan = { echo: {}, waiting: [], next: 0, late: [], notified: 0, pacer: { minuteStartMs: undefined, rate: 0, inMinute: 0 }, over: false, ended: false, at: now };
  if (c.rollout !== undefined) [plan.rollout, plan.echo.jobExecutionsRolloutConfig] = [c.rollout.spec, c.rollout.echo];
  else if (defaultPerMinute > 0) plan.rollout = { maximumPerMinute: defaultPerMinute };
  if (c.abort !== undefined) [plan.abort, plan.echo.abortConfig] = [c.abort.criteria, c.abort.echo];
  if (c.schedule !== undefined) [plan.schedule, plan.echo.schedulingConfig] = [c.schedule, c.schedule.echo];
  return plan;
}

/** The status a new job starts in. */
export function initialStatus(plan: JobPlan | undefined): 'SCHEDULED' | 'IN_PROGRESS' {
  return plan?.schedule?.startAtMs !== undefined ? 'SCHEDULED' : 'IN_PROGRESS';
}

/**
 * A thing became a target of a job with a plan: whether the plan takes it (true) or its execution
 * is to be created now (false). `paced` targets (CreateJob, AssociateTargetsWithJob) wait for the
 * start, a maintenance window and the rollout rate; the others (a thing joining a target group
 * later) only for the start and, per `lateTargetsWaitForWindow`, a window (docs/ROLLOUT.md §R.1).
 * Once the plan is over, new targets get no execution.
 */
export function deferTarget(w: World, job: JobRecord, thing: string, paced: boolean): boolean {
  const plan = job.plan;
  if (plan === undefined) return false;
  if (plan.over) return true;
  if (paced) {
    plan.waiting.push(thing);
  } else {
    const waits = job.status === 'SCHEDULED' || (w.opts.lateTargetsWaitForWindow && !windowAt(plan, w.now()).open);
    if (!waits) return false;
    plan.late.push(thing);
  }
  w.planned.add(job);
  advancePlan(w, job, w.now());
  return true;
}

/** A thing stopped being a target before its execution was created. */
export function forgetTarget(job: JobRecord, thing: string): void {
  const plan = job.plan;
  if (plan === undefined) return;
  const i = plan.waiting.indexOf(thing, plan.next);
  if (i >= 0) plan.waiting.splice(i, 1);
  plan.late = plan.late.filter((t) => t !== thing);
}

function succeeded(job: JobRecord): number {
  let n = 0;
  for (const list of job.executions.values()) if (list[list.length - 1]?.status === 'SUCCEEDED') n += 1;
  return n;
}

function rateOf(plan: JobPlan, job: JobRecord): number {
  return plan.rollout === undefined ? Number.POSITIVE_INFINITY : ratePerMinute(plan.rollout, plan.notified, succeeded(job));
}

function windowAt(plan: JobPlan, t: number): WindowState {
  const windows = plan.schedule?.windows ?? [];
  if (windows.length === 0) return { open: true, until: undefined };
  const c = plan.windowCache;
  // Valid from its computation until the state flips.
  if (c !== undefined && t >= c.from && (c.until === undefined ? !c.open : t < c.until)) return c;
  const s = windowState(windows, t);
  plan.windowCache = { ...s, from: t };
  return s;
}

function create(w: World, job: JobRecord, plan: JobPlan, t: number): boolean {
  if (windowAt(plan, t).open === false) return false;
  const n = room(plan.pacer, () => rateOf(plan, job), t);
  if (n <= 0) return false;
  const take = Math.min(n, plan.waiting.length - plan.next);
  for (let i = 0; i < take; i++) {
    w.queueExecution(job, plan.waiting[plan.next++] as string);
    plan.pacer.inMinute += 1;
    plan.notified += 1;
  }
  return take > 0;
}

function pump(w: World, job: JobRecord, plan: JobPlan, t: number): void {
  if (plan.late.length > 0 && windowAt(plan, t).open) {
    const late = plan.late;
    plan.late = [];
    for (const thing of late) w.queueExecution(job, thing);
  }
  if (plan.next < plan.waiting.length) create(w, job, plan, t);
  if (plan.next >= plan.waiting.length) {
    plan.waiting = [];
    plan.next = 0;
  }
}

function stop(plan: JobPlan): void {
  plan.over = true;
  plan.waiting = [];
  plan.next = 0;
  plan.late = [];
}

/** endBehavior at endTime: STOP_ROLLOUT lets created executions finish; CANCEL / FORCE_CANCEL cancel the job. */
function applyEnd(w: World, job: JobRecord, plan: JobPlan): void {
  plan.ended = true;
  stop(plan);
  const behavior = plan.schedule?.endBehavior ?? 'STOP_ROLLOUT';
  if (behavior === 'STOP_ROLLOUT') w.maybeCompleteJob(job);
  else cancelExecutions(w, job, behavior === 'FORCE_CANCEL');
}

/** Does whatever is due for this job at `t` (start, end, the rollout minute). */
export function advancePlan(w: World, job: JobRecord, t: number): void {
  const plan = job.plan;
  if (plan === undefined || w.jobs.get(job.jobId) !== job) {
    w.planned.delete(job);
    return;
  }
  plan.at = Math.max(plan.at, t);
  const s = plan.schedule;
  if (job.status === 'SCHEDULED') {
    if (s?.startAtMs === undefined || t < s.startAtMs) return;
    job.status = 'IN_PROGRESS';
    job.lastUpdatedAtMs = t;
  }
  if (job.status === 'IN_PROGRESS') {
    if (!plan.ended && s?.endAtMs !== undefined && t >= s.endAtMs) applyEnd(w, job, plan);
    else if (!plan.over) pump(w, job, plan, t);
  } else stop(plan);
  const endPending = job.status === 'IN_PROGRESS' && s?.endAtMs !== undefined && !plan.ended;
  if (!endPending && !holdsTargets(plan)) w.planned.delete(job);
}

/** When this job's plan next has something to do (≤ its last time: due now), or undefined. */
export function nextPlanEvent(job: JobRecord): number | undefined {
  const plan = job.plan;
  if (plan === undefined) return undefined;
  const s = plan.schedule;
  if (job.status === 'SCHEDULED') return s?.startAtMs;
  if (job.status !== 'IN_PROGRESS') return plan.at;
  const end = s?.endAtMs !== undefined && !plan.ended ? s.endAtMs : undefined;
  let next: number | undefined;
  if (holdsTargets(plan)) {
    const win = windowAt(plan, plan.at);
    if (!win.open) next = win.until;
    else if (plan.late.length > 0 || plan.pacer.minuteStartMs === undefined || plan.pacer.rate > plan.pacer.inMinute) next = plan.at;
    else next = nextMinute(plan.pacer);
  }
  if (next === undefined) return end;
  return end === undefined ? next : Math.min(next, end);
}

/** After an execution finished: the first abort criterion met cancels the job (QUEUED executions only). */
export function checkAbort(w: World, rec: ExecRecord, job: JobRecord): void {
  if (isFinished(rec.status)) abortIfMet(w, job);
}

function abortIfMet(w: World, job: JobRecord): void {
  const criteria = job.plan?.abort;
  if (criteria === undefined || job.status !== 'IN_PROGRESS') return;
  const t = tally(job.executions.values(), w.opts.abortCounting);
  const met = firstMet(criteria, t);
  if (met === undefined) return;
  stop(job.plan as JobPlan);
  cancelExecutions(w, job, false, { comment: abortComment(met, t), reasonCode: ABORT_REASON_CODE });
}

/** DescribeJob's view of the plan: the configurations and the next maintenance window openings. */
export function describePlan(job: JobRecord, now: number): Obj {
  const plan = job.plan;
  if (plan === undefined) return {};
  const out: Obj = { ...plan.echo };
  const windows = plan.schedule?.windows ?? [];
  if (windows.length > 0 && (job.status === 'SCHEDULED' || job.status === 'IN_PROGRESS')) {
    const from = Math.max(now, plan.schedule?.startAtMs ?? now);
    const end = plan.schedule?.endAtMs;
    const next = upcomingOpenings(windows, from, 7).filter((t) => end === undefined || t < end);
    out.scheduledJobRollouts = next.map((t) => ({ startTime: formatDateTime(t) }));
  }
  return out;
}

/**
 * UpdateJob's rollout and abort configurations: a new rate applies from the next rollout minute,
 * new criteria are checked at once against what has finished so far (docs/ROLLOUT.md §R.6).
 */
export function updatePlan(w: World, job: JobRecord, c: Pick<JobConfigs, 'rollout' | 'abort'>): void {
  if (c.rollout === undefined && c.abort === undefined) return;
  const plan = job.plan ?? makePlan({}, w.now(), 0, true);
  job.plan = plan;
  if (c.rollout !== undefined) [plan.rollout, plan.echo.jobExecutionsRolloutConfig] = [c.rollout.spec, c.rollout.echo];
  if (c.abort !== undefined) [plan.abort, plan.echo.abortConfig] = [c.abort.criteria, c.abort.echo];
  abortIfMet(w, job);
  w.planned.add(job);
}
