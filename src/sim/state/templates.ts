/**
 * Custom job templates in the AWS IoT REST shapes: CreateJobTemplate (from scratch or from an
 * existing job's ARN), DescribeJobTemplate, ListJobTemplates, DeleteJobTemplate. A template holds a
 * job document and the job configurations as the client sent them; CreateJob with the template's
 * ARN (template-jobs.ts) hands them on to CreateJob's own validation, so every configuration is
 * checked, applied or refused by the code that owns it.
 */
import { LIMITS } from '../../jobs/types';
import type { Result, ServiceError } from '../types';
import { badRequest, ctlTime, err, notFound } from './jobs';
import type { Names } from './jobs';
import { serviceError } from './options';
import { TEMPLATE_CONFIG_KEYS } from './template-keys';
import type { TemplateConfigs } from './template-keys';
import { isObj } from './validate';
import type { Obj } from './validate';
import type { World } from './world';

export interface JobTemplateRecord {
  readonly id: string;
  readonly arn: string;
  readonly description: string;
  readonly document: string;
  readonly createdAtMs: number;
  readonly configs: Readonly<TemplateConfigs>;
}

export class TemplateStore {
  /** Creation order is listing order. */
  readonly custom = new Map<string, JobTemplateRecord>();
}

const TEMPLATE_ID = /^[a-zA-Z0-9_-]{1,64}$/;
const DESCRIPTION_MAX = 2028;
const CONTROL = /\p{C}/u;
const JOB_ARN = /^arn:aws[a-z-]*:iot:[a-z0-9-]*:\d*:job\/([a-zA-Z0-9_-]{1,64})$/;
const MAX_RESULTS = 250;

export function templateArn(n: Names, id: string): string {
  return `arn:aws:iot:${n.region}:${n.accountId}:jobtemplate/${id}`;
}

function checkDescription(v: unknown): string | undefined {
  if (v === undefined) return 'description is required';
  if (typeof v !== 'string' || v.length === 0 || v.length > DESCRIPTION_MAX || CONTROL.test(v))
    return `description must be 1..${DESCRIPTION_MAX} characters without control characters`;
  return undefined;
}

function checkDocument(v: unknown): string | undefined {
  if (typeof v !== 'string') return 'document must be a string';
  if (v.length > LIMITS.jobDocumentMax) return `document is longer than ${LIMITS.jobDocumentMax} characters`;
  try {
    JSON.parse(v);
  } catch {
    return 'document is not valid JSON';
  }
  return undefined;
}

/** Shapes only; the values are CreateJob's to judge when a job is made from the template. */
function checkConfigShapes(b: Obj): string | undefined {
  for (const k of TEMPLATE_CONFIG_KEYS) {
    const v = b[k];
    if (v === undefined) continue;
    const list = k === 'maintenanceWindows' || k === 'destinationPackageVersions';
    if (list ? !Array.isArray(v) : !isObj(v)) return `${k} must be ${list ? 'a list' : 'an object'}`;
  }
  const t = isObj(b.timeoutConfig) ? b.timeoutConfig.inProgressTimeoutInMinutes : undefined;
  if (t !== undefined && !(typeof t === 'number' && Number.isInteger(t) && t >= 1 && t <= 10080))
    return 'timeoutConfig.inProgressTimeoutInMinutes must be between 1 and 10080';
  if (b.tags !== undefined && !(Array.isArray(b.tags) && b.tags.every((x) => isObj(x) && typeof x.Key === 'string')))
    return 'tags must be a list of {Key, Value}';
  return undefined;
}

type Source = { document: string; configs: TemplateConfigs };

