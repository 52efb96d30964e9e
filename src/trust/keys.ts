/**
 * Signing algorithms on node:crypto: EdDSA (Ed25519) and ES256 (P-256, JOSE r‖s, not DER).
 * The algorithm always comes from the trust store's entry for a key, and the key's own type must
 * agree with it, so a header can never pick how a signature is checked.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

export type Alg = 'EdDSA' | 'ES256';
export const ALGS: readonly Alg[] = ['EdDSA', 'ES256'];

export function isAlg(v: unknown): v is Alg {
  return v === 'EdDSA' || v === 'ES256';
}

export class KeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyError';
  }
}

/** The algorithm a key can serve, or a KeyError naming the key type it has. */
export function algOfKey(key: KeyObject): Alg {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  const curve = key.asymmetricKeyDetails?.namedCurve;
  throw new KeyError(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'}${curve ? ` (${curve})` : ''}: use Ed25519 or EC P-256`);
}

/** An SPKI PEM public key that must serve `alg`. */
export function importPublicKey(pem: string, alg: Alg): KeyObject {
  // createPublicKey would derive a public key from a private one: a private key pasted into a trust
  // store must be refused, not silently shipped to every device.
  if (!/^-----BEGIN PUBLIC KEY-----\r?\n/.test(pem)) throw new KeyError('expected an SPKI PEM public key ("-----BEGIN PUBLIC KEY-----")');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new KeyError(`not an SPKI PEM public key: ${(err as Error).message}`);
  }
  if (key.type !== 'public') throw new KeyError('expected a public key');
  const actual = algOfKey(key);
  if (actual !== alg) throw new KeyError(`key is ${actual}, but its entry says ${alg}`);
  return key;
}

export function importPrivateKey(pem: string | Buffer): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new KeyError(`not a PEM private key: ${(err as Error).message}`);
  }
  algOfKey(key);
  return key;
}

export function publicPem(k: KeyObject | Signer): string {
  const key = isSigner(k) ? k.publicKey : k;
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'pem' }).toString();
}

export function signBytes(key: KeyObject | Signer, data: Uint8Array): Buffer {
  if (isSigner(key)) return key.sign(data);
  return algOfKey(key) === 'EdDSA' ? sign(null, data, key) : sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
}

/**
 * A private key held elsewhere (a PKCS#11 token): its algorithm, its public half, and a function
 * that returns the JOSE signature (Ed25519, or ES256 as the 64-byte r‖s) over `data`.
 */
export interface Signer {
  readonly alg: Alg;
  readonly publicKey: KeyObject;
  sign(data: Uint8Array): Buffer;
}

export function isSigner(k: KeyObject | Signer): k is Signer {
  return typeof (k as Partial<Signer>).sign === 'function';
}

/** The algorithm a signing key (a key file's or a token's) serves. */
export function algOfSigner(k: KeyObject | Signer): Alg {
  return isSigner(k) ? k.alg : algOfKey(k);
}

/** Verifies with the algorithm given (from the trust store); never throws for a bad signature. */
export function verifyBytes(alg: Alg, key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    if (alg === 'EdDSA') return signature.length === 64 && verify(null, data, key, signature);
    return signature.length === 64 && verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

export function generateKeyPair(alg: Alg): { privatePem: string; publicPem: string } {
  const pair = alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
