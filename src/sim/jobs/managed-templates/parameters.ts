/**
 * `documentParameters` of a job created from an AWS managed template: checked against the
 * template's parameters (known key, required present, whole value matching the regex) and
 * substituted for `${aws:iot:parameter:KEY}` in the document. Substitution works on the parsed
 * document, string by string, so a value with quotes or backslashes can never break the JSON.
 */
import type { ManagedParameter, ManagedTemplate } from './catalog';

export type ParamCheck = { ok: true; document: string } | { ok: false; message: string };

const KEY = /^[a-zA-Z0-9_-]{1,128}$/;
const CONTROL = /\p{C}/u;
const PLACEHOLDER = /\$\{aws:iot:parameter:([a-zA-Z0-9_-]{1,128})\}/g;

/** The published patterns are Java regexes matched against the whole value; these are all JS-compatible. */
function matchesWhole(regex: string, value: string): boolean {
  try {
    return new RegExp(`^(?:${regex})$`, 'u').test(value);
  } catch {
    return false;
  }
}

function checkOne(p: ManagedParameter, value: string | undefined): string | undefined {
  if (value === undefined || value.length === 0) return p.optional ? undefined : `documentParameters.${p.key} is required by this template`;
  if (CONTROL.test(value)) return `documentParameters.${p.key} contains control characters`;
  if (!matchesWhole(p.regex, value)) return `documentParameters.${p.key} does not match the pattern ${p.regex}`;
  return undefined;
}

export function checkParameters(t: ManagedTemplate, given: Readonly<Record<string, string>>): string | undefined {
  const known = new Set(t.parameters.map((p) => p.key));
  for (const k of Object.keys(given)) {
    if (!KEY.test(k)) return `documentParameters key ${JSON.stringify(k)} must match [a-zA-Z0-9_-]{1,128}`;
    if (!known.has(k)) return `documentParameters.${k} is not a parameter of ${t.name}:${t.version} (it takes ${[...known].join(', ')})`;
  }
  for (const p of t.parameters) {
    const problem = checkOne(p, Object.hasOwn(given, p.key) ? given[p.key] : undefined);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function substitute(v: unknown, values: Readonly<Record<string, string>>): unknown {
  if (typeof v === 'string') return v.replace(PLACEHOLDER, (_m, key: string) => (Object.hasOwn(values, key) ? (values[key] as string) : ''));
  if (Array.isArray(v)) return v.map((x) => substitute(x, values));
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, values)]));
  }
  return v;
}

/** The job document for these parameters; an optional parameter left out becomes the empty string. */
export function resolveDocument(t: ManagedTemplate, given: Readonly<Record<string, string>>): ParamCheck {
  const problem = checkParameters(t, given);
  if (problem !== undefined) return { ok: false, message: problem };
  return { ok: true, document: JSON.stringify(substitute(t.document, given)) };
}

/** The document as DescribeManagedJobTemplate shows it: placeholders in place, compact JSON. */
export function templateDocument(t: ManagedTemplate): string {
  return JSON.stringify(t.document);
}
