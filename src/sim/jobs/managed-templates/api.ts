/**
 * ListManagedJobTemplates and DescribeManagedJobTemplate over the catalog, and the lookup CreateJob
 * uses for `arn:aws:iot:REGION::jobtemplate/AWS-NAME:VERSION` (no account: the templates are AWS's).
 */
import type { Result } from '../../types';
import { badRequest, err, notFound } from '../jobs';
import type { Names } from '../jobs';
import { pageOf } from '../templates';
import type { PageQuery } from '../templates';
import { MANAGED_TEMPLATES } from './catalog';
import type { ManagedTemplate } from './catalog';
import { templateDocument } from './parameters';

const NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const VERSION = /^[1-9][0-9]*\.[0-9]+$/;

export function managedArn(n: Names, t: ManagedTemplate): string {
  return `arn:aws:iot:${n.region}::jobtemplate/${t.name}:${t.version}`;
}

function versionKey(v: string): [number, number] {
  const [a, b] = v.split('.');
  return [Number(a), Number(b)];
}

/** Newest version first, so the first match of a name is its default version. */
const ORDERED = [...MANAGED_TEMPLATES].sort((x, y) => {
  if (x.name !== y.name) return x.name < y.name ? -1 : 1;
  const [a1, b1] = versionKey(x.version);
  const [a2, b2] = versionKey(y.version);
  return a2 - a1 || b2 - b1;
});

/** A template by name and version; without a version, the default (newest) one. */
export function findManaged(name: string, version?: string): ManagedTemplate | undefined {
  return ORDERED.find((t) => t.name === name && (version === undefined || t.version === version));
}

function summary(n: Names, t: ManagedTemplate): Record<string, unknown> {
  return { templateArn: managedArn(n, t), templateName: t.name, description: t.description, environments: [...t.environments], templateVersion: t.version };
}

export function listManagedJobTemplates(n: Names, q: PageQuery & { templateName?: string }): Result<{ managedJobTemplates: unknown[]; nextToken?: string }> {
  const name = q.templateName;
  if (name !== undefined && !NAME.test(name)) return err(badRequest('templateName must match [a-zA-Z0-9_-]{1,64}'));
  const chosen = ORDERED.filter((t) => name === undefined || t.name === name);
  if (name !== undefined && chosen.length === 0) return err(notFound(`Managed job template ${name} does not exist`));
  const p = pageOf(chosen.map((t) => summary(n, t)), q);
  if (!p.ok) return p;
  return { ok: true, value: { managedJobTemplates: p.value.items, ...(p.value.nextToken !== undefined ? { nextToken: p.value.nextToken } : {}) } };
}

export function describeManagedJobTemplate(n: Names, name: string, version?: string): Result<Record<string, unknown>> {
  if (!NAME.test(name)) return err(badRequest('templateName must match [a-zA-Z0-9_-]{1,64}'));
  if (version !== undefined && !VERSION.test(version)) return err(badRequest('templateVersion must look like 1.0'));
  const t = findManaged(name, version);
  if (t === undefined) return err(notFound(`Managed job template ${name}${version === undefined ? '' : `:${version}`} does not exist`));
  return {
    ok: true,
    value: {
      templateName: t.name,
      templateArn: managedArn(n, t),
      description: t.description,
      templateVersion: t.version,
      environments: [...t.environments],
      documentParameters: t.parameters.map((p) => ({ key: p.key, description: p.description, regex: p.regex, example: p.example, optional: p.optional })),
      document: templateDocument(t),
    },
  };
}

const MANAGED_ARN = /^arn:aws[a-z-]*:iot:([a-z0-9-]+)::jobtemplate\/([a-zA-Z0-9_-]{1,64})(?::([^:]+))?$/;

/** `undefined` when the ARN is not in the managed form at all; otherwise the template or why not. */
export function managedFromArn(n: Names, arn: string): Result<ManagedTemplate> | undefined {
  const m = MANAGED_ARN.exec(arn);
  if (m === null) return undefined;
  const [, region, name, version] = m as unknown as [string, string, string, string | undefined];
  if (version !== undefined && !VERSION.test(version)) return err(badRequest(`template version ${JSON.stringify(version)} must look like 1.0`));
  const t = region === n.region ? findManaged(name, version) : undefined;
  return t === undefined ? err(notFound(`Managed job template ${arn} does not exist`)) : { ok: true, value: t };
}
