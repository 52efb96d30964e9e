/**
 * A SoftHSM token for PKCS#11 tests: a private token directory (SOFTHSM2_CONF), one token, an EC
 * P-256 key pair generated INSIDE the token (non-extractable), and a client certificate for that
 * key issued by the test CA with CN = the thing name (mosquitto uses the CN as the identity).
 *
 * The certificate is made from the token's public key (pkcs11-tool --read-object --type pubkey),
 * so no OpenSSL PKCS#11 engine is needed: the private key is never read, only used by aws-crt.
 */
import { execFile } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';
import type { KeyPairPem } from '../../src/lib/pki';

const run = promisify(execFile);

/** Debian's path; override with SOFTHSM2_LIB. */
export const SOFTHSM_LIB = process.env['SOFTHSM2_LIB'] ?? '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmToken {
  /** SOFTHSM2_CONF value: must be in the environment of any process that loads the library. */
  conf: string;
  library: string;
  tokenLabel: string;
  keyLabel: string;
  pin: string;
  soPin: string;
  /** PEM certificate of the token's key, issued by the test CA. */
  certificateFile: string;
  /** Environment for a child process that uses the token. */
  env: NodeJS.ProcessEnv;
}

type X509Crypto = NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>;
const crypto = webcrypto as unknown as X509Crypto;

async function tool(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { env: { ...process.env, ...env } });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

/** Sign `spkiDer` as a client certificate with CN `commonName` from the test CA. */
async function issueForPublicKey(ca: KeyPairPem, spkiDer: Buffer, commonName: string): Promise<string> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const ecAlg = { name: 'ECDSA', namedCurve: 'P-256' } as const;
  const publicKey = await webcrypto.subtle.importKey('spki', spkiDer, ecAlg, true, ['verify']);
  const caKeyDer = x509.PemConverter.decodeFirst(ca.keyPem);
  const signingKey = await webcrypto.subtle.importKey('pkcs8', caKeyDer, ecAlg, false, ['sign']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: `01${webcrypto.getRandomValues(new Uint8Array(15)).reduce((s, b) => s + b.toString(16).padStart(2, '0'), '')}`,
      subject: [{ CN: [commonName] }],
      issuer: caCert.subjectName,
      notBefore: new Date(now - 300_000),
      notAfter: new Date(now + 86_400_000),
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      publicKey,
      signingKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
        await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return cert.toString('pem');
}

/**
 * Create a token in `dir` with a key generated inside it and a certificate for `thingName`.
 * Options let a test make a second token (another label) in the same SoftHSM directory.
 */
export async function createSoftHsmToken(
  dir: string,
  ca: KeyPairPem,
  thingName: string,
  o: { tokenLabel?: string; keyLabel?: string; pin?: string } = {},
): Promise<SoftHsmToken> {
  const tokenDir = join(dir, 'softhsm-tokens');
  await mkdir(tokenDir, { recursive: true, mode: 0o700 });
  const conf = join(dir, 'softhsm2.conf');
  await writeFile(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const env = { SOFTHSM2_CONF: conf };
  const tokenLabel = o.tokenLabel ?? 'agent-token';
  const keyLabel = o.keyLabel ?? 'device-key';
  const pin = o.pin ?? '123456';
  const soPin = '12345678';
  await tool('softhsm2-util', ['--init-token', '--free', '--label', tokenLabel, '--pin', pin, '--so-pin', soPin], env);
  const p11 = ['--module', SOFTHSM_LIB, '--token-label', tokenLabel, '--login', '--pin', pin];
  await tool('pkcs11-tool', [...p11, '--keypairgen', '--key-type', 'EC:prime256v1', '--label', keyLabel, '--id', '01'], env);
  const pubFile = join(dir, `${tokenLabel}-${keyLabel}.pub.der`);
  await tool('pkcs11-tool', [...p11, '--read-object', '--type', 'pubkey', '--label', keyLabel, '-o', pubFile], env);
  const certPem = await issueForPublicKey(ca, await readFile(pubFile), thingName);
  const certificateFile = join(dir, `${tokenLabel}-${keyLabel}.cert.pem`);
  await writeFile(certificateFile, certPem);
  return { conf, library: SOFTHSM_LIB, tokenLabel, keyLabel, pin, soPin, certificateFile, env };
}

/** The labels of the private keys in the token, sorted (what a rotation may leave behind). */
export async function tokenKeyLabels(token: SoftHsmToken): Promise<string[]> {
  const out = await tool('pkcs11-tool', ['--module', token.library, '--token-label', token.tokenLabel, '--login', '--pin', token.pin, '--list-objects', '--type', 'privkey'], token.env);
  return [...out.matchAll(/^\s*label:\s*(.*?)\s*$/gm)].map((m) => m[1] ?? '').sort();
}
