/**
 * The local AWS IoT Jobs service as a pure, synchronous state machine (docs/PROTOCOL.md §1–§5). Fronts (MQTT
 * broker hook, HTTPS data plane, HTTP control plane) call in; every MQTT message a call causes is
 * pushed into `init.publish` before the call returns — the response first, then notifications.
 * Time comes only from `init.clock`; randomness (fault injection) only from `init.random`.
 */
import { AgentError } from '../lib/errors';
import type { JobExecution, JobExecutionState, JobExecutionSummary } from '../jobs/types';
import type { CreateJobInput, Faults, Publication, Result, ServiceInit, SimOptions, UpdateJobInput } from './types';
import * as groupOps from './jobs/group-ops';
import * as admin from './jobs/job-admin';
import { cancelJobExecution, describeExecutionControl, listForJob, listForThing } from './jobs/executions';
import type { CancelExecutionOpts, ListQuery } from './jobs/executions';
import { httpDescribe, httpGetPending, httpStartNext, httpUpdate } from './jobs/http';
import { cancelJob, createJob, deleteJob, describeJob } from './jobs/jobs';
import type { CancelJobOpts, Names } from './jobs/jobs';
import { deadlineOf } from './model';
import type { ExecRecord, HistoryEntry } from './model';
import { installLifecycle } from './jobs/lifecycle';
import { handleMqtt } from './jobs/mqtt';
import type { FrontDeps } from './jobs/mqtt';
import { DEFAULT_SIM_OPTIONS } from './jobs/options';
import { advancePlan, checkAbort, nextPlanEvent } from './jobs/plan';
import type { DevErr } from './jobs/options';
import { applyJobTemplate } from './jobs/template-jobs';
import { TemplateStore, createJobTemplate, deleteJobTemplate, describeJobTemplate, listJobTemplates } from './jobs/templates';
import type { PageQuery } from './jobs/templates';
import { validThing } from './jobs/validate';
import { describeManagedJobTemplate, listManagedJobTemplates, managedFromArn } from './jobs/managed-templates/api';
import { templateDocument } from './jobs/managed-templates/parameters';
import { World } from './jobs/world';
import type { ObjectsOrigin } from './jobs/presign';

export { DEFAULT_SIM_OPTIONS };
export type { HistoryEntry };

type JobRef = { jobArn: string; jobId: string; description?: string };
type Obj = Record<string, unknown>;
type ListResult = Result<{ executionSummaries: unknown[]; nextToken?: string }>;

export class JobsService {
  readonly options: SimOptions;
  private readonly world: World;
  private readonly names: Names;
  private readonly faults = new Map<string, Faults>();
  private readonly templates = new TemplateStore();
  private readonly publish: (p: Publication) => void;
  private readonly random: () => number;
  private readonly deps: FrontDeps;

  constructor(init: ServiceInit) {
    this.options = Object.freeze({ ...DEFAULT_SIM_OPTIONS, ...(init.options ?? {}) });
    this.world = new World(this.options, init.clock);
    // Abort criteria before retries: a job they cancel queues no retry.
    this.world.terminalHooks.push((rec, job) => checkAbort(this.world, rec, job));
    installLifecycle(this.world);
    this.names = { region: init.region ?? 'us-east-1', accountId: init.accountId ?? '123456789012' };
    this.publish = init.publish;
    this.random = init.random ?? Math.random;
    this.deps = {
      world: this.world,
      publish: this.publish,
      roll: (thing) => this.roll(thing),
      consistencyMs: (thing) => this.faultsFor(thing).eventualConsistencyMs,
      duplicateNotifyNext: (thing) => this.faultsFor(thing).duplicateNotifyNext === true,
      refused: init.onRefusal ?? (() => undefined),
    };
  }

  /** From now on presigned-URL placeholders name the sim's own object front (src/sim/fronts/s3-objects.ts). */
  serveObjectsAt(objects: ObjectsOrigin): void {
    this.world.objects = objects;
  }

  // ---- things

  createThing(name: string): void {
    if (typeof name !== 'string' || !validThing(name)) throw new AgentError('InvalidThingName', `invalid thing name: ${String(name)}`);
    this.world.ensureThing(name);
  }

  hasThing(name: string): boolean {
    return this.world.things.has(name);
  }

  listThings(): string[] {
    return [...this.world.things.keys()];
  }

  // ---- faults

  setFaults(thing: string, faults: Faults): void {
    this.faults.set(thing, { ...faults });
  }

  faultsFor(thing: string): Faults {
    return { ...(this.faults.get('*') ?? {}), ...(this.faults.get(thing) ?? {}) };
  }

  /** Throttling wins over internal errors; the random source is consulted only when a fault is armed. */
  private roll(thing: string): DevErr | undefined {
    const f = this.faultsFor(thing);
    if ((f.throttle ?? 0) > 0 && this.random() < (f.throttle ?? 0)) return { code: 'RequestThrottled', message: 'Rate exceeded' };
    if ((f.internalError ?? 0) > 0 && this.random() < (f.internalError ?? 0))
      return { code: 'InternalError', message: 'Internal service error' };
    return undefined;
  }

