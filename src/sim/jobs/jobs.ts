/**
 * Control-plane job lifecycle in the AWS IoT REST shapes: CreateJob, CancelJob, DeleteJob,
 * DescribeJob. Device-visible effects (queueing, cancel, deletion) go through the World so that
 * notifications follow the same rules as device-caused changes.
 */
import type { CreateJobInput, Result, ServiceError } from '../types';
import { cancelExecutions } from './cancel';
import { checkJobConfigs } from './job-config';
import { latest } from '../model';
import type { JobRecord } from '../model';
import { serviceError } from './options';
import { checkBody } from './fields';
import { CREATE_JOB } from './job-fields';
import { describePlan, initialStatus, makePlan } from './plan';
import { hasPlaceholders } from './presign';
import { addTargets, MAX_JOB_TARGETS, resolveTargets } from './targets';
import { configsOfJobBody } from './template-keys';
import { validThing } from './validate';
import type { World } from './world';

export interface Names {
  region: string;
  accountId: string;
}

export const badRequest = (m: string): ServiceError => serviceError('InvalidRequestException', 400, m);
export const notFound = (m: string): ServiceError => serviceError('ResourceNotFoundException', 404, m);
export const badTransition = (m: string): ServiceError => serviceError('InvalidStateTransitionException', 409, m);

export function err<T>(e: ServiceError): Result<T> {
  return { ok: false, error: e };
}

export function thingArn(n: Names, thing: string): string {
  return `arn:aws:iot:${n.region}:${n.accountId}:thing/${thing}`;
}

export function groupArn(n: Names, group: string): string {
  return `arn:aws:iot:${n.region}:${n.accountId}:thinggroup/${group}`;
}

/** Resolved targets as this account's ARNs, things first. */
export function targetArns(n: Names, r: { things: string[]; groups: string[] }): string[] {
  return [...r.things.map((t) => thingArn(n, t)), ...r.groups.map((g) => groupArn(n, g))];
}

/** Control-plane timestamps: epoch seconds, with milliseconds as a fraction like the real API. */
export function ctlTime(ms: number): number {
  return ms / 1000;
}

const THING_ARN = /^arn:aws[a-z-]*:iot:[a-z0-9-]*:\d*:thing\/(.+)$/;

/** Thing ARN or bare name → thing name, or undefined when neither. */
export function targetThing(target: unknown): string | undefined {
  if (typeof target !== 'string') return undefined;
  const m = THING_ARN.exec(target);
  const name = m ? (m[1] as string) : target;
  return validThing(name) ? name : undefined;
}

function validateCreate(w: World, input: CreateJobInput): ServiceError | undefined {
  const shape = checkBody(input, CREATE_JOB);
  if (shape !== undefined) return shape;
  if (typeof input.document !== 'string') return badRequest('document is required');
  try {
    JSON.parse(input.document);
  } catch {
    return badRequest('document is not valid JSON');
  }
  if (input.targets.length > MAX_JOB_TARGETS) return limitExceeded(`a job has at most ${MAX_JOB_TARGETS} targets`);
  if (w.jobs.has(input.jobId)) return serviceError('ResourceAlreadyExistsException', 409, `Job ${input.jobId} already exists`);
  return undefined;
}

export const limitExceeded = (m: string): ServiceError => serviceError('LimitExceededException', 410, m);

type JobRef = { jobArn: string; jobId: string; description?: string };

export function jobRef(job: JobRecord): JobRef {
  const r: JobRef = { jobArn: job.jobArn, jobId: job.jobId };
  if (job.description !== undefined) r.description = job.description;
  return r;
}

function newJob(n: Names, input: CreateJobInput & { document: string }, now: number): JobRecord {
  const job: JobRecord = {
    jobId: input.jobId,
    jobArn: `arn:aws:iot:${n.region}:${n.accountId}:job/${input.jobId}`,
    document: input.document,
    parsedDocument: JSON.parse(input.document),
    hasPlaceholders: hasPlaceholders(input.document),
    targetSelection: input.targetSelection ?? 'SNAPSHOT',
    targets: [],
    thingTargets: new Set(),
    groupTargets: new Set(),
    retries: new Map(),
    createdAtMs: now,
    status: 'IN_PROGRESS',
    lastUpdatedAtMs: now,
    executions: new Map(),
  };
  if (input.description !== undefined) job.description = input.description;
  if (input.namespaceId !== undefined) (job as { namespaceId?: string }).namespaceId = input.namespaceId;
  if (input.timeoutConfig?.inProgressTimeoutInMinutes !== undefined) job.inProgressTimeoutMinutes = input.timeoutConfig.inProgressTimeoutInMinutes;
  if (input.jobExecutionsRetryConfig !== undefined) job.retryConfig = structuredClone(input.jobExecutionsRetryConfig);
  if (input.presignedUrlConfig !== undefined) job.presignedUrlConfig = { ...input.presignedUrlConfig };
  if (input.tags !== undefined) job.tags = input.tags.map((t) => ({ ...t }));
  if (input.jobTemplateArn !== undefined) job.jobTemplateArn = input.jobTemplateArn;
  if (input.documentParameters !== undefined) job.documentParameters = { ...input.documentParameters };
  const configs = configsOfJobBody(input);
  if (Object.keys(configs).length > 0) job.templateConfigs = structuredClone(configs);
  return job;
}

