/**
 * The job envelope (docs/SIGNING.md): `{"ija": 1, "jws": <General JWS JSON>, "urls"?: {…}}`.
 * Parsing here is structural only; which signatures count is verify.ts's job.
 */
import type { KeyObject } from 'node:crypto';
import { b64urlDecode, b64urlEncode } from './b64url';
import { canonicalBytes } from './canonical';
import { algOfSigner, signBytes } from './keys';
import type { Alg, Signer } from './keys';
import { TrustError } from './reasons';
import { NAME, quote } from './shape';
import { StrictJsonError, isJsonObject, parseStrictJson } from './strict-json';
import type { JobPayload } from './payload';

export const JWS_TYP = 'ija-job+jws';
/** Bounds the work one document can cause before any signature is known to be good. */
export const MAX_SIGNATURES = 16;

export interface SignatureEntry {
  protected: string;
  signature: string;
}

export interface Envelope {
  ija: 1;
  jws: { payload: string; signatures: SignatureEntry[] };
  urls?: Record<string, string>;
}

export interface ProtectedHeader {
  alg: string;
  kid: string;
  typ: typeof JWS_TYP;
}

/** True when a document has the envelope's marker keys; anything else is an unsigned document. */
export function looksSigned(doc: unknown): boolean {
  return isJsonObject(doc) && ('ija' in doc || 'jws' in doc);
}

/** Checks the envelope's structure. Reasons: unsigned, unsigned-field, malformed-envelope. */
export function parseEnvelope(doc: unknown): Envelope {
  if (!looksSigned(doc)) throw new TrustError('unsigned', 'the job document is not a signed envelope (no "ija"/"jws")');
  const d = doc as Record<string, unknown>;
  const extra = Object.keys(d).filter((k) => !['ija', 'jws', 'urls'].includes(k));
  if (extra.length) throw new TrustError('unsigned-field', `fields outside the signed payload: ${extra.map((k) => quote(k)).join(', ')}`);
  if (d.ija !== 1) throw new TrustError('malformed-envelope', `"ija" must be 1, got ${quote(d.ija)}`);
  const jws = d.jws;
  if (!isJsonObject(jws)) throw new TrustError('malformed-envelope', '"jws" must be a General JWS JSON object');
  const jwsExtra = Object.keys(jws).filter((k) => k !== 'payload' && k !== 'signatures');
  if (jwsExtra.length) throw new TrustError('unsigned-field', `"jws" holds ${jwsExtra.map((k) => quote(k)).join(', ')}; only "payload" and "signatures" (General JWS JSON, no unprotected header)`);
  if (typeof jws.payload !== 'string' || jws.payload.length === 0) throw new TrustError('malformed-envelope', '"jws.payload" must be a non-empty base64url string');
  const sigs = jws.signatures;
  if (!Array.isArray(sigs) || sigs.length === 0) throw new TrustError('malformed-envelope', '"jws.signatures" must be a non-empty array');
  if (sigs.length > MAX_SIGNATURES) throw new TrustError('malformed-envelope', `more than ${MAX_SIGNATURES} signatures`);
  sigs.forEach((s, i) => checkEntry(s, i));
  const urls = d.urls;
  if (urls !== undefined) {
    if (!isJsonObject(urls)) throw new TrustError('malformed-envelope', '"urls" must be an object of strings');
    for (const [k, v] of Object.entries(urls)) if (typeof v !== 'string') throw new TrustError('malformed-envelope', `"urls.${quote(k)}" must be a string`);
  }
  return d as unknown as Envelope;
}

function checkEntry(s: unknown, i: number): void {
  if (!isJsonObject(s)) throw new TrustError('malformed-envelope', `signature ${i}: expected an object`);
  const extra = Object.keys(s).filter((k) => k !== 'protected' && k !== 'signature');
  if (extra.length) throw new TrustError('unsigned-field', `signature ${i}: ${extra.map((k) => quote(k)).join(', ')} not allowed; an entry is exactly {"protected", "signature"}`);
  if (typeof s.protected !== 'string' || typeof s.signature !== 'string') throw new TrustError('malformed-envelope', `signature ${i}: "protected" and "signature" must be strings`);
}

