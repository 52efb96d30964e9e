/**
 * Target selection (docs/FLEETS.md §A.2): which things a job targets, and what happens when a thing
 * becomes or stops being one. Every execution is born in `thingBecameTarget` — job creation, a
 * thing joining a target group of a continuous job, AssociateTargetsWithJob, a retry — so pacing or
 * scheduling can sit in that one place.
 */
import type { Result, ServiceError } from '../types';
import { isPending, latest } from '../model';
import { deferTarget, forgetTarget } from './plan';
import type { ExecRecord, JobRecord } from '../model';
import { serviceError } from './options';
import { noRetriesUsed } from './retry';
import { validThing } from './validate';
import type { World } from './world';

/** Why a thing became a target: job creation, joining a target group, AssociateTargetsWithJob, a retry. */
export type TargetCause = 'created' | 'joined' | 'associated' | 'retry';

/**
 * A thing became a target of `job` (or is owed a retry): queue its next execution, or hand it to
 * the job's rollout plan (docs/ROLLOUT.md), which creates it when the schedule, the maintenance
 * windows and the rollout rate allow — targets from CreateJob and AssociateTargetsWithJob are
 * paced, a thing joining a target group later is not, a retry is never held. The one place
 * executions come to be; `retryAttempt` counts the retries before this one.
 */
export function thingBecameTarget(w: World, job: JobRecord, thing: string, cause: TargetCause, retryAttempt = 0): ExecRecord | undefined {
  if (cause !== 'retry' && deferTarget(w, job, thing, cause !== 'joined')) return undefined;
  return w.queueExecution(job, thing, retryAttempt);
}

/**
 * A thing stopped being a target of a continuous job: its QUEUED execution becomes REMOVED; an
 * IN_PROGRESS one too, or keeps running, per the `inProgressOnLeave` option (UNVERIFIED, §A.2).
 * Retries owed to it are dropped and its retry budget restarts (§A.3).
 */
export function thingLeftTarget(w: World, job: JobRecord, thing: string): void {
  job.retries.delete(thing);
  forgetTarget(job, thing);
  const rec = latest(job.executions.get(thing));
  if (rec === undefined || !isPending(rec.status)) return;
  if (rec.status === 'IN_PROGRESS' && w.opts.inProgressOnLeave === 'keep') return;
  w.transition(rec, 'REMOVED', { by: 'service', bumpVersion: w.opts.bumpVersionOnServiceTransition });
}

const ARN = /^arn:aws[a-z-]*:iot:[a-z0-9-]*:\d*:(thing|thinggroup)\/(.+)$/;

export interface ResolvedTargets {
  things: string[];
  groups: string[];
}

/** Target ARNs (or bare thing names, a local convenience) → thing and group names; unknown groups are refused. */
export function resolveTargets(w: World, targets: readonly string[]): Result<ResolvedTargets> {
  const things: string[] = [];
  const groups: string[] = [];
  for (const t of targets) {
    const m = ARN.exec(t);
    const kind = m ? m[1] : 'thing';
    const name = m ? (m[2] as string) : t;
    if (kind === 'thinggroup') {
      if (!w.groups.get(name)) return fail(serviceError('ResourceNotFoundException', 404, `Thing group ${name} does not exist`));
      if (!groups.includes(name)) groups.push(name);
    } else {
      if (!validThing(name)) return fail(serviceError('InvalidRequestException', 400, `target ${JSON.stringify(t)} is not a thing or thing-group ARN`));
      if (!things.includes(name)) things.push(name);
    }
  }
  return { ok: true, value: { things, groups } };
}

function fail<T>(error: ServiceError): Result<T> {
  return { ok: false, error };
}

export const MAX_JOB_TARGETS = 100;

/** Whether `thing` is a target of `job` now: named directly or a member (through any depth) of a target group. */
export function isTarget(w: World, job: JobRecord, thing: string): boolean {
  if (job.thingTargets.has(thing)) return true;
  if (job.groupTargets.size === 0) return false;
  for (const g of w.groups.closureOf(thing)) if (job.groupTargets.has(g)) return true;
  return false;
}

/** Every thing a job targets now, each once: named things first, then group members. */
export function targetThings(w: World, job: JobRecord): string[] {
  const out = new Set<string>(job.thingTargets);
  for (const g of job.groupTargets) for (const t of w.groups.members(g, true)) out.add(t);
  return [...out];
}

/** Add resolved targets to a job and queue an execution for each thing that was not a target yet. */
export function addTargets(w: World, job: JobRecord, arns: readonly string[], r: ResolvedTargets, cause: TargetCause): void {
  const candidates = new Set<string>(r.things);
  for (const g of r.groups) for (const t of w.groups.members(g, true)) candidates.add(t);
  const fresh = [...candidates].filter((t) => !isTarget(w, job, t));
  for (const a of arns) if (!job.targets.includes(a)) job.targets.push(a);
  for (const t of r.things) job.thingTargets.add(t);
  for (const g of r.groups) job.groupTargets.add(g);
  for (const thing of fresh) {
    if (isPending(latest(job.executions.get(thing))?.status ?? 'REMOVED')) continue;
    w.ensureThing(thing);
    thingBecameTarget(w, job, thing, cause);
  }
}

/**
 * After a thing's group memberships changed (`before` = the groups it was in, with ancestors): each
 * IN_PROGRESS continuous job it joined queues an execution, each it left removes its pending one.
 */
export function membershipChanged(w: World, thing: string, before: ReadonlySet<string>): void {
  const after = w.groups.closureOf(thing);
  const touched = new Set<string>([...before, ...after].filter((g) => !(before.has(g) && after.has(g))));
  if (touched.size === 0) return;
  for (const job of [...w.jobs.values()]) {
    // A SCHEDULED job's plan holds its targets until the start, so it follows joins and leaves too.
    if (job.targetSelection !== 'CONTINUOUS' || (job.status !== 'IN_PROGRESS' && job.status !== 'SCHEDULED') || job.groupTargets.size === 0) continue;
    if (![...touched].some((g) => job.groupTargets.has(g))) continue;
    const was = job.thingTargets.has(thing) || [...before].some((g) => job.groupTargets.has(g));
    const now = isTarget(w, job, thing);
    if (was === now) continue;
    job.retries.set(thing, noRetriesUsed());
    if (!now) thingLeftTarget(w, job, thing);
    else if (!isPending(latest(job.executions.get(thing))?.status ?? 'REMOVED')) thingBecameTarget(w, job, thing, 'joined');
  }
}
