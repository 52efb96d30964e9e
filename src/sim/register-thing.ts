/**
 * RegisterThing over MQTT (docs/PROVISIONING.md §1): the ownership token names the
 * certificate, the template (default version) is evaluated with the request's parameters (after the
 * pre-provisioning hook, if any), then everything is checked before anything changes — thing name,
 * groups that must exist, OverrideSettings FAIL — and applied: the thing is created or updated, the
 * certificate activated (or left INACTIVE) and attached, the policies recorded, the groups joined
 * (which reaches CONTINUOUS jobs at once). Errors are `ProvError`s: the rejected answer.
 */
import { LIMITS } from '../jobs/types';
import type { CertificateStore, CertRecord } from './registry/certificates';
import type { callHook } from './registry/hook';
import { isHookUrl } from './registry/hook';
import { ProvError } from './registry/prov-payload';
import { evaluateTemplate } from './registry/template-eval';
import type { ProvisioningPlan } from './registry/template-eval';
import { TemplateError } from './registry/template-grammar';
import type { ProvisioningTemplateStore, ProvTemplate } from './registry/prov-templates';
import type { ThingInfoStore } from './registry/things';
import type { JobsService } from './service';
import type { Connection } from './types';

/** What RegisterThing works on: the registry, and the service for things and their groups. */
export interface RegisterDeps {
  identity: {
    templates: ProvisioningTemplateStore;
    certs: CertificateStore;
    things: ThingInfoStore;
    service: Pick<JobsService, 'hasThing' | 'createThing' | 'describeThingGroup' | 'updateThingGroupsForThing' | 'listThingGroupsForThing'>;
    statusChanged(rec: CertRecord): void;
  };
  callHook: typeof callHook;
  tokenReuse: 'until-expiry' | 'single-use';
}

type ThingPlan = NonNullable<ProvisioningPlan['thing']>;

function stringMap(v: unknown, what: string): Record<string, string> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProvError(400, 'InvalidPayload', `${what} must be a map of strings`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') throw new ProvError(400, 'InvalidPayload', `${what}.${k} must be a string`);
    if (k.length > 2048 || x.length > 4096) throw new ProvError(400, 'InvalidPayload', `${what}.${k}: keys have at most 2048 and values at most 4096 characters`);
    out[k] = x;
  }
  return out;
}

function findTemplate(d: RegisterDeps, name: string, conn: Connection): ProvTemplate {
  const t = d.identity.templates.get(name);
  if (t === undefined) throw new ProvError(404, 'ResourceNotFound', `The provisioning template ${name} does not exist`);
  if (!t.enabled) throw new ProvError(403, 'TemplateDisabled', `The provisioning template ${name} is disabled`);
  if (t.type !== 'FLEET_PROVISIONING') throw new ProvError(400, 'InvalidTemplateType', `The provisioning template ${name} is a ${t.type} template, not FLEET_PROVISIONING`);
  const claim = conn.certificateId === undefined ? undefined : d.identity.certs.get(conn.certificateId);
  if (claim?.claimTemplate !== undefined && claim.claimTemplate !== name) {
    throw new ProvError(403, 'AccessDenied', `this claim certificate was made for template ${claim.claimTemplate}, not ${name}`);
  }
  return t;
}

function tokenCert(d: RegisterDeps, token: unknown): CertRecord {
  if (typeof token !== 'string' || token.length === 0) throw new ProvError(400, 'InvalidCertificateOwnershipToken', 'Certificate ownership token cannot be empty.');
  const rec = d.identity.certs.byToken(token);
  if (rec === undefined) throw new ProvError(400, 'InvalidCertificateOwnershipToken', 'Certificate ownership token is invalid or has expired.');
  return rec;
}

async function hookParams(d: RegisterDeps, t: ProvTemplate, conn: Connection, cert: CertRecord, params: Record<string, string>): Promise<Record<string, string>> {
  const hook = t.preProvisioningHook;
  if (hook === undefined) return params;
  if (!isHookUrl(hook.targetArn)) throw new ProvError(403, 'AccessDenied', `the pre-provisioning hook ${hook.targetArn} cannot be called: the sim calls local http:// URLs only`);
  const verdict = await d.callHook(hook.targetArn, {
    claimCertificateId: conn.certificateId ?? '',
    certificateId: cert.certificateId,
    certificatePem: cert.certificatePem,
    templateArn: t.arn,
    clientId: conn.clientId,
    parameters: params,
  });
  if (!verdict.allow) throw new ProvError(403, 'AccessDenied', verdict.reason);
  return { ...params, ...verdict.parameterOverrides };
}

function conflict(what: string, thing: string): never {
  throw new ProvError(409, 'ResourceConflictsException', `Thing ${thing} already exists and OverrideSettings.${what} is FAIL`);
}

