/**
 * Request-body checking for the control plane, declared the way AWS's service model declares its
 * shapes (string length/pattern, integer range, enum, list size, nested structures, required
 * members). Every member of a body is either checked, or named as unsupported with a reason: a field
 * this service does not know, or knows but does not emulate, is refused with InvalidRequestException
 * naming it — never silently ignored, so a rehearsal cannot pass on a setting that did nothing.
 *
 * A table (`Fields`) maps each member to a `Check` or to `unsupported(why)`. Adding support for a
 * field is replacing its `unsupported` entry with a check and reading the value where it applies.
 */
import type { ServiceError } from '../types';
import { serviceError } from './options';
import { isObj } from './validate';

/** A problem with the value at `path`, or undefined when it is acceptable. */
export type Check = (value: unknown, path: string) => string | undefined;

export class Unsupported {
  constructor(readonly why: string) {}
}

/** A member AWS accepts that this service does not emulate: refused, with `why` in the message. */
export function unsupported(why: string): Unsupported {
  return new Unsupported(why);
}

export type Fields = Readonly<Record<string, Check | Unsupported>>;

export interface Shape {
  fields: Fields;
  required?: readonly string[];
}

/** Absent: JSON null counts as absent (restJson1 clients omit unset members). */
function absent(v: unknown): boolean {
  return v === undefined || v === null;
}

/** The first problem in `body` against `shape`, as `path: problem`; undefined when it conforms. */
export function problemIn(body: unknown, shape: Shape, path = ''): string | undefined {
  if (!isObj(body)) return `${path || 'request body'} must be an object`;
  const at = (k: string): string => (path ? `${path}.${k}` : k);
  for (const k of shape.required ?? []) if (!Object.hasOwn(body, k) || absent(body[k])) return `${at(k)} is required`;
  for (const k of Object.keys(body)) {
    const v = body[k];
    if (absent(v)) continue;
    const rule = Object.hasOwn(shape.fields, k) ? shape.fields[k] : undefined;
    if (rule === undefined) return `${at(k)} is not a known member of this request`;
    if (rule instanceof Unsupported) return `${at(k)} is not supported by the local Jobs service: ${rule.why}`;
    const p = rule(v, at(k));
    if (p !== undefined) return p;
  }
  return undefined;
}

/** `problemIn` as the InvalidRequestException AWS answers for a malformed request. */
export function checkBody(body: unknown, shape: Shape): ServiceError | undefined {
  const p = problemIn(body, shape);
  return p === undefined ? undefined : serviceError('InvalidRequestException', 400, p);
}

// ---- checks, named after the model's constraint kinds

export function str(o: { min?: number; max?: number; pattern?: RegExp; what?: string } = {}): Check {
  return (v, path) => {
    if (typeof v !== 'string') return `${path} must be a string`;
    const n = Array.from(v).length;
    if (o.min !== undefined && n < o.min) return `${path} must be at least ${o.min} characters`;
    if (o.max !== undefined && n > o.max) return `${path} must be at most ${o.max} characters`;
    if (o.pattern !== undefined && !o.pattern.test(v)) return `${path} must match ${o.what ?? o.pattern.source}`;
    return undefined;
  };
}

function outOfRange(v: number, path: string, o: { min?: number; max?: number }): string | undefined {
  if (o.min !== undefined && v < o.min) return `${path} must be at least ${o.min}`;
  if (o.max !== undefined && v > o.max) return `${path} must be at most ${o.max}`;
  return undefined;
}

export function int(o: { min?: number; max?: number } = {}): Check {
  return (v, path) => (typeof v !== 'number' || !Number.isSafeInteger(v) ? `${path} must be an integer` : outOfRange(v, path, o));
}

export function num(o: { min?: number; max?: number } = {}): Check {
  return (v, path) => (typeof v !== 'number' || !Number.isFinite(v) ? `${path} must be a number` : outOfRange(v, path, o));
}

export const bool: Check = (v, path) => (typeof v === 'boolean' ? undefined : `${path} must be true or false`);

export function oneOf(values: readonly string[]): Check {
  return (v, path) => (typeof v === 'string' && values.includes(v) ? undefined : `${path} must be one of ${values.join(', ')}`);
}

export function list(item: Check, o: { min?: number; max?: number } = {}): Check {
  return (v, path) => {
    if (!Array.isArray(v)) return `${path} must be a list`;
    if (o.min !== undefined && v.length < o.min) return `${path} must have at least ${o.min} item${o.min === 1 ? '' : 's'}`;
    if (o.max !== undefined && v.length > o.max) return `${path} must have at most ${o.max} items`;
    for (const [i, x] of v.entries()) {
      const p = item(x, `${path}[${i}]`);
      if (p !== undefined) return p;
    }
    return undefined;
  };
}

export function struct(shape: Shape): Check {
  return (v, path) => problemIn(v, shape, path);
}

export function map(key: Check, value: Check, o: { max?: number } = {}): Check {
  return (v, path) => {
    if (!isObj(v)) return `${path} must be an object`;
    const entries = Object.entries(v);
    if (o.max !== undefined && entries.length > o.max) return `${path} must have at most ${o.max} entries`;
    for (const [k, x] of entries) {
      const p = key(k, `${path} key ${JSON.stringify(k)}`) ?? value(x, `${path}.${k}`);
      if (p !== undefined) return p;
    }
    return undefined;
  };
}

/** Both checks must pass (a shape check, then a rule across members). */
export function all(...checks: Check[]): Check {
  return (v, path) => {
    for (const c of checks) {
      const p = c(v, path);
      if (p !== undefined) return p;
    }
    return undefined;
  };
}
