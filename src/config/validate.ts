/**
 * Schema validation with messages an operator can act on: every problem names its key path
 * (`mqtt.port: must be integer`). Rules that span several keys are checked here in code; the
 * schema states them too (for editors), but its if/then/oneOf messages name no key, so those
 * errors are dropped in favour of the ones below.
 */
import type { default as AjvClass, ErrorObject, Options } from 'ajv';
import schema from '../../config/agent.schema.json';

export const agentSchema = schema;

/**
 * The options the schema is compiled with, at build time (packaging/schema-validator.ts writes
 * agent-schema.validate.js beside the compiled module) or here.
 */
export const AJV_OPTIONS: Options = { allErrors: true, useDefaults: true, verbose: true, strict: true, strictRequired: false, allowUnionTypes: true };


type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

let validator: Validator | undefined;

/**
 * The build precompiles the schema (compiling it costs ≈ 100 ms at every start); running from the
 * sources (tests), it is compiled here, once.
 */
function schemaValidator(): Validator {
  if (validator) return validator;
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded on demand, and only one of them */
  try {
    // A literal path, so that a bundler takes the file in.
    validator = require('./agent-schema.validate.js') as Validator;
  } catch (err) {
    if ((err as { code?: string }).code !== 'MODULE_NOT_FOUND') throw err;
    const Ajv = (require('ajv') as { default: typeof AjvClass }).default;
    validator = new Ajv(AJV_OPTIONS).compile(schema) as Validator;
  }
  /* eslint-enable @typescript-eslint/no-require-imports */
  return validator;
}

function keyOf(instancePath: string, child?: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (child !== undefined) parts.push(child);
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc === '' ? p : `${acc}.${p}`), '') || '(root)';
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] ?? 0;
      row[j] = Math.min(cur + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] ?? 0;
}