  private flush(): void {
    for (const p of this.world.drain()) this.publish(p);
  }

  private flushed<T>(r: T): T {
    this.flush();
    return r;
  }

  // ---- MQTT device plane

  handleMqtt(clientId: string, topic: string, payload: Buffer): void {
    handleMqtt(this.deps, clientId, topic, payload);
  }

  // ---- HTTPS data plane

  private get httpDeps(): FrontDeps & { flush: () => void } {
    return { ...this.deps, flush: () => this.flush() };
  }

  httpGetPending(
    thing: string,
    namespaceId?: string,
  ): Result<{ inProgressJobs: JobExecutionSummary[]; queuedJobs: JobExecutionSummary[] }> {
    return httpGetPending(this.httpDeps, thing, namespaceId);
  }

  httpDescribe(thing: string, jobId: string, q: { includeJobDocument?: boolean; executionNumber?: number }): Result<{ execution?: JobExecution }> {
    return httpDescribe(this.httpDeps, thing, jobId, q);
  }

  httpStartNext(thing: string, body: unknown): Result<{ execution?: JobExecution }> {
    return httpStartNext(this.httpDeps, thing, body);
  }

  httpUpdate(thing: string, jobId: string, body: unknown): Result<{ executionState?: JobExecutionState; jobDocument?: string }> {
    return httpUpdate(this.httpDeps, thing, jobId, body);
  }

  // ---- control plane

  createJob(input: CreateJobInput): Result<JobRef> {
    return this.flushed(createJob(this.world, this.names, input));
  }

  /** A CreateJob request body with its `jobTemplateArn` applied (docs/TEMPLATES.md §2); unchanged without one. */
  applyJobTemplate(body: Record<string, unknown>): Result<Record<string, unknown>> {
    return applyJobTemplate(this.templates, this.names, body);
  }

  createJobTemplate(jobTemplateId: string, body: Record<string, unknown>): Result<{ jobTemplateArn: string; jobTemplateId: string }> {
    return createJobTemplate(this.templates, this.world, this.names, jobTemplateId, body);
  }

  describeJobTemplate(jobTemplateId: string): Result<Record<string, unknown>> {
    return describeJobTemplate(this.templates, jobTemplateId);
  }

  listJobTemplates(q: PageQuery): Result<{ jobTemplates: unknown[]; nextToken?: string }> {
    return listJobTemplates(this.templates, q);
  }

  deleteJobTemplate(jobTemplateId: string): Result<void> {
    return deleteJobTemplate(this.templates, jobTemplateId);
  }

  listManagedJobTemplates(q: PageQuery & { templateName?: string }): Result<{ managedJobTemplates: unknown[]; nextToken?: string }> {
    return listManagedJobTemplates(this.names, q);
  }

  describeManagedJobTemplate(templateName: string, templateVersion?: string): Result<Record<string, unknown>> {
    return describeManagedJobTemplate(this.names, templateName, templateVersion);
  }

  cancelJob(jobId: string, o: CancelJobOpts): Result<JobRef> {
    return this.flushed(cancelJob(this.world, jobId, o));
  }

  deleteJob(jobId: string, o: { force?: boolean }): Result<void> {
    return this.flushed(deleteJob(this.world, jobId, o));
  }

  describeJob(jobId: string): Result<{ job: Record<string, unknown> }> {
    return describeJob(this.world, jobId);
  }

  cancelJobExecution(jobId: string, thing: string, o: CancelExecutionOpts): Result<void> {
    return this.flushed(cancelJobExecution(this.world, jobId, thing, o));
  }

  describeJobExecutionControl(jobId: string, thing: string, executionNumber?: number): Result<{ execution: Record<string, unknown> }> {
    return describeExecutionControl(this.world, this.names, jobId, thing, executionNumber);
  }

  listJobExecutionsForThing(thing: string, q: ListQuery & { namespaceId?: string; jobId?: string }): ListResult {
    return listForThing(this.world, thing, q);
  }

  listJobExecutionsForJob(jobId: string, q: ListQuery): ListResult {
    return listForJob(this.world, this.names, jobId, q);
  }

  // ---- fleets: thing groups, targets, the rest of the job lifecycle (docs/FLEETS.md)

  createThingGroup(name: string, body: Obj): Result<Obj> {
    return groupOps.createThingGroup(this.world, this.names, name, body);
  }

  describeThingGroup(name: string): Result<Obj> {
    return groupOps.describeThingGroup(this.world, name);
  }

  updateThingGroup(name: string, body: Obj): Result<Obj> {
    return groupOps.updateThingGroup(this.world, name, body);
  }

