/** Small shape checks shared by the payload and trust-store validators: exact keys, typed fields. */
import { isJsonObject } from './strict-json';
import type { JsonValue } from './strict-json';

export type JsonObject = { [key: string]: JsonValue };

/** Printable identifiers: kids, roles, ops, artifact names, streams. */
export const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@+/-]{0,127}$/;

/** Shape problems collect here; the caller turns them into one error with every problem. */
export class Shape {
  readonly problems: string[] = [];

  add(problem: string): void {
    this.problems.push(problem);
  }

  object(v: unknown, at: string, required: readonly string[], optional: readonly string[] = []): JsonObject | undefined {
    if (!isJsonObject(v)) {
      this.add(`${at}: expected an object`);
      return undefined;
    }
    for (const k of required) if (!(k in v)) this.add(`${at}: missing "${k}"`);
    for (const k of Object.keys(v)) if (!required.includes(k) && !optional.includes(k)) this.add(`${at}: unknown field ${quote(k)}`);
    return v;
  }

  /** An object whose keys are names chosen by the author (kids, roles, ops, artifacts). */
  record(v: unknown, at: string): JsonObject | undefined {
    if (!isJsonObject(v)) {
      this.add(`${at}: expected an object`);
      return undefined;
    }
    return v;
  }

  int(v: unknown, at: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      this.add(`${at}: expected an integer ${min}..${max}`);
      return undefined;
    }
    return v;
  }

  str(v: unknown, at: string, pattern?: RegExp, maxLength = 1024): string | undefined {
    if (typeof v !== 'string' || v.length > maxLength || (pattern && !pattern.test(v))) {
      this.add(`${at}: expected ${pattern ? `a name matching ${pattern.source}` : `a string of at most ${maxLength} characters`}`);
      return undefined;
    }
    return v;
  }

  bool(v: unknown, at: string): boolean | undefined {
    if (typeof v !== 'boolean') {
      this.add(`${at}: expected true or false`);
      return undefined;
    }
    return v;
  }

  names(v: unknown, at: string, pattern = NAME): string[] {
    if (!Array.isArray(v)) {
      this.add(`${at}: expected an array of names`);
      return [];
    }
    const out = v.map((x, i) => this.str(x, `${at}[${i}]`, pattern)).filter((x): x is string => x !== undefined);
    if (new Set(out).size !== out.length) this.add(`${at}: names repeat`);
    return out;
  }
}

/** A value from an untrusted document, shortened and quoted for a message (never echoed raw). */
export function quote(v: unknown, max = 48): string {
  const s = typeof v === 'string' ? v : String(JSON.stringify(v));
  const short = s.length > max ? `${s.slice(0, max)}…` : s;
  return JSON.stringify(short);
}