function suggestion(key: string, parentSchema: unknown): string {
  const props = (parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
  const best = Object.keys(props)
    .filter((k) => k !== '$schema')
    .map((k) => ({ k, d: distance(key, k) }))
    .sort((x, y) => x.d - y.d)[0];
  return best !== undefined && best.d <= Math.max(2, Math.floor(key.length / 4)) ? ` (did you mean "${best.k}"?)` : '';
}

function formatError(e: ErrorObject, sources: Map<string, string>): string {
  let key: string;
  let message: string;
  switch (e.keyword) {
    case 'required':
      key = keyOf(e.instancePath, (e.params as { missingProperty: string }).missingProperty);
      message = 'required';
      break;
    case 'additionalProperties': {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      key = keyOf(e.instancePath, extra);
      message =
        key === 'pkcs11.pin'
          ? 'not allowed: the PIN must come from pinFile or pinEnv, never from the configuration file'
          : `not allowed${suggestion(extra, e.parentSchema)}`;
      break;
    }
    case 'enum':
      key = keyOf(e.instancePath);
      message = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
      break;
    default:
      key = keyOf(e.instancePath);
      message = e.message ?? e.keyword;
  }
  const source = sources.get(key.replace(/\[\d+\]/g, ''));
  return `${key}: ${message}${source === undefined ? '' : ` (from ${source})`}`;
}

/** Validate `data` in place (defaults are filled in); returns the schema problems. */
export function schemaProblems(data: unknown, sources: Map<string, string>): string[] {
  const validate = schemaValidator();
  if (validate(data)) return [];
  const cross = (e: ErrorObject) => e.schemaPath.includes('/allOf/');
  return [...new Set((validate.errors ?? []).filter((e) => !cross(e)).map((e) => formatError(e, sources)))];
}

interface Shape {
  thingName?: unknown;
  provisioning?: unknown;
  mqtt?: { transport?: unknown };
  tls?: { privateKeyFile?: unknown; certificateFile?: unknown };
  pkcs11?: { tokenLabel?: unknown; slotId?: unknown; pinFile?: unknown; pinEnv?: unknown };
  jobs?: { namespaces?: unknown; mqttNamespaces?: unknown; dataPlaneEndpoint?: unknown; defaultNamespace?: unknown };
  trust?: { allowUnsigned?: unknown };
}

/** Handlers that run whatever command the document names: never without a signature (docs/SIGNING.md). */
export const NEVER_UNSIGNED: readonly string[] = ['exec', 'runCommand'];

function trustRules(trust: Shape['trust']): string[] {
  const list = Array.isArray(trust?.allowUnsigned) ? (trust.allowUnsigned as unknown[]) : [];
  return list.flatMap((e, i) => {
    const handler = (e as { handler?: unknown } | null)?.handler;
    return typeof handler === 'string' && NEVER_UNSIGNED.includes(handler)
      ? [`trust.allowUnsigned[${i}].handler: ${JSON.stringify(handler)} runs any command the document names and is never allowed unsigned`]
      : [];
  });
}

function exactlyOne(obj: Record<string, unknown>, a: string, b: string, what: string): string[] {
  const hasA = obj[a] !== undefined;
  const hasB = obj[b] !== undefined;
  if (hasA && hasB) return [`pkcs11: set ${a} or ${b}, not both`];
  if (!hasA && !hasB) return [`pkcs11.${a}: required (or pkcs11.${b}): ${what}`];
  return [];
}

function keyRules(cfg: Shape): string[] {
  const problems: string[] = [];
  const transport = cfg.mqtt?.transport ?? 'mqtt';
  const p11 = cfg.pkcs11;
  if (p11 !== undefined && transport !== 'aws-crt') {
    problems.push(`pkcs11: requires mqtt.transport "aws-crt" (got ${JSON.stringify(transport)}): only aws-crt can use a key held in a token`);
  }
  const keyInToken = p11 !== undefined && transport === 'aws-crt';
  if (cfg.provisioning !== undefined) return [...problems, ...provisioningRules(cfg)];
  if (cfg.thingName === undefined) problems.push('thingName: required (unless provisioning is set: then the provisioned name is used)');
  if (cfg.tls !== undefined && cfg.tls.certificateFile === undefined) {
    problems.push('tls.certificateFile: required (unless provisioning is set: then the certificate lives in {stateDirectory}/identity/)');
  }
  if (!keyInToken && cfg.tls !== undefined && cfg.tls.privateKeyFile === undefined) {
    problems.push('tls.privateKeyFile: required (unless the key is in a PKCS#11 token: mqtt.transport "aws-crt" with pkcs11)');
  }
  if (p11 !== undefined && cfg.tls?.privateKeyFile !== undefined) {
    problems.push('tls.privateKeyFile: not allowed with pkcs11: the private key is in the token');
  }
  if (p11 !== undefined && typeof p11 === 'object') {
    problems.push(...exactlyOne(p11, 'tokenLabel', 'slotId', 'which token holds the key'));
    problems.push(...exactlyOne(p11, 'pinFile', 'pinEnv', 'where the user PIN comes from'));
  }
  return problems;
}

/** With provisioning, the device's own certificate and key are the agent's to write, not the config's. */
function provisioningRules(cfg: Shape): string[] {
  const problems: string[] = [];
  if (cfg.tls?.certificateFile !== undefined) {
    problems.push('tls.certificateFile: not allowed with provisioning: the device certificate lives in {stateDirectory}/identity/');
  }
  if (cfg.tls?.privateKeyFile !== undefined) {
    problems.push('tls.privateKeyFile: not allowed with provisioning: the device key lives in {stateDirectory}/identity/ (or in the PKCS#11 token)');
  }
  const p11 = cfg.pkcs11;
  if (p11 !== undefined && typeof p11 === 'object') {
    problems.push(...exactlyOne(p11, 'tokenLabel', 'slotId', 'which token holds the key'));
    problems.push(...exactlyOne(p11, 'pinFile', 'pinEnv', 'where the user PIN comes from'));
  }
  return problems;
}

function namespaceRules(jobs: Shape['jobs']): string[] {
  if (jobs === undefined) return [];
  const problems: string[] = [];
  const namespaces = Array.isArray(jobs.namespaces) ? (jobs.namespaces as unknown[]) : [];
  const overMqtt = Array.isArray(jobs.mqttNamespaces) ? (jobs.mqttNamespaces as unknown[]) : [];
  overMqtt.forEach((ns, i) => {
    if (!namespaces.includes(ns)) problems.push(`jobs.mqttNamespaces[${i}]: ${JSON.stringify(ns)} is not listed in jobs.namespaces`);
  });
  const overHttps = namespaces.filter((ns) => !overMqtt.includes(ns));
  if (overHttps.length > 0 && jobs.dataPlaneEndpoint === undefined) {
    problems.push(
      `jobs.dataPlaneEndpoint: required: namespace${overHttps.length > 1 ? 's' : ''} ${overHttps.map((n) => JSON.stringify(n)).join(', ')} ` +
        'use the HTTPS data plane (or list them in jobs.mqttNamespaces)',
    );
  }
  if (jobs.defaultNamespace === false && namespaces.length === 0) {
    problems.push('jobs.defaultNamespace: false with no jobs.namespaces leaves no jobs to work');
  }
  return problems;
}

function proxyRules(proxy: unknown): string[] {
  if (proxy === true) return ['proxy: true is not a proxy: give {"url": "http://host:port", …}, or false to ignore the environment'];
  if (typeof proxy !== 'object' || proxy === null) return [];
  const p = proxy as { url?: unknown; username?: unknown; passwordFile?: unknown };
  const problems: string[] = [];
  if (typeof p.url === 'string' && /^[a-z0-9]+:\/\/[^/]*@/i.test(p.url)) {
    problems.push('proxy.url: no credentials in the URL (it may be logged): use proxy.username and proxy.passwordFile');
  }
  if (p.passwordFile !== undefined && p.username === undefined) problems.push('proxy.username: required with proxy.passwordFile');
  return problems;
}

/** Rules across keys, on data that already passed (or mostly passed) the schema. */
export function crossFieldProblems(data: unknown): string[] {
  if (typeof data !== 'object' || data === null) return [];
  // A section of the wrong type (`"tls": null`) is the schema's to report; these rules read objects only.
  const isObj = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);
  const sections = new Set(['mqtt', 'tls', 'pkcs11', 'jobs', 'provisioning', 'trust']);
  const cfg = Object.fromEntries(Object.entries(data).filter(([k, v]) => !sections.has(k) || isObj(v))) as Shape;
  return [...keyRules(cfg), ...namespaceRules(cfg.jobs), ...trustRules(cfg.trust), ...proxyRules((data as { proxy?: unknown }).proxy)];
}