  deleteThingGroup(name: string, expectedVersion?: number): Result<Obj> {
    return this.flushed(groupOps.deleteThingGroup(this.world, name, expectedVersion));
  }

  listThingGroups(q: Parameters<typeof groupOps.listThingGroups>[1]): Result<Obj> {
    return groupOps.listThingGroups(this.world, q);
  }

  addThingToThingGroup(body: Obj): Result<Obj> {
    return this.flushed(groupOps.addThingToThingGroup(this.world, body));
  }

  removeThingFromThingGroup(body: Obj): Result<Obj> {
    return this.flushed(groupOps.removeThingFromThingGroup(this.world, body));
  }

  updateThingGroupsForThing(body: Obj): Result<Obj> {
    return this.flushed(groupOps.updateThingGroupsForThing(this.world, body));
  }

  listThingsInThingGroup(name: string, q: Parameters<typeof groupOps.listThingsInThingGroup>[2]): Result<Obj> {
    return groupOps.listThingsInThingGroup(this.world, name, q);
  }

  listThingGroupsForThing(thing: string, q: Parameters<typeof groupOps.listThingGroupsForThing>[2]): Result<Obj> {
    return groupOps.listThingGroupsForThing(this.world, thing, q);
  }

  updateJob(jobId: string, input: UpdateJobInput): Result<Obj> {
    return this.flushed(admin.updateJob(this.world, jobId, input));
  }

  associateTargetsWithJob(jobId: string, body: Obj): Result<JobRef> {
    return this.flushed(admin.associateTargetsWithJob(this.world, this.names, jobId, body));
  }

  deleteJobExecution(jobId: string, thing: string, executionNumber: number, o: admin.DeleteExecutionOpts): Result<Obj> {
    return this.flushed(admin.deleteJobExecution(this.world, jobId, thing, executionNumber, o));
  }

  getJobDocument(jobId: string, beforeSubstitution = false): Result<{ document: string }> {
    return admin.getJobDocument(this.world, jobId, beforeSubstitution, (job) => {
      if (job.jobTemplateArn === undefined || job.documentParameters === undefined) return undefined;
      const t = managedFromArn(this.names, job.jobTemplateArn);
      return t?.ok ? templateDocument(t.value) : undefined;
    });
  }

  listJobs(q: admin.ListJobsQuery): Result<Obj> {
    return admin.listJobs(this.world, q);
  }

  // ---- timers

  /**
   * Apply everything due by now, in time order and each at its own instant: step / in-progress
   * timers (docs/PROTOCOL.md §4.5: TIMED_OUT + notifications) and job plans (docs/ROLLOUT.md:
   * scheduled starts and ends, rollout minutes, maintenance windows). After a clock jump this
   * replays the skipped stretch one event at a time.
   */
  tick(): void {
    // The clock itself, not world.now(): replayed instants must not be clamped to this read.
    const now = this.world.clock.now();
    // Each round handles one instant; the bound only guards against a plan that never settles.
    for (let round = 0; round < 1_000_000; round++) {
      const t = earliest(this.nextTimerAt(), this.nextPlanAt());
      if (t === undefined || t > now) break;
      this.world.at(t, () => this.runDue(this.world.now()));
    }
    this.flush();
  }

  private runDue(t: number): void {
    const due: ExecRecord[] = [];
    for (const rec of this.world.timed) {
      const d = deadlineOf(rec);
      if (d !== undefined && d <= t) due.push(rec);
    }
    due.sort((a, b) => (deadlineOf(a) ?? 0) - (deadlineOf(b) ?? 0) || a.seq - b.seq);
    for (const rec of due) {
      this.world.transition(rec, 'TIMED_OUT', { by: 'service', bumpVersion: this.options.bumpVersionOnServiceTransition });
    }
    for (const job of [...this.world.planned]) {
      const at = nextPlanEvent(job);
      if (at !== undefined && at <= t) advancePlan(this.world, job, t);
    }
  }

  private nextPlanAt(): number | undefined {
    let next: number | undefined;
    for (const job of [...this.world.planned]) {
      // A deleted job leaves its plan behind: drop it rather than wait for its next instant.
      if (this.world.jobs.get(job.jobId) !== job) this.world.planned.delete(job);
      else next = earliest(next, nextPlanEvent(job));
    }
    return next;
  }

  /** The next instant anything time-driven happens: a timer or a job plan (docs/ROLLOUT.md). */
  nextEventAt(): number | undefined {
    return earliest(this.nextTimerAt(), this.nextPlanAt());
  }

  nextTimerAt(): number | undefined {
    let next: number | undefined;
    for (const rec of this.world.timed) {
      const d = deadlineOf(rec);
      if (d !== undefined && (next === undefined || d < next)) next = d;
    }
    return next;
  }

  history(): ReadonlyArray<HistoryEntry> {
    return this.world.history;
  }
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  return b === undefined ? a : Math.min(a, b);
}
