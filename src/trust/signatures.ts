/** Which signature entries of an envelope verify under the trust store (a key counts once). */
import { b64urlDecode } from './b64url';
import { jwsSigningInput, parseProtectedHeader } from './envelope';
import type { Envelope } from './envelope';
import { verifyBytes } from './keys';
import type { Reason } from './reasons';
import { quote } from './shape';
import type { TrustStore } from './store';

export interface SignatureCheck {
  /** Distinct kids whose signature verified with the algorithm the trust store gives them. */
  kids: string[];
  /** Entries that did not count, and why. */
  refused: { kid: string; reason: Extract<Reason, 'bad-signature' | 'unknown-key' | 'key-revoked' | 'role-not-permitted'>; detail: string }[];
}

/**
 * Every entry's header is parsed strictly first (a malformed one rejects the whole envelope);
 * then each is verified with the algorithm of the trust store's key, never the header's.
 */
export function checkSignatures(env: Envelope, trust: TrustStore): SignatureCheck {
  const headers = env.jws.signatures.map((s, i) => parseProtectedHeader(s.protected, i));
  const out: SignatureCheck = { kids: [], refused: [] };
  env.jws.signatures.forEach((s, i) => {
    const h = headers[i]!;
    const refuse = (reason: SignatureCheck['refused'][number]['reason'], detail: string): void => {
      out.refused.push({ kid: h.kid, reason, detail: `signature ${i} (kid ${quote(h.kid)}): ${detail}` });
    };
    const k = trust.keys.get(h.kid);
    if (!k) return refuse('unknown-key', `not in trust store version ${trust.version}`);
    if (trust.revoked.has(h.kid)) return refuse('key-revoked', 'revoked');
    if (trust.rootKids.has(h.kid)) return refuse('role-not-permitted', 'a root key signs only trust stores');
    if (h.alg !== k.alg) return refuse('bad-signature', `header alg ${quote(h.alg)} is not the key's ${k.alg}`);
    let sig: Buffer;
    try {
      sig = b64urlDecode(s.signature, 'signature', 'bad-signature');
    } catch (e) {
      return refuse('bad-signature', (e as Error).message);
    }
    if (!verifyBytes(k.alg, k.key, jwsSigningInput(s.protected, env.jws.payload), sig)) return refuse('bad-signature', 'does not verify');
    if (!out.kids.includes(h.kid)) out.kids.push(h.kid);
  });
  out.kids.sort();
  return out;
}

const PRIORITY: readonly SignatureCheck['refused'][number]['reason'][] = ['bad-signature', 'key-revoked', 'unknown-key', 'role-not-permitted'];

/** The reason to give when no signature counted: a tampered signature first, then revoked, unknown. */
export function noSignatureReason(check: SignatureCheck): { reason: Reason; detail: string } {
  const first = PRIORITY.map((r) => check.refused.find((x) => x.reason === r)).find((x) => x !== undefined);
  return first ? { reason: first.reason, detail: first.detail } : { reason: 'bad-signature', detail: 'no signature verified' };
}
