/**
 * Provisioning templates on the control plane (CreateProvisioningTemplate & co., with versions), in
 * the shapes of the AWS IoT model (docs/PROVISIONING.md §3). Each body is checked against the
 * template grammar when stored, so a device never meets a template the sim cannot apply. Version
 * rules AWS does not document are the sim's readings: create makes version 1 the default, new
 * versions get max+1, the default version cannot be deleted, at most 5 versions per template.
 */
import { parseTemplate, TemplateError } from './template-grammar';
import type { ParsedTemplate } from './template-grammar';
import type { Result, ServiceError } from '../types';

export const MAX_VERSIONS = 5;
export const MAX_TEMPLATES = 256;
const NAME = /^[0-9A-Za-z_-]{1,36}$/;
const PAYLOAD_VERSION = /^[0-9-]{10,32}$/;

type Obj = Record<string, unknown>;

export interface TemplateVersion {
  versionId: number;
  creationMs: number;
  body: string;
  parsed: ParsedTemplate;
}

export interface ProvisioningHook {
  targetArn: string;
  payloadVersion?: string;
}

export interface ProvTemplate {
  name: string;
  arn: string;
  description?: string;
  creationMs: number;
  lastModifiedMs: number;
  enabled: boolean;
  provisioningRoleArn: string;
  preProvisioningHook?: ProvisioningHook;
  type: 'FLEET_PROVISIONING' | 'JITP';
  versions: Map<number, TemplateVersion>;
  defaultVersionId: number;
}

const e = (name: string, status: number, message: string): ServiceError => ({ name, status, message });
const invalid = (m: string): ServiceError => e('InvalidRequestException', 400, m);
const fail = <T>(err: ServiceError): Result<T> => ({ ok: false, error: err });
const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const secs = (ms: number): number => Math.floor(ms / 1000);

function onlyMembers(body: Obj, allowed: string[]): ServiceError | undefined {
  const extra = Object.keys(body).find((k) => !allowed.includes(k));
  return extra === undefined ? undefined : invalid(`${extra} is not a member this service supports here (${allowed.join(', ')})`);
}

function checkHook(v: unknown): Result<ProvisioningHook> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(invalid('preProvisioningHook must be an object'));
  const h = v as Obj;
  const extra = onlyMembers(h, ['targetArn', 'payloadVersion']);
  if (extra) return fail(extra);
  if (typeof h.targetArn !== 'string' || h.targetArn.length === 0 || h.targetArn.length > 2048) return fail(invalid('preProvisioningHook.targetArn is required (at most 2048 characters)'));
  if (h.payloadVersion !== undefined && (typeof h.payloadVersion !== 'string' || !PAYLOAD_VERSION.test(h.payloadVersion))) {
    return fail(invalid('preProvisioningHook.payloadVersion must match ^[0-9-]+$ with 10 to 32 characters'));
  }
  return ok({ targetArn: h.targetArn, ...(typeof h.payloadVersion === 'string' ? { payloadVersion: h.payloadVersion } : {}) });
}

function checkBody(body: unknown): Result<ParsedTemplate> {
  if (typeof body !== 'string') return fail(invalid('templateBody is required'));
  if (body.length > 10240) return fail(invalid('templateBody is longer than 10240 characters'));
  try {
    return ok(parseTemplate(body));
  } catch (err) {
    if (err instanceof TemplateError) return fail(invalid(err.message));
    throw err;
  }
}

function checkDescription(v: unknown): ServiceError | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > 500 || /[\u0000-\u001f\u007f]/.test(v)) return invalid('description must be a string of at most 500 characters without control characters');
  return undefined;
}

export class ProvisioningTemplateStore {
  private readonly templates = new Map<string, ProvTemplate>();

  constructor(
    private readonly now: () => number,
    private readonly arnPrefix: string,
    private readonly enabledByDefault: boolean,
  ) {}

  get(name: string): ProvTemplate | undefined {
    return this.templates.get(name);
  }

  private find(name: string): Result<ProvTemplate> {
    const t = this.templates.get(name);
    return t === undefined ? fail(e('ResourceNotFoundException', 404, `The provisioning template ${name} does not exist`)) : ok(t);
  }

