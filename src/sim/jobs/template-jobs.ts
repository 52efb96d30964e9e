/**
 * CreateJob with `jobTemplateArn`: the request body as CreateJob then sees it. A custom template
 * gives the document, the description and every configuration the request leaves out; an AWS
 * managed template gives a document made from its `documentParameters`. What the request itself
 * says wins, except the document, which only the template may give (docs/TEMPLATES.md §2).
 */
import { managedFromArn } from './managed-templates/api';
import type { ManagedTemplate } from './managed-templates/catalog';
import { resolveDocument } from './managed-templates/parameters';
import type { Result } from '../types';
import { badRequest, err, notFound } from './jobs';
import type { Names } from './jobs';
import { TEMPLATE_CONFIG_KEYS } from './template-keys';
import type { JobTemplateRecord, TemplateStore } from './templates';
import { isObj } from './validate';
import type { Obj } from './validate';

const ARN = /^arn:[!-~]+$/;
const CUSTOM_ARN = /^arn:aws[a-z-]*:iot:([a-z0-9-]*):(\d*):jobtemplate\/([a-zA-Z0-9_-]{1,64})$/;
const ONLY_MANAGED = 'documentParameters can only be used when creating a job from an AWS managed template';

function stringMap(v: unknown): Record<string, string> | undefined {
  if (!isObj(v) || !Object.values(v).every((x) => typeof x === 'string')) return undefined;
  return v as Record<string, string>;
}

function fromManaged(t: ManagedTemplate, b: Obj): Result<Obj> {
  const params = b.documentParameters === undefined ? {} : stringMap(b.documentParameters);
  if (params === undefined) return err(badRequest('documentParameters must map parameter names to strings'));
  const doc = resolveDocument(t, params);
  if (!doc.ok) return err(badRequest(doc.message));
  return { ok: true, value: { ...b, document: doc.document, description: b.description ?? t.description } };
}

function fromCustom(t: JobTemplateRecord, b: Obj): Result<Obj> {
  if (b.documentParameters !== undefined) return err(badRequest(`${ONLY_MANAGED}; ${t.arn} is a custom template`));
  const out: Obj = { ...b, document: t.document, description: b.description ?? t.description };
  for (const k of TEMPLATE_CONFIG_KEYS) {
    if (k === 'maintenanceWindows') continue;
    if (out[k] === undefined && t.configs[k] !== undefined) out[k] = t.configs[k];
  }
  const windows = t.configs.maintenanceWindows;
  if (windows !== undefined) {
    // A template's maintenance windows are CreateJob's schedulingConfig.maintenanceWindows.
    const sc = isObj(b.schedulingConfig) ? b.schedulingConfig : {};
    if (sc.maintenanceWindows === undefined) out.schedulingConfig = { ...sc, maintenanceWindows: windows };
  }
  return { ok: true, value: out };
}

/** The CreateJob body with its template applied, or the body itself when it names none. */
export function applyJobTemplate(s: TemplateStore, n: Names, b: Obj): Result<Obj> {
  const arn = b.jobTemplateArn;
  if (arn === undefined) {
    return b.documentParameters === undefined ? { ok: true, value: b } : err(badRequest(`${ONLY_MANAGED} (jobTemplateArn)`));
  }
  if (typeof arn !== 'string' || arn.length > 1600 || !ARN.test(arn)) return err(badRequest('jobTemplateArn must be an ARN'));
  if (b.document !== undefined || b.documentSource !== undefined)
    return err(badRequest('a job created from a template takes its document from the template: leave out document and documentSource'));
  const managed = managedFromArn(n, arn);
  if (managed !== undefined) return managed.ok ? fromManaged(managed.value, b) : managed;
  const m = CUSTOM_ARN.exec(arn);
  if (m === null) return err(badRequest(`jobTemplateArn ${arn} is not a job template ARN`));
  const [, region, account, id] = m as unknown as [string, string, string, string];
  const t = region === n.region && account === n.accountId ? s.custom.get(id) : undefined;
  if (t === undefined) return err(notFound(`Job template ${arn} does not exist`));
  return fromCustom(t, b);
}
