/**
 * A signing key inside a PKCS#11 token (a YubiKey, an HSM, SoftHSM), named by an RFC 7512 URI:
 * `pkcs11:token=ops;id=%01?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin`.
 * The key never leaves the token: OpenSC's `pkcs11-tool` reads its public half and signs (Node has
 * no PKCS#11 binding; the same tool the device side uses for its own keys). The key is picked by
 * `id`, because `pkcs11-tool --sign` ignores `--label` and takes the token's first private key. The
 * PIN comes from `pin-source` (a file, or `env:VAR`) and reaches the tool through its environment,
 * never its command line; `pin-value` is refused for the same reason.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentError } from '../lib/errors';
import { algOfKey } from '../trust';
import type { Alg, Signer } from '../trust';
import { UsageError } from './args';

export interface TokenRef {
  module: string;
  token?: string;
  slotId?: string;
  /** The key's CKA_ID, hex. */
  idHex: string;
  pin: string;
}

const PIN_VAR = 'IJA_PKCS11_PIN';
const PATH_ATTRS = ['token', 'id', 'object', 'slot-id'];
const QUERY_ATTRS = ['module-path', 'pin-source'];

function decode(v: string, attr: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    throw new UsageError(`--key: ${attr} is not percent-encoded correctly`);
  }
}

/** Percent-decoding to bytes: an id is bytes, not necessarily UTF-8 (`%ff`). */
function pctBytes(v: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < v.length; i++) {
    if (v[i] === '%' && /^[0-9a-fA-F]{2}$/.test(v.slice(i + 1, i + 3))) {
      out.push(parseInt(v.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(...Buffer.from(v[i]!, 'utf8'));
  }
  return Buffer.from(out);
}

function attrs(part: string, sep: string, known: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const kv of part === '' ? [] : part.split(sep)) {
    const i = kv.indexOf('=');
    const k = i < 0 ? kv : kv.slice(0, i);
    if (k === 'pin-value') throw new UsageError('--key: pin-value puts the PIN on the command line; use pin-source=file:PATH or pin-source=env:VAR');
    if (!known.includes(k)) throw new UsageError(`--key: unsupported PKCS#11 URI attribute ${JSON.stringify(k)} (supported: ${known.join(', ')})`);
    // The id stays encoded here: it is bytes, decoded by pctBytes.
    out.set(k, k === 'id' ? kv.slice(i + 1) : decode(kv.slice(i + 1), k));
  }
  return out;
}

function readPin(source: string): string {
  if (source.startsWith('env:')) {
    const v = process.env[source.slice(4)];
    if (v === undefined || v === '') throw new UsageError(`--key: pin-source ${source}: the variable is not set`);
    return v;
  }
  const path = source.startsWith('file:') ? decode(source.slice(5).replace(/^\/\//, ''), 'pin-source') : source;
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new UsageError(`--key: pin-source ${path}: ${(err as Error).message}`);
  }
}

/** Parses a `pkcs11:` URI (RFC 7512) as `--key` takes it. */
export function parseTokenUri(uri: string): TokenRef {
  const [path = '', query = ''] = uri.slice('pkcs11:'.length).split('?', 2);
  const p = attrs(path, ';', PATH_ATTRS);
  const q = attrs(query, '&', QUERY_ATTRS);
  const module = q.get('module-path');
  if (!module) throw new UsageError('--key: the PKCS#11 URI needs ?module-path=/path/to/the/pkcs11/library.so');
  const id = p.get('id');
  if (id === undefined || id === '') throw new UsageError('--key: the PKCS#11 URI needs the key\'s id (e.g. id=%01); pkcs11-tool signs with the first private key when given only a label');
  const pinSource = q.get('pin-source');
  if (!pinSource) throw new UsageError('--key: the PKCS#11 URI needs pin-source=file:PATH or pin-source=env:VAR');
  const token = p.get('token');
  const slotId = p.get('slot-id');
  return { module, ...(token ? { token } : {}), ...(slotId ? { slotId } : {}), idHex: pctBytes(id).toString('hex'), pin: readPin(pinSource) };
}

function tool(t: TokenRef, what: string, args: string[]): void {
  const which = t.token !== undefined ? ['--token-label', t.token] : t.slotId !== undefined ? ['--slot', t.slotId] : [];
  try {
    execFileSync('pkcs11-tool', ['--module', t.module, ...which, ...args], { env: { ...process.env, [PIN_VAR]: t.pin }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    const said = (e.stderr?.toString('utf8') || e.message).split('\n').map((l) => l.trim()).filter((l) => l !== '' && l !== 'Aborting.');
    throw new AgentError('Pkcs11Sign', `PKCS#11 ${what} (key id ${t.idHex}): ${said.join('; ') || 'pkcs11-tool failed'}`);
  }
}

function inTemp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'ija-sign-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function readPublicKey(t: TokenRef): KeyObject {
  return inTemp((dir) => {
    const out = join(dir, 'pub');
    tool(t, 'reading the public key', ['--read-object', '--type', 'pubkey', '--id', t.idHex, '-o', out]);
    const bytes = readFileSync(out);
    // pkcs11-tool writes an EC key as SPKI DER and an Ed25519 key as PEM.
    return bytes.subarray(0, 10).toString('latin1') === '-----BEGIN' ? createPublicKey(bytes) : createPublicKey({ key: bytes, format: 'der', type: 'spki' });
  });
}

/** A Signer over the token key `uri` names; checks each signature against the key's public half. */
export function tokenSigner(uri: string): Signer {
  const t = parseTokenUri(uri);
  const publicKey = readPublicKey(t);
  const alg: Alg = algOfKey(publicKey);
  return {
    alg,
    publicKey,
    sign(data: Uint8Array): Buffer {
      const sig = inTemp((dir) => {
        // EDDSA signs the message; ECDSA signs a digest we make (the token computes no SHA-256).
        writeFileSync(join(dir, 'in'), alg === 'EdDSA' ? data : createHash('sha256').update(data).digest());
        tool(t, 'signing', ['--login', '--pin', `env:${PIN_VAR}`, '--sign', '--id', t.idHex, '-m', alg === 'EdDSA' ? 'EDDSA' : 'ECDSA', '-i', join(dir, 'in'), '-o', join(dir, 'sig')]);
        return readFileSync(join(dir, 'sig'));
      });
      const ok = alg === 'EdDSA' ? verify(null, data, publicKey, sig) : verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig);
      if (!ok) throw new AgentError('Pkcs11Sign', `PKCS#11 signing (key id ${t.idHex}): the token's signature does not verify with its own public key`);
      return sig;
    },
  };
}
