/**
 * Custom job templates in the AWS IoT REST shapes: CreateJobTemplate (from scratch or from an
 * existing job's ARN), DescribeJobTemplate, ListJobTemplates, DeleteJobTemplate. A template holds a
 * job document and job configurations, each checked by CreateJob's own rule for that member
 * (state/job-fields.ts), so a template accepts and refuses exactly what CreateJob does; CreateJob
 * with the template's ARN (template-jobs.ts) hands them on to the code that applies them.
 */
import type { Result, ServiceError } from '../types';
import { checkBody, str, unsupported } from './fields';
import type { Check, Shape, Unsupported } from './fields';
import { CREATE_JOB } from './job-fields';
import { schedulingMember } from './job-config';
import { badRequest, ctlTime, err, notFound } from './jobs';
import type { Names } from './jobs';
import { serviceError } from './options';
import { TEMPLATE_CONFIG_KEYS } from './template-keys';
import type { TemplateConfigs } from './template-keys';
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

const DESCRIPTION_MAX = 2028;
const JOB_ARN = /^arn:aws[a-z-]*:iot:[a-z0-9-]*:\d*:job\/([a-zA-Z0-9_-]{1,64})$/;
const MAX_RESULTS = 250;

/** CreateJob's own rule for a member, so a template accepts, checks and refuses exactly what CreateJob does. */
function asInCreateJob(k: string): Check | Unsupported {
  return CREATE_JOB.fields[k] ?? unsupported(`${k} is not a CreateJob member`);
}

/** A template's maintenance windows are CreateJob's schedulingConfig.maintenanceWindows, checked by the same rule. */
const MAINTENANCE_WINDOWS: Check = (v) => schedulingMember({ maintenanceWindows: v });

export const CREATE_JOB_TEMPLATE: Shape = {
  fields: {
    jobTemplateId: str({ min: 1, max: 64, pattern: /^[a-zA-Z0-9_-]+$/, what: '[a-zA-Z0-9_-]{1,64}' }),
    jobArn: str({ min: 1, max: 1600 }),
    description: str({ min: 1, max: DESCRIPTION_MAX, pattern: /^[^\p{C}]+$/u, what: 'printable characters' }),
    maintenanceWindows: MAINTENANCE_WINDOWS,
    ...Object.fromEntries(['documentSource', 'document', 'tags', ...TEMPLATE_CONFIG_KEYS.filter((k) => k !== 'maintenanceWindows')].map((k) => [k, asInCreateJob(k)])),
  },
  required: ['jobTemplateId', 'description'],
};

export function templateArn(n: Names, id: string): string {
  return `arn:aws:iot:${n.region}:${n.accountId}:jobtemplate/${id}`;
}

function checkDocument(v: unknown): string | undefined {
  try {
    JSON.parse(v as string);
  } catch {
    return 'document is not valid JSON';
  }
  return undefined;
}

type Source = { document: string; configs: TemplateConfigs };

/** The document and configurations a template starts from: its own, or a job's with its own on top. */
function sourceOf(w: World, b: Obj): Result<Source> {
  const own: TemplateConfigs = {};
  for (const k of TEMPLATE_CONFIG_KEYS) if (b[k] !== undefined) own[k] = b[k];
  if (b.document !== undefined) {
    const bad = checkDocument(b.document);
    if (bad !== undefined) return err(badRequest(bad));
  }
  if (b.jobArn === undefined) {
    if (b.document === undefined) return err(badRequest('document is required (or jobArn to start from an existing job)'));
    return { ok: true, value: { document: b.document as string, configs: own } };
  }
  const m = JOB_ARN.exec(b.jobArn as string);
  if (m === null) return err(badRequest('jobArn must be a job ARN (arn:aws:iot:REGION:ACCOUNT:job/JOB_ID)'));
  const job = w.jobs.get(m[1] as string);
  if (job === undefined) return err(notFound(`Job ${m[1] as string} does not exist`));
  const document = typeof b.document === 'string' ? b.document : job.document;
  return { ok: true, value: { document, configs: { ...structuredClone(job.templateConfigs ?? {}), ...own } } };
}

export function createJobTemplate(s: TemplateStore, w: World, n: Names, id: string, b: Obj): Result<{ jobTemplateArn: string; jobTemplateId: string }> {
  const shape = checkBody({ ...b, jobTemplateId: id }, CREATE_JOB_TEMPLATE);
  if (shape !== undefined) return err(shape);
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
