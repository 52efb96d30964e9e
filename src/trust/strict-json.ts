/**
 * A strict JSON parser for what is signed: payloads, protected headers and trust stores.
 * `JSON.parse` keeps the last of duplicate keys, rounds big integers and accepts lone surrogates;
 * a signer and a verifier that read the same bytes differently are an attack (RFC 8785 §3.1 asks
 * for I-JSON). This parser refuses all of those, with the position of the problem.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface StrictJsonOptions {
  /** Deepest nesting of arrays and objects (default 32). */
  maxDepth?: number;
  /** Longest input in characters (default 1 MiB). */
  maxLength?: number;
  /** Whether `null` is allowed (default false: AWS strips nulls, the signed profile bans them). */
  allowNull?: boolean;
}

export class StrictJsonError extends Error {
  constructor(message: string, readonly position: number) {
    super(`${message} at offset ${position}`);
    this.name = 'StrictJsonError';
  }
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bytes → string, refusing invalid UTF-8 and a byte-order mark. */
export function decodeUtf8(bytes: Uint8Array): string {
  let text: string;
  try {
    text = fatalUtf8.decode(bytes);
  } catch {
    throw new StrictJsonError('invalid UTF-8', 0);
  }
  if (text.charCodeAt(0) === 0xfeff) throw new StrictJsonError('byte-order mark', 0);
  return text;
}

export function parseStrictJson(input: string | Uint8Array, opts: StrictJsonOptions = {}): JsonValue {
  const text = typeof input === 'string' ? input : decodeUtf8(input);
  const maxLength = opts.maxLength ?? 1024 * 1024;
  if (text.length > maxLength) throw new StrictJsonError(`input longer than ${maxLength} characters`, maxLength);
  const p = new Parser(text, opts.maxDepth ?? 32, opts.allowNull ?? false);
  p.ws();
  const value = p.value(0);
  p.ws();
  if (p.i !== text.length) p.fail('unexpected text after the value');
  return value;
}

const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

class Parser {
  i = 0;
  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
    private readonly allowNull: boolean,
  ) {}

  fail(msg: string, at = this.i): never {
    throw new StrictJsonError(msg, at);
  }

  ws(): void {
    while (this.i < this.s.length && ' \t\n\r'.includes(this.s[this.i]!)) this.i++;
  }

  value(depth: number): JsonValue {
    const c = this.s[this.i];
    if (c === '{' || c === '[') {
      if (depth >= this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
      return c === '{' ? this.object(depth + 1) : this.array(depth + 1);
    }
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    if (this.s.startsWith('true', this.i)) return this.word('true', true);
    if (this.s.startsWith('false', this.i)) return this.word('false', false);
    if (this.s.startsWith('null', this.i)) {
      if (!this.allowNull) this.fail('null is not allowed');
      return this.word('null', null);
    }
    return this.fail(c === undefined ? 'unexpected end of input' : `unexpected character ${JSON.stringify(c)}`);
  }

  word<T>(w: string, v: T): T {
    this.i += w.length;
    return v;
  }

  object(depth: number): { [key: string]: JsonValue } {
    const out: { [key: string]: JsonValue } = {};
    const seen = new Set<string>();
    this.i++;
    this.ws();
    if (this.s[this.i] === '}') return this.word('}', out);
    for (;;) {
      this.ws();
      const at = this.i;
      if (this.s[this.i] !== '"') this.fail('expected a string key');
      const key = this.string();
      if (seen.has(key)) this.fail(`duplicate key ${JSON.stringify(key)}`, at);
      seen.add(key);
      this.ws();
      if (this.s[this.i] !== ':') this.fail('expected ":"');
      this.i++;
      this.ws();
      // defineProperty, not assignment: a "__proto__" key must stay data, never a prototype.
      Object.defineProperty(out, key, { value: this.value(depth), enumerable: true, writable: true, configurable: true });
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return out;
      if (c !== ',') this.fail('expected "," or "}"', this.i - 1);
    }
  }

  array(depth: number): JsonValue[] {
    const out: JsonValue[] = [];
    this.i++;
    this.ws();
    if (this.s[this.i] === ']') return this.word(']', out);
    for (;;) {
      this.ws();
      out.push(this.value(depth));
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return out;
      if (c !== ',') this.fail('expected "," or "]"', this.i - 1);
    }
  }

  /** Integers only, within ±(2^53-1), no `-0`: every signer and verifier reads them the same. */
  number(): number {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (!m) return this.fail('invalid number');
    if (m[2] !== undefined || m[3] !== undefined) this.fail('only integers are allowed (no fraction or exponent)');
    const n = Number(m[0]);
    if (!Number.isSafeInteger(n)) this.fail('integer outside ±(2^53-1)');
    if (Object.is(n, -0)) this.fail('-0 is not allowed');
    this.i += m[0].length;
    return n;
  }

  string(): string {
    const start = this.i;
    this.i++;
    let out = '';
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined) this.fail('unterminated string', start);
      if (c === '"') break;
      const code = c.charCodeAt(0);
      if (code < 0x20) this.fail('control character in a string');
      if (c === '\\') out += this.escape();
      else {
        out += c;
        this.i++;
      }
    }
    this.i++;
    if (hasLoneSurrogate(out)) this.fail('lone surrogate in a string', start);
    return out;
  }

  escape(): string {
    const e = this.s[this.i + 1];
    if (e === 'u') {
      const hex = this.s.slice(this.i + 2, this.i + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('invalid \\u escape');
      this.i += 6;
      return String.fromCharCode(parseInt(hex, 16));
    }
    const v = e === undefined ? undefined : ESCAPES[e];
    if (v === undefined) this.fail('invalid escape');
    this.i += 2;
    return v;
  }
}

export function isJsonObject(v: unknown): v is { [key: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when a UTF-16 string holds a surrogate without its pair (not representable in UTF-8). */
export function hasLoneSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return true;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}
