/**
 * Environment overrides: IOT_JOBS_AGENT_<PATH>, where PATH is the key path upper-cased and joined
 * with "_" (IOT_JOBS_AGENT_MQTT_PORT, IOT_JOBS_AGENT_THINGNAME). camelCase keys may also be spelt
 * with underscores (IOT_JOBS_AGENT_THING_NAME). Values are coerced by the schema type of the key, so
 * a wrong value reaches validation as a wrong type and gets the same precise message as in a file.
 */
export const ENV_PREFIX = 'IOT_JOBS_AGENT_';

type LeafKind = 'integer' | 'number' | 'boolean' | 'array' | 'object' | 'string';

interface Leaf {
  path: string[];
  kind: LeafKind;
}

interface SchemaNode {
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, SchemaNode>;
}

function kindOf(node: SchemaNode): LeafKind {
  if (node.enum !== undefined) return node.enum.every((v) => typeof v === 'number') ? 'integer' : 'string';
  switch (node.type) {
    case 'integer':
    case 'number':
    case 'boolean':
    case 'array':
    case 'object':
      return node.type;
    default:
      return 'string';
  }
}

/** Every settable key of the schema (objects with declared properties are walked, not set whole). */
export function schemaLeaves(node: SchemaNode, prefix: string[] = []): Leaf[] {
  const out: Leaf[] = [];
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    if (key === '$schema') continue;
    if (child.properties !== undefined) out.push(...schemaLeaves(child, [...prefix, key]));
    else out.push({ path: [...prefix, key], kind: kindOf(child) });
  }
  return out;
}

const snake = (key: string): string => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2');

function envNames(path: string[]): string[] {
  const plain = ENV_PREFIX + path.map((k) => k.toUpperCase()).join('_');
  const split = ENV_PREFIX + path.map((k) => snake(k).toUpperCase()).join('_');
  return plain === split ? [plain] : [plain, split];
}

const BOOLEANS: Record<string, boolean> = { true: true, false: false, '1': true, '0': false, yes: true, no: false, on: true, off: false };

/** Coerce text by kind; text that does not fit is returned unchanged for validation to report. */
function coerce(text: string, kind: LeafKind, name: string, problems: string[]): unknown {
  const t = text.trim();
  switch (kind) {
    case 'integer':
    case 'number':
      return /^[+-]?\d+(\.\d+)?$/.test(t) ? Number(t) : text;
    case 'boolean':
      return BOOLEANS[t.toLowerCase()] ?? text;
    case 'array':
      if (!t.startsWith('[')) return t === '' ? [] : t.split(',').map((s) => s.trim()).filter((s) => s !== '');
      return parseJson(t, name, problems);
    case 'object':
      return parseJson(t, name, problems);
    case 'string':
      return text;
  }
}

function parseJson(text: string, name: string, problems: string[]): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    problems.push(`${name}: not valid JSON (${(err as Error).message})`);
    return undefined;
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next === 'object' && next !== null && !Array.isArray(next)) node = next as Record<string, unknown>;
    else node = node[key] = {};
  }
  const last = path[path.length - 1];
  if (last !== undefined) node[last] = value;
}

export interface EnvLayer {
  /** Partial config built from the environment. */
  values: Record<string, unknown>;
  /** Dotted key path -> the variable that set it, so errors can name their source. */
  sources: Map<string, string>;
}

export function configFromEnv(schema: SchemaNode, env: NodeJS.ProcessEnv, problems: string[]): EnvLayer {
  const byName = new Map<string, Leaf>();
  for (const leaf of schemaLeaves(schema)) for (const n of envNames(leaf.path)) byName.set(n, leaf);
  const values: Record<string, unknown> = {};
  const sources = new Map<string, string>();
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || text === undefined) continue;
    const leaf = byName.get(name);
    if (leaf === undefined) {
      problems.push(`${name}: not a configuration key (expected ${ENV_PREFIX}<PATH>, e.g. ${ENV_PREFIX}MQTT_PORT)`);
      continue;
    }
    const value = coerce(text, leaf.kind, name, problems);
    if (value === undefined) continue;
    setPath(values, leaf.path, value);
    sources.set(leaf.path.join('.'), name);
  }
  return { values, sources };
}
