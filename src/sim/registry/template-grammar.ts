/**
 * AWS's fleet provisioning template grammar (docs/PROVISIONING.md §3): Parameters, Mappings,
 * Resources (AWS::IoT::Thing / Certificate / Policy, each with its OverrideSettings) and
 * DeviceConfiguration, with the intrinsic functions AWS documents for provisioning templates (Ref,
 * Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Fn::FindInMap). Checked when a template (or a version)
 * is stored; anything else — a section, a key, a function, a resource type — is refused by name
 * rather than ignored, so a template that works here does not silently mean something else on AWS.
 */

export type Obj = Record<string, unknown>;

/** A template value before evaluation: a literal string, or an intrinsic function object. */
export type Expr = unknown;

export interface ThingSpec {
  logicalId: string;
  name: Expr;
  attributes?: Record<string, Expr>;
  thingTypeName?: Expr;
  groups?: Expr[] | Expr;
  billingGroup?: Expr;
  overrides: Record<string, string>;
}

export interface CertificateSpec {
  logicalId: string;
  certificateId: Expr;
  status?: Expr;
  overrides: Record<string, string>;
}

export interface PolicySpec {
  logicalId: string;
  policyName?: Expr;
  /** An escaped JSON string or (as AWS's own examples write it) an object. */
  policyDocument?: unknown;
}

export interface ParsedTemplate {
  parameters: Record<string, { default?: string }>;
  mappings: Record<string, Record<string, Record<string, unknown>>>;
  thing?: ThingSpec;
  certificate?: CertificateSpec;
  policies: PolicySpec[];
  deviceConfiguration: Record<string, Expr>;
}

export const INTRINSICS = ['Ref', 'Fn::Join', 'Fn::Sub', 'Fn::Select', 'Fn::Split', 'Fn::FindInMap'] as const;
const SECTIONS = ['Parameters', 'Mappings', 'Resources', 'DeviceConfiguration'];
const THING_PROPS = ['ThingName', 'AttributePayload', 'ThingTypeName', 'ThingGroups', 'BillingGroup'];
const THING_OVERRIDES: Record<string, string[]> = {
  AttributePayload: ['MERGE', 'REPLACE', 'DO_NOTHING', 'FAIL'],
  ThingTypeName: ['REPLACE', 'DO_NOTHING', 'FAIL'],
  ThingGroups: ['MERGE', 'REPLACE', 'DO_NOTHING', 'FAIL'],
};
const CERT_OVERRIDES: Record<string, string[]> = { Status: ['REPLACE', 'DO_NOTHING', 'FAIL'] };
const PREFIX = 'Invalid registration template.';

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

function bad(message: string): never {
  throw new TemplateError(`${PREFIX} ${message}`);
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(o: Obj, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) bad(`${where}: ${JSON.stringify(k)} is not supported (allowed: ${allowed.join(', ')})`);
  }
}

/** Checks an expression: a string, or one documented intrinsic with well-formed arguments. */
export function checkExpr(v: unknown, where: string, allowList = false): void {
  if (typeof v === 'string') return;
  if (Array.isArray(v)) {
    if (!allowList) bad(`${where}: a list is not allowed here`);
    v.forEach((e, i) => checkExpr(e, `${where}[${i}]`));
    return;
  }
  if (!isObj(v)) bad(`${where}: expected a string or an intrinsic function, got ${JSON.stringify(v)}`);
  const keys = Object.keys(v);
  const fn = keys[0];
  if (keys.length !== 1 || fn === undefined) bad(`${where}: an intrinsic function object has exactly one key, got ${keys.join(', ') || 'none'}`);
  if (!(INTRINSICS as readonly string[]).includes(fn)) {
    bad(`${where}: ${fn} is not supported in provisioning templates (supported: ${INTRINSICS.join(', ')})`);
  }
  checkArgs(fn, v[fn], `${where}.${fn}`);
}

