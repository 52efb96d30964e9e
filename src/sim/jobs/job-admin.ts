/**
 * The rest of the job lifecycle in the AWS IoT REST shapes: UpdateJob, AssociateTargetsWithJob,
 * DeleteJobExecution (with its `force` rule), GetJobDocument and ListJobs with its filters.
 */
import type { Result, UpdateJobInput } from '../types';
import { checkBody } from './fields';
import { checkJobConfigs } from './job-config';
import { ASSOCIATE_TARGETS, UPDATE_JOB } from './job-fields';
import { isPending } from '../model';
import type { JobRecord } from '../model';
import { paged } from './group-ops';
import type { Page } from './group-ops';
import { badRequest, badTransition, ctlTime, err, jobRef, limitExceeded, notFound, targetArns } from './jobs';
import type { Names } from './jobs';
import { updatePlan } from './plan';
import { addTargets, MAX_JOB_TARGETS, resolveTargets } from './targets';
import { validJobId, validNamespace, validThing } from './validate';
import type { World } from './world';

type Obj = Record<string, unknown>;
type JobRef = ReturnType<typeof jobRef>;

/** The job, when it exists and lives in the namespace the caller named (if any). */
function jobIn(w: World, jobId: string, namespaceId: string | undefined): Result<JobRecord> {
  if (!validJobId(jobId)) return err(badRequest('jobId must match [a-zA-Z0-9_-]{1,64}'));
  if (namespaceId !== undefined && !validNamespace(namespaceId)) return err(badRequest('namespaceId must match [a-zA-Z0-9_-]+'));
  const job = w.jobs.get(jobId);
  if (job === undefined) return err(notFound(`Job ${jobId} does not exist`));
  if (namespaceId !== undefined && job.namespaceId !== namespaceId) return err(notFound(`Job ${jobId} does not exist in namespace ${namespaceId}`));
  return { ok: true, value: job };
}

export function updateJob(w: World, jobId: string, input: UpdateJobInput): Result<Obj> {
  const bad = checkBody({ ...input, jobId }, UPDATE_JOB);
  if (bad !== undefined) return err(bad);
  const found = jobIn(w, jobId, input.namespaceId);
  if (!found.ok) return found;
  const job = found.value;
  if (job.status === 'DELETION_IN_PROGRESS') return err(badRequest(`Job ${jobId} is being deleted`));
  if (input.description !== undefined) job.description = input.description;
  // The in-progress timer is read when an execution starts: executions already running keep theirs.
  const t = input.timeoutConfig;
  if (t !== undefined) {
    if (t.inProgressTimeoutInMinutes === undefined) delete job.inProgressTimeoutMinutes;
    else job.inProgressTimeoutMinutes = t.inProgressTimeoutInMinutes;
  }
  if (input.jobExecutionsRetryConfig !== undefined) job.retryConfig = structuredClone(input.jobExecutionsRetryConfig);
  if (input.presignedUrlConfig !== undefined) job.presignedUrlConfig = { ...input.presignedUrlConfig };
  job.lastUpdatedAtMs = w.now();
  const plan = checkJobConfigs({ jobExecutionsRolloutConfig: input.jobExecutionsRolloutConfig, abortConfig: input.abortConfig }, w.now());
  if (plan.ok) updatePlan(w, job, plan.value);
  return { ok: true, value: {} };
}

export function associateTargetsWithJob(w: World, n: Names, jobId: string, b: Obj): Result<JobRef> {
  const bad = checkBody({ ...b, jobId }, ASSOCIATE_TARGETS);
  if (bad !== undefined) return err(bad);
  const found = jobIn(w, jobId, b.namespaceId as string | undefined);
  if (!found.ok) return found;
  const job = found.value;
  if (job.targetSelection !== 'CONTINUOUS') return err(badRequest(`Job ${jobId} is a SNAPSHOT job; targets can be added to CONTINUOUS jobs only`));
  if (job.status !== 'IN_PROGRESS') return err(badRequest(`Job ${jobId} is ${job.status}; targets can be added while it is IN_PROGRESS only`));
  const resolved = resolveTargets(w, b.targets as string[]);
  if (!resolved.ok) return resolved;
  const arns = targetArns(n, resolved.value);
  const total = new Set([...job.targets, ...arns]).size;
  if (total > MAX_JOB_TARGETS) return err(limitExceeded(`a job has at most ${MAX_JOB_TARGETS} targets; this would make ${total}`));
  addTargets(w, job, arns, resolved.value, 'associated');
  job.lastUpdatedAtMs = w.now();
  return { ok: true, value: jobRef(job) };
}

export interface DeleteExecutionOpts {
  force?: boolean;
  namespaceId?: string;
}

/**
 * Without `force` only a terminal execution may be deleted; with it a pending one too, and the
 * device then finds it gone (ResourceNotFound). The executionNumber may be used again later.
 */
