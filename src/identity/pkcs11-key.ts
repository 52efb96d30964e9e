/**
 * A device key made and kept inside the PKCS#11 token (docs/ARCHITECTURE.md §8): generated there
 * (non-extractable), and the CSR signed there, through OpenSC's `pkcs11-tool` (Debian `opensc`).
 * Node has no PKCS#11 binding of its own, and aws-crt uses a token key for TLS only; a short-lived
 * tool process per step keeps a native module out of the agent. The PIN reaches the tool through
 * its environment (`--pin env:NAME`), never its command line.
 */
import type * as ChildProcess from 'node:child_process';
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as X509 from '@peculiar/x509';
import type { Pkcs11Config } from '../config/types';
import { IdentityError } from './errors';
import { x509 } from './x509-lazy';

type X509Crypto = NonNullable<Parameters<typeof X509.Pkcs10CertificateRequestGenerator.create>[1]>;
const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const PIN_VAR = 'IJA_PKCS11_PIN';

export interface TokenKey {
  p11: Pkcs11Config;
  pin: string;
  /** The key's CKA_LABEL in the token. */
  label: string;
  /** Default `pkcs11-tool` on PATH. */
  tool?: string;
}

function tokenArgs(p11: Pkcs11Config): string[] {
  const which = p11.tokenLabel !== undefined ? ['--token-label', p11.tokenLabel] : ['--slot', String(p11.slotId ?? 0)];
  return ['--module', p11.library, ...which];
}

function runTool(k: TokenKey, what: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // node:child_process loads with the first token operation, not with every agent's start.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy loading is the point
    (require('node:child_process') as typeof ChildProcess).execFile(k.tool ?? 'pkcs11-tool', [...tokenArgs(k.p11), ...args], { env: { ...process.env, [PIN_VAR]: k.pin }, timeout: 60_000 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const said = (stderr || err.message).split('\n').map((l) => l.trim()).filter((l) => l !== '' && l !== 'Aborting.');
      reject(new IdentityError(`pkcs11 ${what} (key ${k.label}): ${said.join('; ') || 'pkcs11-tool failed'}`, { cause: err }));
    });
  });
}

async function withTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ija-p11-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The key's public half (SPKI DER), or undefined when the token has no key with that label. */
async function readPublicKey(k: TokenKey): Promise<Buffer | undefined> {
  return withTemp(async (dir) => {
    const out = join(dir, 'pub.der');
    try {
      await runTool(k, 'reading the public key', ['--read-object', '--type', 'pubkey', '--label', k.label, '-o', out]);
    } catch {
      return undefined;
    }
    return readFile(out);
  });
}

/** The token's key under `label`: the one there, or a new EC P-256 key generated inside the token. */
export async function ensureTokenKey(k: TokenKey): Promise<Buffer> {
  const have = await readPublicKey(k);
  if (have) return have;
  try {
    await runTool(k, 'generating a key in the token', ['--login', '--pin', `env:${PIN_VAR}`, '--keypairgen', '--key-type', 'EC:prime256v1', '--label', k.label, '--id', randomBytes(8).toString('hex')]);
  } catch (err) {
    throw withStoreHint(err as IdentityError);
  }
  const made = await readPublicKey(k);
  if (!made) throw new IdentityError(`the token made no readable public key for label ${k.label}`);
  return made;
}

/**
 * SoftHSM and tpm2-pkcs11 keep a token's objects in files. When their store cannot be written (the
 * service's file system is read-only there, as under a hardened systemd unit without
 * ReadWritePaths) key generation fails with a bare CKR_GENERAL_ERROR / CKR_DEVICE_ERROR that names
 * no cause; say where to look.
 */
function withStoreHint(err: IdentityError): IdentityError {
  if (!/CKR_(GENERAL_ERROR|DEVICE_ERROR|FUNCTION_FAILED)/.test(err.message)) return err;
  return new IdentityError(
    `${err.message} (a token that keeps its objects in files needs its store writable by the agent: SoftHSM's tokendir, tpm2-pkcs11's store; under systemd, the unit's ReadWritePaths=: systemd/README.md, installed as /usr/share/doc/iot-jobs-agent/systemd.md)`,
    { cause: err },
  );
}