  create(body: Obj): Result<Obj> {
    const bad = onlyMembers(body, ['templateName', 'description', 'templateBody', 'enabled', 'provisioningRoleArn', 'preProvisioningHook', 'tags', 'type']);
    if (bad) return fail(bad);
    const name = body.templateName;
    if (typeof name !== 'string' || !NAME.test(name)) return fail(invalid('templateName must match ^[0-9A-Za-z_-]+$ with 1 to 36 characters'));
    const role = body.provisioningRoleArn;
    if (typeof role !== 'string' || role.length < 20 || role.length > 2048) return fail(invalid('provisioningRoleArn is required (20 to 2048 characters)'));
    const desc = checkDescription(body.description);
    if (desc) return fail(desc);
    if (body.enabled !== undefined && typeof body.enabled !== 'boolean') return fail(invalid('enabled must be a boolean'));
    const type = body.type ?? 'FLEET_PROVISIONING';
    if (type !== 'FLEET_PROVISIONING' && type !== 'JITP') return fail(invalid('type must be FLEET_PROVISIONING or JITP'));
    let hook: ProvisioningHook | undefined;
    if (body.preProvisioningHook !== undefined) {
      if (type !== 'FLEET_PROVISIONING') return fail(invalid('a preProvisioningHook is only for FLEET_PROVISIONING templates'));
      const h = checkHook(body.preProvisioningHook);
      if (!h.ok) return h;
      hook = h.value;
    }
    const parsed = checkBody(body.templateBody);
    if (!parsed.ok) return parsed;
    if (this.templates.has(name)) return fail({ ...e('ResourceAlreadyExistsException', 409, `Template with name ${name} already exists`) });
    if (this.templates.size >= MAX_TEMPLATES) return fail(e('LimitExceededException', 410, `at most ${MAX_TEMPLATES} provisioning templates`));
    const now = this.now();
    const t: ProvTemplate = {
      name,
      arn: `${this.arnPrefix}:provisioningtemplate/${name}`,
      creationMs: now,
      lastModifiedMs: now,
      enabled: typeof body.enabled === 'boolean' ? body.enabled : this.enabledByDefault,
      provisioningRoleArn: role,
      type,
      versions: new Map([[1, { versionId: 1, creationMs: now, body: body.templateBody as string, parsed: parsed.value }]]),
      defaultVersionId: 1,
      ...(typeof body.description === 'string' ? { description: body.description } : {}),
      ...(hook ? { preProvisioningHook: hook } : {}),
    };
    this.templates.set(name, t);
    return ok({ templateArn: t.arn, templateName: name, defaultVersionId: 1 });
  }

  describe(name: string): Result<Obj> {
    const f = this.find(name);
    if (!f.ok) return f;
    const t = f.value;
    return ok({
      templateArn: t.arn,
      templateName: t.name,
      ...(t.description !== undefined ? { description: t.description } : {}),
      creationDate: secs(t.creationMs),
      lastModifiedDate: secs(t.lastModifiedMs),
      defaultVersionId: t.defaultVersionId,
      templateBody: t.versions.get(t.defaultVersionId)?.body,
      enabled: t.enabled,
      provisioningRoleArn: t.provisioningRoleArn,
      ...(t.preProvisioningHook ? { preProvisioningHook: t.preProvisioningHook } : {}),
      type: t.type,
    });
  }

  list(): Obj[] {
    return [...this.templates.values()].map((t) => ({
      templateArn: t.arn,
      templateName: t.name,
      ...(t.description !== undefined ? { description: t.description } : {}),
      creationDate: secs(t.creationMs),
      lastModifiedDate: secs(t.lastModifiedMs),
      enabled: t.enabled,
      type: t.type,
    }));
  }

