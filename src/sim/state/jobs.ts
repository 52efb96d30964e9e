/**
 * Control-plane job lifecycle in the AWS IoT REST shapes: CreateJob, CancelJob, DeleteJob,
 * DescribeJob. Device-visible effects (queueing, cancel, deletion) go through the World so that
 * notifications follow the same rules as device-caused changes.
 */
import { LIMITS } from '../../jobs/types';
import type { CreateJobInput, Result, ServiceError } from '../types';
import { cancelExecutions } from './cancel';
import { checkJobConfigs } from './job-config';
import { latest } from './model';
import type { JobRecord } from './model';
import { serviceError } from './options';
import { admitTargets, describePlan, initialStatus, makePlan } from './plan';
import { hasPlaceholders } from './render';
import { isObj, validJobId, validNamespace, validThing } from './validate';
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

const MAX_DESCRIPTION = 2028;

function validateCreate(w: World, input: CreateJobInput): ServiceError | undefined {
  if (!isObj(input)) return badRequest('request body must be an object');
  if (typeof input.jobId !== 'string' || !validJobId(input.jobId)) return badRequest('jobId must match [a-zA-Z0-9_-]{1,64}');
  if (!Array.isArray(input.targets) || input.targets.length === 0) return badRequest('targets must be a non-empty list');
  const bad = input.targets.find((t) => targetThing(t) === undefined);
  if (bad !== undefined) return badRequest(`target ${JSON.stringify(bad)} is not a thing ARN or thing name`);
  if (typeof input.document !== 'string') return badRequest('document is required');
  if (input.document.length > LIMITS.jobDocumentMax) return badRequest(`document is longer than ${LIMITS.jobDocumentMax} characters`);
  try {
    JSON.parse(input.document);
  } catch {
    return badRequest('document is not valid JSON');
  }
  if (input.description !== undefined && (typeof input.description !== 'string' || input.description.length > MAX_DESCRIPTION))
    return badRequest(`description must be a string of at most ${MAX_DESCRIPTION} characters`);
  if (input.namespaceId !== undefined && (typeof input.namespaceId !== 'string' || !validNamespace(input.namespaceId)))
    return badRequest('namespaceId must match [a-zA-Z0-9_-]+');
  if (input.targetSelection !== undefined && input.targetSelection !== 'SNAPSHOT' && input.targetSelection !== 'CONTINUOUS')
    return badRequest('targetSelection must be SNAPSHOT or CONTINUOUS');
  const t = input.timeoutConfig?.inProgressTimeoutInMinutes;
  if (t !== undefined && (!Number.isInteger(t) || t < 1 || t > 10080))
    return badRequest('timeoutConfig.inProgressTimeoutInMinutes must be between 1 and 10080');
  if (w.jobs.has(input.jobId)) return serviceError('ResourceAlreadyExistsException', 409, `Job ${input.jobId} already exists`);
  return undefined;
}

type JobRef = { jobArn: string; jobId: string; description?: string };

function jobRef(job: JobRecord): JobRef {
  const r: JobRef = { jobArn: job.jobArn, jobId: job.jobId };
  if (job.description !== undefined) r.description = job.description;
  return r;
}

export function createJob(w: World, n: Names, input: CreateJobInput): Result<JobRef> {
  const invalid = validateCreate(w, input);
  if (invalid !== undefined) return err(invalid);
  const configs = checkJobConfigs(input, w.now());
  if (!configs.ok) return configs;
  const now = w.now();
  const plan = makePlan(configs.value, now, w.opts.defaultRolloutPerMinute);
  const names = [...new Set(input.targets.map((t) => targetThing(t) as string))];
  const job: JobRecord = {
    jobId: input.jobId,
    jobArn: `arn:aws:iot:${n.region}:${n.accountId}:job/${input.jobId}`,
    document: input.document,
    parsedDocument: JSON.parse(input.document),
    hasPlaceholders: hasPlaceholders(input.document),
    targetSelection: input.targetSelection ?? 'SNAPSHOT',
    targets: names.map((t) => thingArn(n, t)),
    createdAtMs: now,
    status: initialStatus(plan),
    lastUpdatedAtMs: now,
    executions: new Map(),
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.namespaceId !== undefined ? { namespaceId: input.namespaceId } : {}),
    ...(input.timeoutConfig?.inProgressTimeoutInMinutes !== undefined
      ? { inProgressTimeoutMinutes: input.timeoutConfig.inProgressTimeoutInMinutes }
      : {}),
    ...(plan !== undefined ? { plan } : {}),
  };
  w.jobs.set(job.jobId, job);
  admitTargets(w, job, names);
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
  if (o.comment !== undefined && (typeof o.comment !== 'string' || o.comment.length > MAX_DESCRIPTION))
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
  Object.assign(out, describePlan(job, w.now()));
  return { ok: true, value: { job: out } };
}
