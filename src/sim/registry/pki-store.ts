/**
 * The sim's certificates under its state directory, created once and reused on every start:
 * a dev CA (or the user's own), a server certificate for 127.0.0.1/localhost, one client
 * certificate per thing (CN = thing name, which brokers such as mosquitto use as the identity)
 * and a `jobs-service` certificate for joining an external broker.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCa, issueCert, writeKeyPair } from '../../lib/pki';
import type { KeyPairPem } from '../../lib/pki';

export interface CertFiles {
  certificateFile: string;
  privateKeyFile: string;
}

export interface SimPki {
  ca: KeyPairPem;
  caFile: string;
  server: CertFiles & KeyPairPem;
  service: CertFiles;
  things: Record<string, CertFiles>;
}

async function loadPair(files: CertFiles): Promise<KeyPairPem> {
  return { certPem: await readFile(files.certificateFile, 'utf8'), keyPem: await readFile(files.privateKeyFile, 'utf8') };
}

function filesOf(dir: string, base: string): CertFiles {
  return { certificateFile: join(dir, `${base}.cert.pem`), privateKeyFile: join(dir, `${base}.private.key`) };
}

async function ensurePair(dir: string, base: string, make: () => Promise<KeyPairPem>): Promise<CertFiles & KeyPairPem> {
  const files = filesOf(dir, base);
  if (existsSync(files.certificateFile) && existsSync(files.privateKeyFile)) return { ...files, ...(await loadPair(files)) };
  const kp = await make();
  await writeKeyPair(dir, base, kp);
  return { ...files, ...kp };
}

export interface EnsurePkiOptions {
  /** Issue from the user's CA instead of generating one. */
  caCertFile?: string;
  caKeyFile?: string;
}

export async function ensureSimPki(stateDir: string, things: readonly string[], o: EnsurePkiOptions = {}): Promise<SimPki> {
  const caDir = join(stateDir, 'ca');
  let ca: KeyPairPem;
  let caFile: string;
  if (o.caCertFile && o.caKeyFile) {
    ca = await loadPair({ certificateFile: o.caCertFile, privateKeyFile: o.caKeyFile });
    caFile = o.caCertFile;
  } else {
    const pair = await ensurePair(caDir, 'ca', () => createCa({ commonName: 'iot-jobs-agent sim dev CA' }));
    ca = pair;
    caFile = pair.certificateFile;
  }
  const server = await ensurePair(join(stateDir, 'server'), 'server', () =>
    issueCert(ca, { commonName: 'localhost', server: true, dnsNames: ['localhost'], ips: ['127.0.0.1', '::1'] }),
  );
  const service = await ensurePair(join(stateDir, 'jobs-service'), 'jobs-service', () => issueCert(ca, { commonName: 'jobs-service' }));
  const thingFiles: Record<string, CertFiles> = {};
  for (const name of things) {
    const p = await ensurePair(join(stateDir, 'things', name), name, () => issueCert(ca, { commonName: name }));
    thingFiles[name] = { certificateFile: p.certificateFile, privateKeyFile: p.privateKeyFile };
  }
  return { ca, caFile, server, service: { certificateFile: service.certificateFile, privateKeyFile: service.privateKeyFile }, things: thingFiles };
}