  update(name: string, body: Obj): Result<Obj> {
    const bad = onlyMembers(body, ['description', 'enabled', 'defaultVersionId', 'provisioningRoleArn', 'preProvisioningHook', 'removePreProvisioningHook']);
    if (bad) return fail(bad);
    const f = this.find(name);
    if (!f.ok) return f;
    const t = f.value;
    const desc = checkDescription(body.description);
    if (desc) return fail(desc);
    if (body.enabled !== undefined && typeof body.enabled !== 'boolean') return fail(invalid('enabled must be a boolean'));
    if (body.defaultVersionId !== undefined && !t.versions.has(body.defaultVersionId as number)) {
      return fail(e('ResourceNotFoundException', 404, `Template ${name} has no version ${String(body.defaultVersionId)}`));
    }
    const role = body.provisioningRoleArn;
    if (role !== undefined && (typeof role !== 'string' || role.length < 20 || role.length > 2048)) return fail(invalid('provisioningRoleArn must have 20 to 2048 characters'));
    if (body.preProvisioningHook !== undefined && body.removePreProvisioningHook === true) return fail(invalid('give preProvisioningHook or removePreProvisioningHook, not both'));
    let hook: ProvisioningHook | undefined;
    if (body.preProvisioningHook !== undefined) {
      const h = checkHook(body.preProvisioningHook);
      if (!h.ok) return h;
      hook = h.value;
    }
    if (typeof body.description === 'string') t.description = body.description;
    if (typeof body.enabled === 'boolean') t.enabled = body.enabled;
    if (typeof body.defaultVersionId === 'number') t.defaultVersionId = body.defaultVersionId;
    if (typeof role === 'string') t.provisioningRoleArn = role;
    if (hook) t.preProvisioningHook = hook;
    if (body.removePreProvisioningHook === true) delete t.preProvisioningHook;
    t.lastModifiedMs = this.now();
    return ok({});
  }

  delete(name: string): Result<Obj> {
    const f = this.find(name);
    if (!f.ok) return f;
    this.templates.delete(name);
    return ok({});
  }

  createVersion(name: string, body: Obj, setAsDefault: boolean): Result<Obj> {
    const bad = onlyMembers(body, ['templateBody']);
    if (bad) return fail(bad);
    const f = this.find(name);
    if (!f.ok) return f;
    const t = f.value;
    const parsed = checkBody(body.templateBody);
    if (!parsed.ok) return parsed;
    if (t.versions.size >= MAX_VERSIONS) {
      return fail(e('VersionsLimitExceededException', 409, `Template ${name} already has ${MAX_VERSIONS} versions: delete one first`));
    }
    const versionId = Math.max(...t.versions.keys()) + 1;
    t.versions.set(versionId, { versionId, creationMs: this.now(), body: body.templateBody as string, parsed: parsed.value });
    if (setAsDefault) t.defaultVersionId = versionId;
    t.lastModifiedMs = this.now();
    return ok({ templateArn: t.arn, templateName: name, versionId, isDefaultVersion: setAsDefault });
  }

  describeVersion(name: string, versionId: number): Result<Obj> {
    const f = this.find(name);
    if (!f.ok) return f;
    const v = f.value.versions.get(versionId);
    if (v === undefined) return fail(e('ResourceNotFoundException', 404, `Template ${name} has no version ${versionId}`));
    return ok({ versionId, creationDate: secs(v.creationMs), templateBody: v.body, isDefaultVersion: versionId === f.value.defaultVersionId });
  }

  listVersions(name: string): Result<Obj[]> {
    const f = this.find(name);
    if (!f.ok) return f;
    const t = f.value;
    return ok([...t.versions.values()].map((v) => ({ versionId: v.versionId, creationDate: secs(v.creationMs), isDefaultVersion: v.versionId === t.defaultVersionId })));
  }

  deleteVersion(name: string, versionId: number): Result<Obj> {
    const f = this.find(name);
    if (!f.ok) return f;
    const t = f.value;
    if (!t.versions.has(versionId)) return fail(e('ResourceNotFoundException', 404, `Template ${name} has no version ${versionId}`));
    if (versionId === t.defaultVersionId) {
      return fail(e('DeleteConflictException', 409, `Version ${versionId} is the default version of ${name}: make another version the default first`));
    }
    t.versions.delete(versionId);
    return ok({});
  }
}