export function createJob(w: World, n: Names, input: CreateJobInput): Result<JobRef> {
  const invalid = validateCreate(w, input);
  if (invalid !== undefined) return err(invalid);
  const resolved = resolveTargets(w, input.targets);
  if (!resolved.ok) return resolved;
  const arns = targetArns(n, resolved.value);
  const configs = checkJobConfigs(input, w.now());
  if (!configs.ok) return configs;
  const job = newJob(n, input as CreateJobInput & { document: string }, w.now());
  const plan = makePlan(configs.value, job.createdAtMs, w.opts.defaultRolloutPerMinute);
  if (plan !== undefined) [job.plan, job.status] = [plan, initialStatus(plan)];
  w.jobs.set(job.jobId, job);
  addTargets(w, job, arns, resolved.value, 'created');
  w.maybeCompleteJob(job);
  return { ok: true, value: jobRef(job) };
}

export interface CancelJobOpts {
  force?: boolean;
  comment?: string;
  reasonCode?: string;
}

export function cancelJob(w: World, jobId: string, o: CancelJobOpts): Result<JobRef> {
  const job = w.jobs.get(jobId);
  if (job === undefined) return err(notFound(`Job ${jobId} does not exist`));
  if (job.status === 'COMPLETED' || job.status === 'DELETION_IN_PROGRESS')
    return err(badTransition(`Job ${jobId} is ${job.status} and cannot be canceled`));
  if (o.comment !== undefined && (typeof o.comment !== 'string' || o.comment.length > 2028))
    return err(badRequest('comment is too long'));
  if (o.reasonCode !== undefined && (typeof o.reasonCode !== 'string' || !/^[\p{Lu}\p{Nd}_]{1,128}$/u.test(o.reasonCode)))
    return err(badRequest('reasonCode must match [\\p{Upper}\\p{Digit}_]+'));
  cancelExecutions(w, job, o.force === true, o);
  return { ok: true, value: jobRef(job) };
}

export function deleteJob(w: World, jobId: string, o: { force?: boolean }): Result<void> {
  const job = w.jobs.get(jobId);
  if (job === undefined) return err(notFound(`Job ${jobId} does not exist`));
  if (job.status === 'IN_PROGRESS' && o.force !== true)
    return err(badTransition(`Job ${jobId} is IN_PROGRESS; set force to delete it`));
  job.status = 'DELETION_IN_PROGRESS';
  for (const list of job.executions.values()) for (const rec of list) w.deleteExecution(rec);
  w.jobs.delete(jobId);
  return { ok: true, value: undefined };
}

function processDetails(job: JobRecord): Record<string, number> {
  const count: Record<string, number> = {
    numberOfCanceledThings: 0,
    numberOfSucceededThings: 0,
    numberOfFailedThings: 0,
    numberOfRejectedThings: 0,
    numberOfQueuedThings: 0,
    numberOfInProgressThings: 0,
    numberOfRemovedThings: 0,
    numberOfTimedOutThings: 0,
  };
  const key: Record<string, string> = {
    CANCELED: 'numberOfCanceledThings',
    SUCCEEDED: 'numberOfSucceededThings',
    FAILED: 'numberOfFailedThings',
    REJECTED: 'numberOfRejectedThings',
    QUEUED: 'numberOfQueuedThings',
    IN_PROGRESS: 'numberOfInProgressThings',
    REMOVED: 'numberOfRemovedThings',
    TIMED_OUT: 'numberOfTimedOutThings',
  };
  for (const list of job.executions.values()) {
    const rec = latest(list);
    const k = rec === undefined ? undefined : key[rec.status];
    if (k !== undefined) count[k] = (count[k] ?? 0) + 1;
  }
  return count;
}

export function describeJob(w: World, jobId: string): Result<{ job: Record<string, unknown> }> {
  const job = w.jobs.get(jobId);
  if (job === undefined) return err(notFound(`Job ${jobId} does not exist`));
  const out: Record<string, unknown> = {
    jobArn: job.jobArn,
    jobId: job.jobId,
    targetSelection: job.targetSelection,
    status: job.status,
    forceCanceled: job.forceCanceled ?? false,
    targets: [...job.targets],
    createdAt: ctlTime(job.createdAtMs),
    lastUpdatedAt: ctlTime(job.lastUpdatedAtMs),
    jobProcessDetails: processDetails(job),
  };
  if (job.description !== undefined) out.description = job.description;
  if (job.namespaceId !== undefined) out.namespaceId = job.namespaceId;
  if (job.completedAtMs !== undefined) out.completedAt = ctlTime(job.completedAtMs);
  if (job.comment !== undefined) out.comment = job.comment;
  if (job.reasonCode !== undefined) out.reasonCode = job.reasonCode;
  if (job.inProgressTimeoutMinutes !== undefined) out.timeoutConfig = { inProgressTimeoutInMinutes: job.inProgressTimeoutMinutes };
  if (job.retryConfig !== undefined) out.jobExecutionsRetryConfig = structuredClone(job.retryConfig);
  if (job.presignedUrlConfig !== undefined) out.presignedUrlConfig = { ...job.presignedUrlConfig };
  out.isConcurrent = false;
  if (job.jobTemplateArn !== undefined) out.jobTemplateArn = job.jobTemplateArn;
  if (job.documentParameters !== undefined) out.documentParameters = { ...job.documentParameters };
  Object.assign(out, describePlan(job, w.now()));
  return { ok: true, value: { job: out } };
}
