/**
 * RFC 8785 (JCS) bytes. The canonicaliser is the `canonicalize` package (by JCS's co-author:
 * ECMAScript number form, keys sorted by UTF-16 code units); this wrapper adds what its 2.x line
 * leaves to the caller — refusing lone surrogates, which have no UTF-8 form — fixes the output to
 * UTF-8 bytes, and gives the verifier its "already canonical" check on signed bytes.
 */
import canonicalize from 'canonicalize';
import { decodeUtf8, hasLoneSurrogate, parseStrictJson } from './strict-json';
import type { JsonValue, StrictJsonOptions } from './strict-json';

export function canonicalText(value: unknown): string {
  rejectLoneSurrogates(value, 0);
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value has no JSON form');
  return text;
}

export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalText(value), 'utf8');
}

function rejectLoneSurrogates(v: unknown, depth: number): void {
  if (depth > 64) throw new TypeError('nested deeper than 64');
  if (typeof v === 'string') {
    if (hasLoneSurrogate(v)) throw new TypeError('lone surrogate in a string');
  } else if (Array.isArray(v)) {
    for (const x of v) rejectLoneSurrogates(x, depth + 1);
  } else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      rejectLoneSurrogates(k, depth + 1);
      rejectLoneSurrogates(x, depth + 1);
    }
  }
}

/**
 * Parses signed bytes strictly and checks they are exactly their own canonical form: a payload
 * signed in any other spelling (key order, whitespace, escapes) is refused, so what the device
 * reads is byte for byte what the signer's tool printed.
 */
export function parseCanonical(bytes: Uint8Array, opts?: StrictJsonOptions): JsonValue {
  const value = parseStrictJson(bytes, opts);
  if (decodeUtf8(bytes) !== canonicalText(value)) throw new NonCanonicalError();
  return value;
}

export class NonCanonicalError extends Error {
  constructor() {
    super('not in RFC 8785 canonical form');
    this.name = 'NonCanonicalError';
  }
}
