import { X509Certificate, createPrivateKey, generateKeyPairSync, webcrypto } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import {
  certMatchesKey,
  certificateId,
  createCa,
  issueCert,
  issueCertFromCsr,
  writeKeyPair,
  type KeyPairPem,
} from '../../src/lib/pki';

const crypto = webcrypto as unknown as NonNullable<Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[1]>;
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

function ekus(pem: string): string[] {
  return new X509Certificate(pem).toLegacyObject().ext_key_usage ?? [];
}

describe('dev PKI', () => {
  let ca: KeyPairPem;
  beforeAll(async () => {
    ca = await createCa({ commonName: 'Test CA' });
  });

  test('CA is a self-signed P-256 CA with a PKCS#8 key', () => {
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe('CN=Test CA');
    expect(cert.issuer).toBe('CN=Test CA');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(certMatchesKey(ca.certPem, ca.keyPem)).toBe(true);
  });

  test('client certificate: signed by the CA, clientAuth, not a CA, requested CN and validity', async () => {
    const kp = await issueCert(ca, { commonName: 'thing-1', days: 2 });
    const cert = new X509Certificate(kp.certPem);
    const caCert = new X509Certificate(ca.certPem);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.subject).toBe('CN=thing-1');
    expect(ekus(kp.certPem)).toEqual([CLIENT_AUTH]);
    const lifetimeDays = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    expect(lifetimeDays).toBeGreaterThan(1.9);
    expect(lifetimeDays).toBeLessThan(2.1);
    expect(certMatchesKey(kp.certPem, kp.keyPem)).toBe(true);
    expect(certMatchesKey(kp.certPem, ca.keyPem)).toBe(false);
  });

  test('server certificate carries serverAuth and the requested SANs', async () => {
    const kp = await issueCert(ca, {
      commonName: 'broker',
      server: true,
      dnsNames: ['localhost'],
      ips: ['127.0.0.1'],
    });
    const cert = new X509Certificate(kp.certPem);
    expect(ekus(kp.certPem)).toEqual([SERVER_AUTH]);
    expect(cert.subjectAltName).toContain('DNS:localhost');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('example.com')).toBeUndefined();
  });

  test('CN with DN metacharacters is kept literally', async () => {
    const kp = await issueCert(ca, { commonName: 'a,b=c' });
    expect(new x509.X509Certificate(kp.certPem).subjectName.getField('CN')).toEqual(['a,b=c']);
  });

  test('issueCertFromCsr keeps the CSR key and replaces the subject', async () => {
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create(
      { name: 'CN=chosen-by-device', keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } },
      crypto,
    );
    const { certPem } = await issueCertFromCsr(ca, csr.toString('pem'), { commonName: 'thing-7' });
    const cert = new X509Certificate(certPem);
    expect(cert.subject).toBe('CN=thing-7');
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    const keyDer = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
    const keyPem = x509.PemConverter.encode(keyDer, 'PRIVATE KEY');
    expect(certMatchesKey(certPem, keyPem)).toBe(true);
  });

  test('issueCertFromCsr refuses garbage', async () => {
    await expect(issueCertFromCsr(ca, 'not a csr', { commonName: 'x' })).rejects.toThrow(/PKCS#10/);
  });

  test('a CA key in SEC1 form is accepted for signing', async () => {
    const sec1 = createPrivateKey(ca.keyPem).export({ format: 'pem', type: 'sec1' }).toString();
    const kp = await issueCert({ certPem: ca.certPem, keyPem: sec1 }, { commonName: 'x' });
    expect(new X509Certificate(kp.certPem).checkIssued(new X509Certificate(ca.certPem))).toBe(true);
  });

  test('certificateId is the sha256 of the DER, stable and distinct per cert', async () => {
    const other = await issueCert(ca, { commonName: 'thing-1' });
    const id = certificateId(ca.certPem);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(certificateId(ca.certPem)).toBe(id);
    expect(certificateId(other.certPem)).not.toBe(id);
    expect(new X509Certificate(ca.certPem).fingerprint256.replace(/:/g, '').toLowerCase()).toBe(id);
  });

  test('certMatchesKey is false for garbage and for an RSA key', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' });
    expect(certMatchesKey(ca.certPem, rsa.toString())).toBe(false);
    expect(certMatchesKey('nope', ca.keyPem)).toBe(false);
  });

  describe('writeKeyPair', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'pki-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    test('writes the pair with a 0600 key, creating the directory and overwriting atomically', async () => {
      const kp = await issueCert(ca, { commonName: 'thing-1' });
      const target = join(dir, 'nested', 'thing-1');
      const files = await writeKeyPair(target, 'thing-1', kp);
      expect(await readFile(files.certificateFile, 'utf8')).toBe(kp.certPem);
      expect(await readFile(files.privateKeyFile, 'utf8')).toBe(kp.keyPem);
      expect((await stat(files.privateKeyFile)).mode & 0o777).toBe(0o600);
      const kp2 = await issueCert(ca, { commonName: 'thing-1' });
      await writeKeyPair(target, 'thing-1', kp2);
      expect(await readFile(files.privateKeyFile, 'utf8')).toBe(kp2.keyPem);
      expect((await stat(files.privateKeyFile)).mode & 0o777).toBe(0o600);
    });
  });
});
