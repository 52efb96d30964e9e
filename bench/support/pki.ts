/**
 * Certificates for the benchmarks (a copy of the test PKI helper: the built bench cannot import test/):
 * one CA for the broker and the things, and a `jobs-service` client.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCa, issueCert, writeKeyPair, type KeyPairPem } from '../../src/lib/pki';

export interface CertFiles {
  certificateFile: string;
  privateKeyFile: string;
}

export interface TestPki {
  caFile: string;
  caCertPem: string;
  caKeyPem: string;
  /** The CA as a key pair, to issue more certificates in a test. */
  ca: KeyPairPem;
  /** Broker certificate for 127.0.0.1 and localhost. */
  server: CertFiles;
  /** Client certificate with CN `jobs-service` (the privileged Jobs service). */
  service: CertFiles;
  things: Record<string, CertFiles>;
  otherCa: { caFile: string; client: CertFiles };
}

export const SERVICE_CN = 'jobs-service';

export async function makeTestPki(dir: string, things: string[]): Promise<TestPki> {
  const ca = await createCa({ commonName: 'iot-jobs-agent test CA' });
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, ca.certPem);
  const serverKp = await issueCert(ca, {
    commonName: 'localhost',
    server: true,
    dnsNames: ['localhost'],
    ips: ['127.0.0.1'],
  });
  const server = await writeKeyPair(dir, 'server', serverKp);
  const service = await writeKeyPair(dir, SERVICE_CN, await issueCert(ca, { commonName: SERVICE_CN }));
  const thingFiles: Record<string, CertFiles> = {};
  for (const name of things) {
    thingFiles[name] = await writeKeyPair(join(dir, 'things', name), name, await issueCert(ca, { commonName: name }));
  }
  const other = await createCa({ commonName: 'unrelated CA' });
  const otherCaFile = join(dir, 'other-ca.pem');
  await writeFile(otherCaFile, other.certPem);
  // Same CN as a real thing: the broker must refuse it for its issuer, not for its name.
  const impostorCn = things[0] ?? 'impostor';
  const client = await writeKeyPair(dir, 'other-client', await issueCert(other, { commonName: impostorCn }));
  return {
    caFile,
    caCertPem: ca.certPem,
    caKeyPem: ca.keyPem,
    ca,
    server,
    service,
    things: thingFiles,
    otherCa: { caFile: otherCaFile, client },
  };
}

/** Issue and write one more certificate from the test CA (e.g. a server cert without a host name). */
export async function issueTestCert(
  pki: TestPki,
  dir: string,
  base: string,
  opts: Parameters<typeof issueCert>[1],
): Promise<CertFiles> {
  return writeKeyPair(dir, base, await issueCert(pki.ca, opts));
}