/** Everything a plan needs that could refuse it, before anything changes. */
function check(d: RegisterDeps, plan: ProvisioningPlan, cert: CertRecord): void {
  if (plan.certificate !== undefined && plan.certificate.certificateId !== cert.certificateId) {
    throw new ProvError(400, 'InvalidTemplate', 'the Certificate resource must name the certificate of the ownership token ({"Ref": "AWS::IoT::Certificate::Id"})');
  }
  const th = plan.thing;
  if (th === undefined) return;
  if (!LIMITS.thingName.test(th.name)) throw new ProvError(400, 'InvalidThingName', `the template names the thing ${JSON.stringify(th.name)}, which is not a valid thing name`);
  for (const g of th.groups ?? []) {
    if (!d.identity.service.describeThingGroup(g).ok) throw new ProvError(400, 'ResourceRegistrationFailure', `Thing group ${g} does not exist`);
  }
  if (d.identity.service.hasThing(th.name)) {
    for (const [k, action] of Object.entries(th.overrides)) if (action === 'FAIL') conflict(k, th.name);
  }
  if (plan.certificate?.overrides.Status === 'FAIL' && cert.status !== 'PENDING_ACTIVATION') {
    throw new ProvError(409, 'ResourceConflictsException', `Certificate ${cert.certificateId} is already registered and OverrideSettings.Status is FAIL`);
  }
}

function applyGroups(d: RegisterDeps, th: ThingPlan, existed: boolean): void {
  const wanted = th.groups;
  if (wanted === undefined) return;
  // A thing that already existed keeps its groups unless the template says MERGE or REPLACE.
  const action = existed ? (th.overrides.ThingGroups ?? 'DO_NOTHING') : 'REPLACE';
  if (action === 'DO_NOTHING') return;
  const svc = d.identity.service;
  const current = existed ? currentGroups(d, th.name) : [];
  const add = wanted.filter((g) => !current.includes(g));
  const remove = action === 'REPLACE' ? current.filter((g) => !wanted.includes(g)) : [];
  if (add.length === 0 && remove.length === 0) return;
  const r = svc.updateThingGroupsForThing({ thingName: th.name, thingGroupsToAdd: add, thingGroupsToRemove: remove });
  if (!r.ok) throw new ProvError(400, 'ResourceRegistrationFailure', r.error.message);
}

function currentGroups(d: RegisterDeps, thing: string): string[] {
  const r = d.identity.service.listThingGroupsForThing(thing, {});
  if (!r.ok) return [];
  const list = (r.value.thingGroups ?? []) as { groupName: string }[];
  return list.map((g) => g.groupName);
}

function applyThing(d: RegisterDeps, th: ThingPlan): void {
  const svc = d.identity.service;
  const existed = svc.hasThing(th.name);
  if (!existed) svc.createThing(th.name);
  const info = d.identity.things.get(th.name);
  const o = existed ? th.overrides : {};
  let changed = false;
  if (th.attributes !== undefined && (!existed || (o.AttributePayload ?? 'DO_NOTHING') !== 'DO_NOTHING')) {
    info.attributes = o.AttributePayload === 'MERGE' ? { ...info.attributes, ...th.attributes } : { ...th.attributes };
    changed = true;
  }
  if (th.thingTypeName !== undefined && (!existed || o.ThingTypeName === 'REPLACE')) {
    info.thingTypeName = th.thingTypeName;
    changed = true;
  }
  if (th.billingGroup !== undefined) info.billingGroupName = th.billingGroup;
  if (changed && existed) info.version++;
  applyGroups(d, th, existed);
}

function applyCertificate(d: RegisterDeps, plan: ProvisioningPlan, cert: CertRecord): void {
  const c = plan.certificate;
  const status = c?.status ?? 'ACTIVE';
  const keep = cert.status !== 'PENDING_ACTIVATION' && c?.overrides.Status === 'DO_NOTHING';
  if (!keep && cert.status !== status) {
    d.identity.certs.setStatus(cert.certificateId, status);
    d.identity.statusChanged(cert);
  }
  if (plan.thing !== undefined) d.identity.certs.attach(cert.certificateId, plan.thing.name);
  for (const p of plan.policies) cert.policies.add(p.policyName);
}

export async function registerThing(d: RegisterDeps, conn: Connection, templateName: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
  const t = findTemplate(d, templateName, conn);
  const cert = tokenCert(d, input.certificateOwnershipToken);
  const params = await hookParams(d, t, conn, cert, stringMap(input.parameters, 'parameters'));
  const version = t.versions.get(t.defaultVersionId);
  if (version === undefined) throw new ProvError(500, 'InternalError', `template ${templateName} has no default version`);
  let plan: ProvisioningPlan;
  try {
    plan = evaluateTemplate(version.parsed, params, { 'AWS::IoT::Certificate::Id': cert.certificateId });
  } catch (err) {
    if (err instanceof TemplateError) throw new ProvError(400, 'InvalidParameters', err.message);
    throw err;
  }
  check(d, plan, cert);
  if (plan.thing !== undefined) applyThing(d, plan.thing);
  applyCertificate(d, plan, cert);
  if (d.tokenReuse === 'single-use') d.identity.certs.spendToken(cert);
  return { deviceConfiguration: plan.deviceConfiguration, ...(plan.thing !== undefined ? { thingName: plan.thing.name } : {}) };
}
