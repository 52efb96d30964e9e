/**
 * Evaluating a checked provisioning template against RegisterThing's parameters: the intrinsic
 * functions with CloudFormation's semantics, the `AWS::IoT::Certificate::Id` pseudo-parameter, and
 * the result as a plan of what to create or change (`ProvisioningPlan`). A parameter with no value
 * and no default, a key missing from a mapping or an index out of range fails the registration
 * (400) rather than leaving a placeholder in a thing name.
 */
import { createHash } from 'node:crypto';
import { isObj, TemplateError } from './template-grammar';
import type { Expr, ParsedTemplate } from './template-grammar';

type Value = string | string[];

export interface ProvisioningPlan {
  thing?: {
    logicalId: string;
    name: string;
    attributes?: Record<string, string>;
    thingTypeName?: string;
    groups?: string[];
    billingGroup?: string;
    overrides: Record<string, string>;
  };
  certificate?: { logicalId: string; certificateId: string; status: 'ACTIVE' | 'INACTIVE'; overrides: Record<string, string> };
  policies: { logicalId: string; policyName: string }[];
  deviceConfiguration: Record<string, string>;
}

class EvalError extends TemplateError {}

function fail(message: string): never {
  throw new EvalError(message);
}

interface Scope {
  params: Record<string, string>;
  mappings: ParsedTemplate['mappings'];
}

function asString(v: Value, where: string): string {
  if (typeof v !== 'string') fail(`${where} evaluated to a list where a string is needed`);
  return v;
}

function asList(v: Value): string[] {
  return typeof v === 'string' ? [v] : v;
}

function ref(name: string, s: Scope): string {
  const v = s.params[name];
  if (v === undefined) fail(`Parameter ${name} has no value: RegisterThing did not pass it and the template gives no Default`);
  return v;
}

function sub(text: string, vars: Record<string, string>, s: Scope): string {
  return text.replace(/\$\{(!?)([^}]*)\}/g, (_m, bang: string, name: string) => {
    if (bang === '!') return `\${${name}}`;
    return vars[name] ?? ref(name, s);
  });
}

function evalList(e: Expr, s: Scope, where: string): string[] {
  if (Array.isArray(e)) return e.flatMap((x, i) => asList(evaluate(x, s, `${where}[${i}]`)));
  return asList(evaluate(e, s, where));
}

export function evaluate(e: Expr, s: Scope, where: string): Value {
  if (typeof e === 'string') return e;
  if (Array.isArray(e)) return evalList(e, s, where);
  if (!isObj(e)) fail(`${where}: not an expression`);
  const [fn, a] = Object.entries(e)[0] ?? [];
  const args = a as unknown[];
  switch (fn) {
    case 'Ref':
      return ref(a as string, s);
    case 'Fn::Join':
      return evalList(args[1], s, where).join(args[0] as string);
    case 'Fn::Split':
      return asString(evaluate(args[1], s, where), where).split(args[0] as string);
    case 'Fn::Select': {
      const i = Number(typeof args[0] === 'object' ? evaluate(args[0], s, where) : args[0]);
      const list = evalList(args[1], s, where);
      const v = Number.isInteger(i) && i >= 0 ? list[i] : undefined;
      if (v === undefined) fail(`${where}: Fn::Select index ${String(args[0])} is out of range for a list of ${list.length}`);
      return v;
    }
    case 'Fn::Sub': {
      if (typeof a === 'string') return sub(a, {}, s);
      const vars: Record<string, string> = {};
      for (const [k, x] of Object.entries(args[1] as Record<string, unknown>)) vars[k] = asString(evaluate(x, s, where), where);
      return sub(args[0] as string, vars, s);
    }
    case 'Fn::FindInMap': {
      const [m, k1, k2] = args.map((x) => asString(evaluate(x, s, where), where));
      const v = s.mappings[m ?? '']?.[k1 ?? '']?.[k2 ?? ''];
      if (v === undefined) fail(`${where}: Fn::FindInMap found no value at ${m}.${k1}.${k2}`);
      return v as Value;
    }
    default:
      return fail(`${where}: ${String(fn)} is not supported`);
  }
}

function str(e: Expr, s: Scope, where: string): string {
  return asString(evaluate(e, s, where), where);
}

function policyName(p: ParsedTemplate['policies'][number], s: Scope): string {
  if (p.policyName !== undefined) return str(p.policyName, s, `Resources.${p.logicalId}.PolicyName`);
  // AWS names an inline policy after a hash of its document (a 40-hex name in its examples).
  const doc = typeof p.policyDocument === 'string' ? p.policyDocument : JSON.stringify(p.policyDocument);
  return createHash('sha1').update(doc).digest('hex').toUpperCase();
}

/**
 * The plan for one RegisterThing. `params` are the request's parameters; defaults fill the gaps and
 * the pseudo-parameters `AWS::IoT::Certificate::Id` (and the others given in `pseudo`) are set.
 */
export function evaluateTemplate(t: ParsedTemplate, params: Record<string, string>, pseudo: Record<string, string>): ProvisioningPlan {
  const merged: Record<string, string> = {};
  for (const [k, p] of Object.entries(t.parameters)) if (p.default !== undefined) merged[k] = p.default;
  Object.assign(merged, params, pseudo);
  const s: Scope = { params: merged, mappings: t.mappings };
  const plan: ProvisioningPlan = { policies: [], deviceConfiguration: {} };
  if (t.thing !== undefined) {
    const th = t.thing;
    const w = `Resources.${th.logicalId}.Properties`;
    plan.thing = { logicalId: th.logicalId, name: str(th.name, s, `${w}.ThingName`), overrides: th.overrides };
    if (th.attributes !== undefined) {
      plan.thing.attributes = Object.fromEntries(Object.entries(th.attributes).map(([k, e]) => [k, str(e, s, `${w}.AttributePayload.${k}`)]));
    }
    if (th.thingTypeName !== undefined) plan.thing.thingTypeName = str(th.thingTypeName, s, `${w}.ThingTypeName`);
    if (th.billingGroup !== undefined) plan.thing.billingGroup = str(th.billingGroup, s, `${w}.BillingGroup`);
    if (th.groups !== undefined) plan.thing.groups = evalList(th.groups, s, `${w}.ThingGroups`);
  }
  if (t.certificate !== undefined) {
    const c = t.certificate;
    const w = `Resources.${c.logicalId}.Properties`;
    const status = c.status === undefined ? 'ACTIVE' : str(c.status, s, `${w}.Status`).toUpperCase();
    // AWS's own fleet examples write "Active": the value is read without regard to case.
    if (status !== 'ACTIVE' && status !== 'INACTIVE') fail(`${w}.Status must be ACTIVE or INACTIVE, got ${status}`);
    plan.certificate = { logicalId: c.logicalId, certificateId: str(c.certificateId, s, `${w}.CertificateId`), status, overrides: c.overrides };
  }
  plan.policies = t.policies.map((p) => ({ logicalId: p.logicalId, policyName: policyName(p, s) }));
  for (const [k, e] of Object.entries(t.deviceConfiguration)) plan.deviceConfiguration[k] = str(e, s, `DeviceConfiguration.${k}`);
  return plan;
}
