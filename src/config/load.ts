/**
 * Configuration = JSON file + IOT_JOBS_AGENT_* environment + caller overrides (later wins),
 * validated once against config/agent.schema.json with defaults filled in, then frozen and passed
 * down. Every problem is collected before failing, so one run of `check-config` shows them all.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigError, errorMessage } from '../lib/errors';
import { configFromEnv } from './env';
import { identityPaths, readIdentitySync } from './identity-paths';
import type { AgentConfig } from './types';
import { agentSchema, crossFieldProblems, schemaProblems } from './validate';

export interface LoadConfigOptions {
  /** JSON config file; relative paths inside it are resolved against its directory. */
  file?: string;
  /** Environment to read IOT_JOBS_AGENT_* from (default: none). */
  env?: NodeJS.ProcessEnv;
  /** Deep-partial config applied last (e.g. from command-line flags). */
  overrides?: Record<string, unknown>;
  /** Base for relative paths that come from env or overrides (default: process.cwd()). */
  cwd?: string;
  /** Reads {stateDirectory}/identity/identity.json (tests); default readFileSync. */
  readFile?: (file: string) => string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Where a JSON.parse failure happened, as "line L, column C". */
function jsonErrorLocation(text: string, err: unknown): string {
  const msg = errorMessage(err);
  const lc = /line (\d+) column (\d+)/.exec(msg);
  if (lc) return `line ${lc[1]}, column ${lc[2]}`;
  const pos = /position (\d+)/.exec(msg);
  const offset = pos?.[1] !== undefined ? Number(pos[1]) : text.length;
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${(before[before.length - 1]?.length ?? 0) + 1}`;
}

function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read: ${errorMessage(err)}`]);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const detail = errorMessage(err).replace(/ in JSON at position \d+.*$/s, '');
    throw new ConfigError([`${file}: invalid JSON at ${jsonErrorLocation(text, err)}: ${detail}`]);
  }
}

/** Keys holding file-system paths; `[]` marks an array of paths. */
const PATH_KEYS: readonly string[] = [
  'tls.certificateFile',
  'tls.privateKeyFile',
  'tls.rootCaFile',
  'pkcs11.pinFile',
  'pkcs11.library',
  'stateDirectory',
  'proxy.passwordFile',
  'proxy.caFile',
  'provisioning.claim.certificateFile',
  'provisioning.claim.privateKeyFile',
  'trust.storeFile',
  'handlers.directories[]',
  'handlers.scriptDirectories[]',
];

function resolveOne(value: unknown, base: string, key: string): unknown {
  if (typeof value !== 'string' || value === '' || path.isAbsolute(value)) return value;
  // A bare library name ("libsofthsm2.so") is for the dynamic loader to find, not a relative path.
  if (key === 'pkcs11.library' && !value.includes('/')) return value;
  return path.resolve(base, value);
}

/** Resolve relative paths in `data` (mutated) against `base`. */
function resolvePaths(data: unknown, base: string): void {
  if (!isObj(data)) return;
  // provisioning.parameters.*.file: a map, so not in PATH_KEYS.
  const params = isObj(data.provisioning) ? data.provisioning.parameters : undefined;
  if (isObj(params)) {
    for (const v of Object.values(params)) if (isObj(v) && v.file !== undefined) v.file = resolveOne(v.file, base, 'file');
  }
  for (const key of PATH_KEYS) {
    const parts = key.replace('[]', '').split('.');
    const leaf = parts.pop() ?? '';
    let node: unknown = data;
    for (const p of parts) node = isObj(node) ? node[p] : undefined;
    if (!isObj(node) || node[leaf] === undefined) continue;
    const value = node[leaf];
    node[leaf] = key.endsWith('[]') && Array.isArray(value) ? value.map((v) => resolveOne(v, base, key)) : resolveOne(value, base, key);
  }
}

/** Objects merge key by key; arrays and scalars replace. */
function merge(base: unknown, top: unknown): unknown {
  if (!isObj(base) || !isObj(top)) return top === undefined ? base : top;
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(top)) out[k] = merge(base[k], v);
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export function loadConfig(opts: LoadConfigOptions = {}): AgentConfig {
  const problems: string[] = [];
  const fromFile = opts.file === undefined ? {} : readConfigFile(opts.file);
  if (!isObj(fromFile)) throw new ConfigError([`${opts.file ?? 'config'}: must be a JSON object`]);
  const fileCopy = structuredClone(fromFile);
  if (opts.file !== undefined) resolvePaths(fileCopy, path.dirname(path.resolve(opts.file)));
  const env = configFromEnv(agentSchema, opts.env ?? {}, problems);
  const data = merge(merge(fileCopy, env.values), structuredClone(opts.overrides ?? {})) as Obj;
  // clientId defaults to the thing name; the schema cannot express a default taken from another key.
  // A bad thing name is reported once, under its own key, not again as a bad clientId.
  const provisioned = data.provisioning !== undefined;
  if (!provisioned && isObj(data.mqtt) && data.mqtt.clientId === undefined && typeof data.thingName === 'string' && data.thingName.length <= 128) {
    data.mqtt.clientId = data.thingName;
  }
  problems.push(...schemaProblems(data, env.sources), ...crossFieldProblems(data));
  if (problems.length > 0) throw new ConfigError(problems);
  resolvePaths(data, opts.cwd ?? process.cwd());
  if (provisioned) applyIdentity(data as unknown as AgentConfig, opts.readFile ?? ((f) => readFileSync(f, 'utf8')));
  return deepFreeze(data as unknown as AgentConfig);
}

/**
 * With `provisioning`, the device's certificate and key are the fixed files of its identity
 * directory and the thing name is the provisioned one (docs/ARCHITECTURE.md §8). Before the first
 * provisioning the thing name is '' (the agent provisions before it connects as a thing).
 */
function applyIdentity(cfg: AgentConfig, read: (f: string) => string): void {
  const paths = identityPaths(cfg.stateDirectory);
  const identity = readIdentitySync(paths, read);
  const m = cfg as { thingName?: string; tls: { certificateFile?: string; privateKeyFile?: string }; mqtt: { clientId?: string } };
  m.tls.certificateFile = paths.certificateFile;
  if (cfg.pkcs11 === undefined) m.tls.privateKeyFile = paths.privateKeyFile;
  m.thingName = identity?.thingName ?? m.thingName ?? '';
  m.mqtt.clientId ??= m.thingName;
}