/**
 * Decodes a protected header and holds it to exactly `alg`, `kid`, `typ` (`typ` = ija-job+jws):
 * no `crit`, `b64`, `jwk`, `jku`, `x5c`, … — nothing in a header may choose a key or change how
 * the payload is read.
 */
export function parseProtectedHeader(text: string, i = 0): ProtectedHeader {
  const bytes = b64urlDecode(text, `signature ${i} header`);
  let h: unknown;
  try {
    h = parseStrictJson(bytes, { maxDepth: 1, maxLength: 1024 });
  } catch (e) {
    if (e instanceof StrictJsonError) throw new TrustError('malformed-envelope', `signature ${i} header: ${e.message}`);
    throw e;
  }
  if (!isJsonObject(h)) throw new TrustError('malformed-envelope', `signature ${i} header: expected an object`);
  const keys = Object.keys(h).sort().join(',');
  if (keys !== 'alg,kid,typ') throw new TrustError('malformed-envelope', `signature ${i} header: fields must be exactly alg, kid, typ; got ${quote(Object.keys(h).join(','), 80)}`);
  if (h.typ !== JWS_TYP) throw new TrustError('malformed-envelope', `signature ${i} header: typ must be "${JWS_TYP}"`);
  if (typeof h.alg !== 'string' || typeof h.kid !== 'string' || !NAME.test(h.kid)) throw new TrustError('malformed-envelope', `signature ${i} header: alg and kid must be strings, kid a name`);
  return { alg: h.alg, kid: h.kid, typ: JWS_TYP };
}

/** The bytes a JWS signature covers: ASCII(protected "." payload). */
export function jwsSigningInput(protectedB64: string, payloadB64: string): Buffer {
  return Buffer.from(`${protectedB64}.${payloadB64}`, 'ascii');
}

/** The protected header for a key, in canonical form so every tool writes the same bytes. */
export function protectedFor(alg: Alg, kid: string): string {
  return b64urlEncode(canonicalBytes({ alg, kid, typ: JWS_TYP }));
}

export function signEntry(payloadB64: string, key: KeyObject | Signer, kid: string): SignatureEntry {
  if (!NAME.test(kid)) throw new TrustError('malformed-envelope', `kid ${quote(kid)} is not a name matching ${NAME.source}`);
  const prot = protectedFor(algOfSigner(key), kid);
  return { protected: prot, signature: b64urlEncode(signBytes(key, jwsSigningInput(prot, payloadB64))) };
}

/** A new envelope: the payload's RFC 8785 bytes, base64url, with one signature. */
export function signPayload(payload: JobPayload, key: KeyObject | Signer, kid: string, urls?: Record<string, string>): Envelope {
  const payloadB64 = b64urlEncode(canonicalBytes(payload));
  const env: Envelope = { ija: 1, jws: { payload: payloadB64, signatures: [signEntry(payloadB64, key, kid)] } };
  if (urls && Object.keys(urls).length) env.urls = urls;
  return env;
}

/** Adds a signature to an envelope without touching its payload; a kid that already signed is refused. */
export function addSignature(env: Envelope, key: KeyObject | Signer, kid: string): Envelope {
  const parsed = parseEnvelope(env);
  for (const [i, s] of parsed.jws.signatures.entries()) {
    if (parseProtectedHeader(s.protected, i).kid === kid) throw new TrustError('malformed-envelope', `kid ${quote(kid)} already signed this envelope`);
  }
  return { ...parsed, jws: { payload: parsed.jws.payload, signatures: [...parsed.jws.signatures, signEntry(parsed.jws.payload, key, kid)] } };
}