export function deleteJobExecution(w: World, jobId: string, thing: string, executionNumber: number, o: DeleteExecutionOpts): Result<Obj> {
  if (!validThing(thing)) return err(badRequest('thingName must match [a-zA-Z0-9:_-]{1,128}'));
  if (!Number.isSafeInteger(executionNumber)) return err(badRequest('executionNumber must be an integer'));
  const found = jobIn(w, jobId, o.namespaceId);
  if (!found.ok) return found;
  const rec = found.value.executions.get(thing)?.find((e) => e.executionNumber === executionNumber);
  if (rec === undefined) return err(notFound(`No execution ${executionNumber} of job ${jobId} on thing ${thing}`));
  if (isPending(rec.status) && o.force !== true)
    return err(badTransition(`Job execution ${executionNumber} of ${jobId} on ${thing} is ${rec.status}; set force to delete it`));
  w.removeExecution(rec);
  return { ok: true, value: {} };
}

/**
 * GetJobDocument: the document as stored, with `documentParameters` substituted; with
 * `beforeSubstitution`, a managed template's document with its `${aws:iot:parameter:…}`
 * placeholders in place (`template` gives it). Presigned-URL placeholders stay as created either
 * way: they are substituted only when a device fetches the document (docs/PROTOCOL.md §2.6).
 * An operator compares this with what was signed (docs/SIGNING.md).
 */
export function getJobDocument(w: World, jobId: string, beforeSubstitution: boolean, template: (job: JobRecord) => string | undefined): Result<{ document: string }> {
  const found = jobIn(w, jobId, undefined);
  if (!found.ok) return found;
  const before = beforeSubstitution ? template(found.value) : undefined;
  return { ok: true, value: { document: before ?? found.value.document } };
}

export interface ListJobsQuery extends Page {
  status?: string;
  targetSelection?: string;
  thingGroupName?: string;
  thingGroupId?: string;
  namespaceId?: string;
}

const JOB_STATUSES = ['IN_PROGRESS', 'CANCELED', 'COMPLETED', 'DELETION_IN_PROGRESS', 'SCHEDULED'];

function checkListJobs(q: ListJobsQuery): string | undefined {
  if (q.status !== undefined && !JOB_STATUSES.includes(q.status)) return `status must be one of ${JOB_STATUSES.join(', ')}`;
  if (q.targetSelection !== undefined && q.targetSelection !== 'CONTINUOUS' && q.targetSelection !== 'SNAPSHOT') return 'targetSelection must be CONTINUOUS or SNAPSHOT';
  if (q.thingGroupName !== undefined && !/^[a-zA-Z0-9:_-]{1,128}$/.test(q.thingGroupName)) return 'thingGroupName must match [a-zA-Z0-9:_-]{1,128}';
  if (q.thingGroupId !== undefined && !/^[a-zA-Z0-9-]{1,128}$/.test(q.thingGroupId)) return 'thingGroupId must match [a-zA-Z0-9-]{1,128}';
  if (q.namespaceId !== undefined && !validNamespace(q.namespaceId)) return 'namespaceId must match [a-zA-Z0-9_-]+';
  return undefined;
}

/** Jobs in creation order, filtered as asked; a group filter matches jobs that target that group. */
export function listJobs(w: World, q: ListJobsQuery): Result<Obj> {
  const bad = checkListJobs(q);
  if (bad !== undefined) return err(badRequest(bad));
  let group = q.thingGroupName;
  if (q.thingGroupId !== undefined) {
    const byId = [...w.groups.byName.values()].find((g) => g.id === q.thingGroupId);
    if (byId === undefined || (group !== undefined && group !== byId.name)) return { ok: true, value: { jobs: [] } };
    group = byId.name;
  }
  const jobs = [...w.jobs.values()].filter(
    (j) =>
      (q.status === undefined || j.status === q.status) &&
      (q.targetSelection === undefined || j.targetSelection === q.targetSelection) &&
      (q.namespaceId === undefined || j.namespaceId === q.namespaceId) &&
      (group === undefined || j.groupTargets.has(group)),
  );
  return paged(jobs.map((j) => jobSummary(w, j)), q, 'jobs');
}

function jobSummary(w: World, j: JobRecord): Obj {
  const s: Obj = {
    jobArn: j.jobArn,
    jobId: j.jobId,
    targetSelection: j.targetSelection,
    status: j.status,
    createdAt: ctlTime(j.createdAtMs),
    lastUpdatedAt: ctlTime(j.lastUpdatedAtMs),
    isConcurrent: false,
  };
  const firstGroup = [...j.groupTargets][0];
  const gid = firstGroup === undefined ? undefined : w.groups.get(firstGroup)?.id;
  if (gid !== undefined) s.thingGroupId = gid;
  if (j.completedAtMs !== undefined) s.completedAt = ctlTime(j.completedAtMs);
  return s;
}