function checkArgs(fn: string, a: unknown, where: string): void {
  const list = (n: number): unknown[] => {
    if (!Array.isArray(a) || a.length !== n) bad(`${where} takes a list of ${n} arguments`);
    return a;
  };
  switch (fn) {
    case 'Ref':
      if (typeof a !== 'string' || a.length === 0) bad(`${where} takes a parameter name`);
      return;
    case 'Fn::Join': {
      const [d, items] = list(2);
      if (typeof d !== 'string') bad(`${where}: the delimiter must be a string`);
      checkExpr(items, `${where}[1]`, true);
      return;
    }
    case 'Fn::Split': {
      const [d, s] = list(2);
      if (typeof d !== 'string') bad(`${where}: the delimiter must be a string`);
      checkExpr(s, `${where}[1]`);
      return;
    }
    case 'Fn::Select': {
      const [i, items] = list(2);
      if (typeof i !== 'number' && typeof i !== 'string' && !isObj(i)) bad(`${where}: the index must be a number`);
      if (isObj(i)) checkExpr(i, `${where}[0]`);
      checkExpr(items, `${where}[1]`, true);
      return;
    }
    case 'Fn::Sub':
      if (typeof a === 'string') return;
      if (Array.isArray(a) && a.length === 2 && typeof a[0] === 'string' && isObj(a[1])) {
        for (const [k, e] of Object.entries(a[1])) checkExpr(e, `${where}[1].${k}`);
        return;
      }
      bad(`${where} takes a string, or [string, {variables}]`);
      return;
    case 'Fn::FindInMap':
      list(3).forEach((e, i) => checkExpr(e, `${where}[${i}]`));
      return;
    default:
      bad(`${where}: unknown function`);
  }
}

function parseParameters(v: unknown): ParsedTemplate['parameters'] {
  if (v === undefined) return {};
  if (!isObj(v)) bad('Parameters must be an object');
  const out: ParsedTemplate['parameters'] = {};
  for (const [name, p] of Object.entries(v)) {
    if (!isObj(p)) bad(`Parameters.${name} must be an object`);
    onlyKeys(p, ['Type', 'Default'], `Parameters.${name}`);
    if (p.Type !== 'String') bad(`Parameters.${name}.Type must be "String", got ${JSON.stringify(p.Type)}`);
    if (p.Default !== undefined && typeof p.Default !== 'string') bad(`Parameters.${name}.Default must be a string`);
    out[name] = typeof p.Default === 'string' ? { default: p.Default } : {};
  }
  return out;
}

function parseMappings(v: unknown): ParsedTemplate['mappings'] {
  if (v === undefined) return {};
  if (!isObj(v)) bad('Mappings must be an object');
  for (const [m, top] of Object.entries(v)) {
    if (!isObj(top)) bad(`Mappings.${m} must be an object of objects`);
    for (const [k1, second] of Object.entries(top)) {
      if (!isObj(second)) bad(`Mappings.${m}.${k1} must be an object`);
      for (const [k2, val] of Object.entries(second)) {
        const literal = typeof val === 'string' || (Array.isArray(val) && val.every((x) => typeof x === 'string'));
        // Mappings hold literals only: no parameters, pseudo-parameters or functions.
        if (!literal) bad(`Mappings.${m}.${k1}.${k2} must be a string or a list of strings (no intrinsic functions in Mappings)`);
      }
    }
  }
  return v as ParsedTemplate['mappings'];
}

function overridesOf(r: Obj, table: Record<string, string[]>, where: string): Record<string, string> {
  if (r.OverrideSettings === undefined) return {};
  if (!isObj(r.OverrideSettings)) bad(`${where}.OverrideSettings must be an object`);
  onlyKeys(r.OverrideSettings, Object.keys(table), `${where}.OverrideSettings`);
  const out: Record<string, string> = {};
  for (const [k, action] of Object.entries(r.OverrideSettings)) {
    const allowed = table[k] ?? [];
    if (typeof action !== 'string' || !allowed.includes(action)) bad(`${where}.OverrideSettings.${k} must be one of ${allowed.join(', ')}`);
    out[k] = action;
  }
  return out;
}

function parseThing(id: string, p: Obj, r: Obj): ThingSpec {
  const where = `Resources.${id}.Properties`;
  onlyKeys(p, THING_PROPS, where);
  if (p.ThingName === undefined) bad(`${where}.ThingName is required`);
  checkExpr(p.ThingName, `${where}.ThingName`);
  const spec: ThingSpec = { logicalId: id, name: p.ThingName, overrides: overridesOf(r, THING_OVERRIDES, `Resources.${id}`) };
  if (p.AttributePayload !== undefined) {
    if (!isObj(p.AttributePayload)) bad(`${where}.AttributePayload must be an object of strings`);
    for (const [k, e] of Object.entries(p.AttributePayload)) checkExpr(e, `${where}.AttributePayload.${k}`);
    spec.attributes = p.AttributePayload;
  }
  if (p.ThingTypeName !== undefined) checkExpr((spec.thingTypeName = p.ThingTypeName), `${where}.ThingTypeName`);
  if (p.BillingGroup !== undefined) checkExpr((spec.billingGroup = p.BillingGroup), `${where}.BillingGroup`);
  if (p.ThingGroups !== undefined) checkExpr((spec.groups = p.ThingGroups), `${where}.ThingGroups`, true);
  return spec;
}