/** The document and configurations a template starts from: its own, or a job's with its own on top. */
function sourceOf(w: World, b: Obj): Result<Source> {
  if (b.documentSource !== undefined) return err(badRequest('documentSource is not supported here; send the document inline'));
  const own: TemplateConfigs = {};
  for (const k of TEMPLATE_CONFIG_KEYS) if (b[k] !== undefined) own[k] = b[k];
  if (b.jobArn === undefined) {
    if (b.document === undefined) return err(badRequest('document is required (or jobArn to start from an existing job)'));
    const bad = checkDocument(b.document);
    return bad === undefined ? { ok: true, value: { document: b.document as string, configs: own } } : err(badRequest(bad));
  }
  const m = typeof b.jobArn === 'string' ? JOB_ARN.exec(b.jobArn) : null;
  if (m === null) return err(badRequest('jobArn must be a job ARN (arn:aws:iot:REGION:ACCOUNT:job/JOB_ID)'));
  const job = w.jobs.get(m[1] as string);
  if (job === undefined) return err(notFound(`Job ${m[1] as string} does not exist`));
  if (b.document !== undefined) {
    const bad = checkDocument(b.document);
    if (bad !== undefined) return err(badRequest(bad));
  }
  const document = typeof b.document === 'string' ? b.document : job.document;
  return { ok: true, value: { document, configs: { ...job.templateConfigs, ...own } } };
}

export function createJobTemplate(s: TemplateStore, w: World, n: Names, id: string, b: Obj): Result<{ jobTemplateArn: string; jobTemplateId: string }> {
  if (!TEMPLATE_ID.test(id)) return err(badRequest('jobTemplateId must match [a-zA-Z0-9_-]{1,64}'));
  const problem = checkDescription(b.description) ?? checkConfigShapes(b);
  if (problem !== undefined) return err(badRequest(problem));
  const src = sourceOf(w, b);
  if (!src.ok) return src;
  if (s.custom.has(id)) return err(serviceError('ConflictException', 409, `Job template ${id} already exists`));
  const rec: JobTemplateRecord = {
    id,
    arn: templateArn(n, id),
    description: b.description as string,
    document: src.value.document,
    createdAtMs: w.now(),
    configs: src.value.configs,
  };
  s.custom.set(id, rec);
  return { ok: true, value: { jobTemplateArn: rec.arn, jobTemplateId: id } };
}

function missing(id: string): ServiceError {
  return notFound(`Job template ${id} does not exist`);
}

export function describeJobTemplate(s: TemplateStore, id: string): Result<Record<string, unknown>> {
  const t = s.custom.get(id);
  if (t === undefined) return err(missing(id));
  return {
    ok: true,
    value: { jobTemplateArn: t.arn, jobTemplateId: t.id, description: t.description, document: t.document, createdAt: ctlTime(t.createdAtMs), ...t.configs },
  };
}

export function deleteJobTemplate(s: TemplateStore, id: string): Result<void> {
  // Jobs already made from it keep their own copy of the document and configurations.
  if (!s.custom.delete(id)) return err(missing(id));
  return { ok: true, value: undefined };
}

export interface PageQuery {
  maxResults?: number;
  nextToken?: string;
}

/** One page of `items` under the opaque offset token every list here uses. */
export function pageOf<T>(items: readonly T[], q: PageQuery): Result<{ items: T[]; nextToken?: string }> {
  if (q.maxResults !== undefined && (!Number.isInteger(q.maxResults) || q.maxResults < 1 || q.maxResults > MAX_RESULTS))
    return err(badRequest(`maxResults must be between 1 and ${MAX_RESULTS}`));
  let start = 0;
  if (q.nextToken !== undefined) {
    const raw = Buffer.from(q.nextToken, 'base64url').toString();
    const at = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
    if (!(at <= items.length)) return err(badRequest('nextToken is invalid'));
    start = at;
  }
  const end = start + (q.maxResults ?? MAX_RESULTS);
  const out: { items: T[]; nextToken?: string } = { items: items.slice(start, end) };
  if (end < items.length) out.nextToken = Buffer.from(String(end)).toString('base64url');
  return { ok: true, value: out };
}

export function listJobTemplates(s: TemplateStore, q: PageQuery): Result<{ jobTemplates: unknown[]; nextToken?: string }> {
  const summaries = [...s.custom.values()].map((t) => ({
    jobTemplateArn: t.arn,
    jobTemplateId: t.id,
    description: t.description,
    createdAt: ctlTime(t.createdAtMs),
  }));
  const p = pageOf(summaries, q);
  if (!p.ok) return p;
  return { ok: true, value: { jobTemplates: p.value.items, ...(p.value.nextToken !== undefined ? { nextToken: p.value.nextToken } : {}) } };
}
