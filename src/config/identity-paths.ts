/**
 * Where a provisioned device's own identity lives: `{stateDirectory}/identity/` (docs/ARCHITECTURE.md
 * §8). The configuration points tls.* at these fixed names (and takes the thing name from
 * identity.json), so the transport, which re-reads its files at every connection attempt, follows a
 * new identity with no other change. identity.json is written last: it alone says "complete".
 */
import * as path from 'node:path';

export interface IdentityPaths {
  dir: string;
  certificateFile: string;
  privateKeyFile: string;
  record: string;
  /** Fleet provisioning in flight (token, certificate, registration). */
  progress: string;
  pendingKey: string;
  /** Certificate rotation in flight. */
  rotation: string;
  nextKey: string;
  nextCertificate: string;
  previousKey: string;
  previousCertificate: string;
  /**
   * With pkcs11: the label of the token key in use, once a rotation has made a new one (absent:
   * pkcs11.keyLabel). The token-key counterparts of private.key, next.key and previous.key.
   */
  keyLabel: string;
  nextKeyLabel: string;
  previousKeyLabel: string;
}

export function identityPaths(stateDirectory: string): IdentityPaths {
  const dir = path.join(stateDirectory, 'identity');
  const p = (name: string): string => path.join(dir, name);
  return {
    dir,
    certificateFile: p('certificate.pem'),
    privateKeyFile: p('private.key'),
    record: p('identity.json'),
    progress: p('provisioning.json'),
    pendingKey: p('pending.key'),
    rotation: p('rotation.json'),
    nextKey: p('next.key'),
    nextCertificate: p('next.certificate.pem'),
    previousKey: p('previous.key'),
    previousCertificate: p('previous.certificate.pem'),
    keyLabel: p('key-label'),
    nextKeyLabel: p('next.key-label'),
    previousKeyLabel: p('previous.key-label'),
  };
}

/** identity.json: what RegisterThing gave this device. */
export interface IdentityRecord {
  thingName: string;
  certificateId: string;
  templateName: string;
  deviceConfiguration: Record<string, string>;
  /** ISO time the identity was written. */
  provisionedAt: string;
  /** How the key was made: a file on the device, inside the PKCS#11 token, or by AWS (create-keys). */
  key: 'file' | 'pkcs11' | 'aws';
  /** Set by a rotation: the certificate this one replaced (the operator retires it). */
  previousCertificateId?: string;
  /** With pkcs11, set by a rotation: the label of the token key of this certificate. */
  keyLabel?: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseIdentity(text: string): IdentityRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObj(v) || typeof v.thingName !== 'string' || v.thingName === '' || typeof v.certificateId !== 'string') return undefined;
  return v as unknown as IdentityRecord;
}


/** The complete identity, or undefined (none yet, or unreadable). */
export function readIdentitySync(paths: IdentityPaths, read: (f: string) => string): IdentityRecord | undefined {
  try {
    return parseIdentity(read(paths.record));
  } catch {
    return undefined;
  }
}

/** The token key label in use: the one a rotation recorded in key-label, else `configured`. */
export function activeKeyLabel(paths: IdentityPaths, configured: string, read: (f: string) => string): string {
  try {
    const label = read(paths.keyLabel).trim();
    return label === '' ? configured : label;
  } catch {
    return configured;
  }
}
