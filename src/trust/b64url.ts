/** Strict base64url (RFC 7515 §2): no padding, no `+` or `/`, no stray bits — one text per byte string. */
import { TrustError } from './reasons';
import type { Reason } from './reasons';

const ALPHABET = /^[A-Za-z0-9_-]*$/;

export function b64urlEncode(bytes: Uint8Array | string): string {
  return Buffer.from(bytes).toString('base64url');
}

/**
 * Decodes base64url and refuses every other spelling of the same bytes (padding, the standard
 * alphabet, whitespace, non-zero trailing bits), so a re-encoded signature or payload is not
 * "the same" envelope.
 */
export function b64urlDecode(text: unknown, what: string, reason: Reason = 'malformed-envelope'): Buffer {
  if (typeof text !== 'string') throw new TrustError(reason, `${what}: expected a base64url string`);
  if (!ALPHABET.test(text) || text.length % 4 === 1) throw new TrustError(reason, `${what}: not base64url (RFC 7515: no padding, alphabet A-Z a-z 0-9 - _)`);
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.toString('base64url') !== text) throw new TrustError(reason, `${what}: non-canonical base64url (stray trailing bits)`);
  return bytes;
}