function parseCertificate(id: string, p: Obj, r: Obj): CertificateSpec {
  const where = `Resources.${id}.Properties`;
  for (const k of ['CertificateSigningRequest', 'CertificatePem', 'CACertificatePem']) {
    if (p[k] !== undefined) bad(`${where}.${k}: only certificate IDs can be used with a fleet provisioning template ({"Ref": "AWS::IoT::Certificate::Id"})`);
  }
  onlyKeys(p, ['CertificateId', 'Status'], where);
  if (p.CertificateId === undefined) bad(`${where}.CertificateId is required`);
  checkExpr(p.CertificateId, `${where}.CertificateId`);
  if (p.Status !== undefined) checkExpr(p.Status, `${where}.Status`);
  return { logicalId: id, certificateId: p.CertificateId, status: p.Status, overrides: overridesOf(r, CERT_OVERRIDES, `Resources.${id}`) };
}

function parsePolicy(id: string, p: Obj, r: Obj): PolicySpec {
  const where = `Resources.${id}.Properties`;
  if (r.OverrideSettings !== undefined) bad(`Resources.${id}.OverrideSettings: policies have no override settings`);
  onlyKeys(p, ['PolicyName', 'PolicyDocument'], where);
  const hasName = p.PolicyName !== undefined;
  const hasDoc = p.PolicyDocument !== undefined;
  if (!hasName && !hasDoc) bad('Neither policyName nor policyDocument is present in the Template.');
  if (hasName && hasDoc) bad(`${where}: give PolicyName or PolicyDocument, not both`);
  if (hasName) checkExpr(p.PolicyName, `${where}.PolicyName`);
  if (hasDoc && typeof p.PolicyDocument !== 'string' && !isObj(p.PolicyDocument)) bad(`${where}.PolicyDocument must be a JSON string or object`);
  return { logicalId: id, ...(hasName ? { policyName: p.PolicyName } : {}), ...(hasDoc ? { policyDocument: p.PolicyDocument } : {}) };
}

function parseResources(v: unknown, out: ParsedTemplate): void {
  if (v === undefined) return;
  if (!isObj(v)) bad('Resources must be an object');
  for (const [id, r] of Object.entries(v)) {
    if (!isObj(r)) bad(`Resources.${id} must be an object`);
    onlyKeys(r, ['Type', 'Properties', 'OverrideSettings'], `Resources.${id}`);
    const p = r.Properties ?? {};
    if (!isObj(p)) bad(`Resources.${id}.Properties must be an object`);
    if (r.Type === 'AWS::IoT::Thing') {
      if (out.thing !== undefined) bad(`Resources.${id}: only one AWS::IoT::Thing resource is allowed`);
      out.thing = parseThing(id, p, r);
    } else if (r.Type === 'AWS::IoT::Certificate') {
      if (out.certificate !== undefined) bad(`Resources.${id}: only one AWS::IoT::Certificate resource is allowed`);
      out.certificate = parseCertificate(id, p, r);
    } else if (r.Type === 'AWS::IoT::Policy') {
      out.policies.push(parsePolicy(id, p, r));
    } else {
      bad(`Resources.${id}.Type ${JSON.stringify(r.Type)} is not supported (allowed: AWS::IoT::Thing, AWS::IoT::Certificate, AWS::IoT::Policy)`);
    }
  }
}

function parseDeviceConfiguration(v: unknown): Record<string, Expr> {
  if (v === undefined) return {};
  if (!isObj(v)) bad('DeviceConfiguration must be an object');
  // DeviceConfiguration holds strings only: no nested JSON objects (AWS).
  for (const [k, e] of Object.entries(v)) checkExpr(e, `DeviceConfiguration.${k}`);
  return v;
}

/** Parses and checks a template body; throws a TemplateError naming the first problem. */
export function parseTemplate(body: string): ParsedTemplate {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (e) {
    bad(`Template format error: JSON not well-formed (${(e as Error).message})`);
  }
  if (!isObj(doc)) bad('Template format error: the template must be a JSON object');
  onlyKeys(doc, SECTIONS, 'template section');
  const out: ParsedTemplate = {
    parameters: parseParameters(doc.Parameters),
    mappings: parseMappings(doc.Mappings),
    policies: [],
    deviceConfiguration: parseDeviceConfiguration(doc.DeviceConfiguration),
  };
  parseResources(doc.Resources, out);
  return out;
}