/** The ID of the `type` object labelled `k.label`, or undefined when the token has none. */
async function objectId(k: TokenKey, type: 'privkey' | 'pubkey'): Promise<string | undefined> {
  const listing = await runTool(k, 'listing the keys', ['--login', '--pin', `env:${PIN_VAR}`, '--list-objects', '--type', type]);
  let label: string | undefined;
  for (const line of listing.split('\n')) {
    const m = /^\s*(label|ID):\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    if (m[1] === 'label') label = m[2];
    else if (label === k.label && m[2]) return m[2];
  }
  return undefined;
}

/**
 * The ID of the private key labelled `k.label`. `pkcs11-tool --sign` picks its key by ID only and
 * ignores `--label`, so a token that holds another key (the device's first one, a claim key) would
 * otherwise sign with whichever private key it lists first.
 */
async function privateKeyId(k: TokenKey): Promise<string> {
  const id = await objectId(k, 'privkey');
  if (id === undefined) throw new IdentityError(`the token has no private key labelled ${k.label}`);
  return id;
}

/** Destroys the key pair labelled `k.label` (by ID, as with signing); nothing to do when it is gone. */
export async function deleteTokenKey(k: TokenKey): Promise<void> {
  for (const type of ['privkey', 'pubkey'] as const) {
    const id = await objectId(k, type);
    if (id !== undefined) await runTool(k, `deleting the ${type}`, ['--login', '--pin', `env:${PIN_VAR}`, '--delete-object', '--type', type, '--id', id]);
  }
}

/** Whether the token holds a private key labelled `k.label`. */
export async function hasTokenKey(k: TokenKey): Promise<boolean> {
  return (await objectId(k, 'privkey')) !== undefined;
}

/** ECDSA P-256 over SHA-256, computed inside the token: the raw r‖s WebCrypto returns. */
async function tokenSign(k: TokenKey, data: ArrayBuffer | ArrayBufferView): Promise<ArrayBuffer> {
  // Copied through a Uint8Array: `data` may come from another realm (a bundle, a test sandbox).
  const bytes = ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(new Uint8Array(data));
  return withTemp(async (dir) => {
    await writeFile(join(dir, 'digest'), createHash('sha256').update(bytes).digest());
    const id = await privateKeyId(k);
    await runTool(k, 'signing in the token', ['--login', '--pin', `env:${PIN_VAR}`, '--sign', '-m', 'ECDSA', '--id', id, '-i', join(dir, 'digest'), '-o', join(dir, 'sig')]);
    const sig = await readFile(join(dir, 'sig'));
    // A fresh ArrayBuffer of this realm: x509 checks `instanceof ArrayBuffer`, which a Buffer's
    // pooled backing store can fail where the global differs (a test sandbox, a bundle).
    const out = new ArrayBuffer(sig.byteLength);
    new Uint8Array(out).set(sig);
    return out;
  });
}

/** A CSR for the token's key (made first if missing), signed by the token. */
export async function tokenCsr(k: TokenKey, commonName: string): Promise<string> {
  const spki = await ensureTokenKey(k);
  const publicKey = await webcrypto.subtle.importKey('spki', spki, EC_ALG, true, ['verify']);
  // The private half never leaves the token: a handle-shaped stand-in whose signing the token does.
  const privateKey = { algorithm: EC_ALG, type: 'private', extractable: false, usages: ['sign'] } as unknown as webcrypto.CryptoKey;
  const crypto = {
    getRandomValues: webcrypto.getRandomValues.bind(webcrypto),
    subtle: {
      exportKey: webcrypto.subtle.exportKey.bind(webcrypto.subtle),
      sign: (_alg: unknown, _key: unknown, data: ArrayBuffer) => tokenSign(k, data),
    },
  } as unknown as X509Crypto;
  const csr = await x509().Pkcs10CertificateRequestGenerator.create(
    { name: [{ CN: [commonName] }], keys: { privateKey, publicKey }, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } },
    crypto,
  );
  return csr.toString('pem');
}

/** Whether `certPem` is for the token key's public half. */
export async function tokenKeyMatches(k: TokenKey, certPem: string): Promise<boolean> {
  const spki = await readPublicKey(k);
  if (!spki) return false;
  const cert = new (x509().X509Certificate)(certPem);
  return Buffer.from(cert.publicKey.rawData).equals(spki);
}
