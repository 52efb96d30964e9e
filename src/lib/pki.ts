/**
 * A small development PKI: a CA, server and client certificates, and certificates issued from a
 * CSR (AWS CreateCertificateFromCsr). EC P-256 with SHA-256, the curve AWS IoT and mosquitto both
 * accept. Keys are PKCS#8 PEM so node:tls, mosquitto and the AWS SDKs read them unchanged.
 */
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { chmod, mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

export interface KeyPairPem {
  certPem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
}

export interface IssueOptions {
  commonName: string;
  days?: number;
  /** Server certificate (serverAuth EKU + SANs); otherwise a client certificate (clientAuth). */
  server?: boolean;
  dnsNames?: string[];
  ips?: string[];
}

// Passed explicitly to every call so this module never mutates @peculiar/x509's global provider.
type X509Crypto = NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>;
const crypto = webcrypto as unknown as X509Crypto;
const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
// Back-date validity a little: a device whose clock lags the issuer must still accept the cert.
const SKEW_MS = 5 * 60_000;

function validity(days: number | undefined): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - SKEW_MS), notAfter: new Date(now + (days ?? 365) * DAY_MS) };
}

/** Positive, non-zero 128-bit serial (RFC 5280 §4.1.2.2: at most 20 octets, positive). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString('hex');
}

function cnName(commonName: string): x509.JsonName {
  // JSON form, so a CN containing ',' or '=' is never parsed as DN syntax.
  return [{ CN: [commonName] }];
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify']);
}

async function exportKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importSigningKey(keyPem: string): Promise<webcrypto.CryptoKey> {
  // Normalise through node:crypto so SEC1 ("EC PRIVATE KEY") keys from other tools work too.
  const der = createPrivateKey(keyPem).export({ format: 'der', type: 'pkcs8' });
  return webcrypto.subtle.importKey('pkcs8', der, EC_ALG, false, ['sign']);
}

export async function createCa(opts: { commonName: string; days?: number }): Promise<KeyPairPem> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: cnName(opts.commonName),
      ...validity(opts.days ?? 3650),
      signingAlgorithm: SIGN_ALG,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey) };
}

async function leafExtensions(
  caCert: x509.X509Certificate,
  publicKey: x509.PublicKeyType,
  opts: Omit<IssueOptions, 'commonName' | 'days'>,
): Promise<x509.Extension[]> {
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(
      [opts.server === true ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
      false,
    ),
    await x509.SubjectKeyIdentifierExtension.create(publicKey, false, crypto),
    await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false, crypto),
  ];
  const names: x509.JsonGeneralName[] = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(opts.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  return extensions;
}

async function signLeaf(
  ca: KeyPairPem,
  publicKey: x509.PublicKeyType,
  opts: IssueOptions,
): Promise<string> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: cnName(opts.commonName),
      issuer: caCert.subjectName,
      ...validity(opts.days),
      signingAlgorithm: SIGN_ALG,
      publicKey,
      signingKey: await importSigningKey(ca.keyPem),
      extensions: await leafExtensions(caCert, publicKey, opts),
    },
    crypto,
  );
  return cert.toString('pem');
}

export async function issueCert(ca: KeyPairPem, opts: IssueOptions): Promise<KeyPairPem> {
  const keys = await generateKeys();
  const certPem = await signLeaf(ca, keys.publicKey, opts);
  return { certPem, keyPem: await exportKeyPem(keys.privateKey) };
}

/**
 * Sign a CSR's public key as a client certificate. The subject is replaced by `commonName`, as AWS
 * does: the device chooses its key, never its identity. A CSR whose self-signature fails is refused.
 */
export async function issueCertFromCsr(
  ca: KeyPairPem,
  csrPem: string,
  opts: { commonName: string; days?: number },
): Promise<{ certPem: string }> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new Error(`not a PEM PKCS#10 certificate signing request: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!(await csr.verify(crypto))) throw new Error('certificate signing request signature is invalid');
  const certPem = await signLeaf(ca, csr.publicKey, { commonName: opts.commonName, days: opts.days });
  return { certPem };
}

export interface CrlEntry {
  /** Hexadecimal serial number of a certificate the CA issued. */
  serialNumber: string;
  revocationDate: Date;
}

/**
 * A CRL signed by `ca` listing `entries`. `nextUpdate` is far ahead: OpenSSL refuses every
 * certificate of a CA whose CRL has expired, and the issuer rewrites the list on every change anyway.
 */
export async function createCrl(ca: KeyPairPem, entries: readonly CrlEntry[], opts: { days?: number } = {}): Promise<string> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const now = Date.now();
  const crl = await x509.X509CrlGenerator.create(
    {
      issuer: caCert.subjectName,
      thisUpdate: new Date(now - SKEW_MS),
      nextUpdate: new Date(now + (opts.days ?? 3650) * DAY_MS),
      signingAlgorithm: SIGN_ALG,
      signingKey: await importSigningKey(ca.keyPem),
      entries: entries.map((e) => ({ serialNumber: e.serialNumber, revocationDate: e.revocationDate })),
      extensions: [await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false, crypto)],
    },
    crypto,
  );
  // OpenSSL (mosquitto's crlfile) reads the label "X509 CRL" only; the library writes "CRL".
  return x509.PemConverter.encode(crl.rawData, 'X509 CRL');
}

export { certificateId, certMatchesKey } from './certs';

/** Write `data` to `path` via a temporary file + fsync + rename, created with `mode`. */
async function atomicWrite(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    // The umask may have narrowed the mode; make it exact (a key must never be group-readable).
    await chmod(tmp, mode);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Writes `<base>.cert.pem` (0644) and `<base>.private.key` (0600) under `dir`. */
export async function writeKeyPair(
  dir: string,
  base: string,
  kp: KeyPairPem,
): Promise<{ certificateFile: string; privateKeyFile: string }> {
  await mkdir(dir, { recursive: true });
  const certificateFile = join(dir, `${base}.cert.pem`);
  const privateKeyFile = join(dir, `${base}.private.key`);
  await atomicWrite(privateKeyFile, kp.keyPem, 0o600);
  await atomicWrite(certificateFile, kp.certPem, 0o644);
  return { certificateFile, privateKeyFile };
}
