/**
 * Provisioning the AWS way through @aws-sdk/client-iot against the control plane (CreateThing,
 * CreateKeysAndCertificate, CreateCertificateFromCsr, AttachThingPrincipal), then using the issued
 * certificates on the data plane; and the sim-only faults admin route.
 */
import { createHash, webcrypto, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import {
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  IoTClient,
} from '@aws-sdk/client-iot';
import { HttpsJobsClient } from '../../src/jobs/https-client';
import { ThrottlingError } from '../../src/jobs/https-errors';
import { systemClock } from '../../src/lib/clock';
import { startControlPlane } from '../../src/sim/fronts/http-control-plane';
import { startDataPlane } from '../../src/sim/fronts/http-data-plane';
import type { RunningServer } from '../../src/sim/fronts/http-util';
import { ensureSimPki, type SimPki } from '../../src/sim/registry/pki-store';
import { IdentityService } from '../../src/sim/identity';
import { JobsService } from '../../src/sim/service';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' };

let dir: string;
let pki: SimPki;
let service: JobsService;
let identity: IdentityService;
let data: RunningServer;
let control: RunningServer;
let iot: IoTClient;
const clients: HttpsJobsClient[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sim-http-prov-'));
  pki = await ensureSimPki(dir, ['thing1']);
  service = new JobsService({ clock: systemClock, publish: () => undefined });
  service.createThing('thing1');
  identity = new IdentityService({ service, clock: systemClock, pki, publish: () => undefined });
  identity.registerThingCertificate(await readFile(pki.things.thing1!.certificateFile, 'utf8'), 'thing1');
  // A certificate speaks for the thing it is attached to, and only while ACTIVE.
  const thingOf = (cert: { raw: Buffer }): string | undefined => identity.identify(cert.raw)?.thing;
  data = await startDataPlane({
    service,
    host: '127.0.0.1',
    port: 0,
    tls: { caPem: pki.ca.certPem, certPem: pki.server.certPem, keyPem: pki.server.keyPem },
    thingOf,
  });
  control = await startControlPlane({ service, host: '127.0.0.1', port: 0, identity });
  iot = new IoTClient({ region: 'us-east-1', endpoint: `http://127.0.0.1:${control.port}`, credentials, maxAttempts: 1 });
});

afterAll(async () => {
  iot.destroy();
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([data.close(), control.close()]);
  await rm(dir, { recursive: true, force: true });
});

async function deviceClient(thing: string, certPem: string, keyPem: string): Promise<HttpsJobsClient> {
  const certificateFile = join(dir, `${thing}.cert.pem`);
  const privateKeyFile = join(dir, `${thing}.key.pem`);
  await writeFile(certificateFile, certPem);
  await writeFile(privateKeyFile, keyPem, { mode: 0o600 });
  const c = new HttpsJobsClient({
    endpoint: `https://127.0.0.1:${data.port}`,
    thingName: thing,
    tls: { certificateFile, privateKeyFile, rootCaFile: pki.caFile },
    retry: { attempts: 1, baseMs: 1, maxMs: 1 },
  });
  clients.push(c);
  return c;
}

describe('provisioning through @aws-sdk/client-iot', () => {
  it('CreateKeysAndCertificate + AttachThingPrincipal gives a working device identity', async () => {
    await iot.send(new CreateThingCommand({ thingName: 'dev-keys' }));
    const made = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    expect(made.certificateArn).toMatch(/:cert\/[0-9a-f]{64}$/);
    expect(made.certificateId).toBe(createHash('sha256').update(new X509Certificate(made.certificatePem!).raw).digest('hex'));
    expect(made.keyPair?.PrivateKey).toContain('PRIVATE KEY');
    await iot.send(new AttachThingPrincipalCommand({ thingName: 'dev-keys', principal: made.certificateArn }));

    expect(service.createJob({ jobId: 'p-1', targets: ['dev-keys'], document: '{"operation":"x"}' }).ok).toBe(true);
    const c = await deviceClient('dev-keys', made.certificatePem!, made.keyPair!.PrivateKey!);
    expect((await c.getPending()).queuedJobs.map((j) => j.jobId)).toEqual(['p-1']);
  });

  it('CreateCertificateFromCsr signs a key that never left the device', async () => {
    await iot.send(new CreateThingCommand({ thingName: 'dev-csr' }));
    const crypto = webcrypto as unknown as NonNullable<Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[1]>;
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=dev-csr', keys, signingAlgorithm: alg }, crypto);
    const made = await iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: csr.toString('pem'), setAsActive: true }));
    expect(new X509Certificate(made.certificatePem!).subject).toContain('CN=dev-csr');
    await iot.send(new AttachThingPrincipalCommand({ thingName: 'dev-csr', principal: made.certificateArn }));

    const keyPem = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
    const c = await deviceClient('dev-csr', made.certificatePem!, keyPem);
    expect((await c.getPending()).queuedJobs).toEqual([]);
  });

  it('refuses bad provisioning requests with restJson1 errors', async () => {
    const badCsr = await iot.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: 'not a csr' })).catch((e: unknown) => e);
    expect(badCsr).toMatchObject({ name: 'InvalidRequestException', $metadata: { httpStatusCode: 400 } });
    const noThing = await iot.send(new AttachThingPrincipalCommand({ thingName: 'ghost', principal: 'arn:aws:iot:us-east-1:1:cert/00' })).catch((e: unknown) => e);
    expect(noThing).toMatchObject({ name: 'ResourceNotFoundException' });
    const noHeader = await fetch(`http://127.0.0.1:${control.port}/things/thing1/principals`, { method: 'PUT' });
    expect(noHeader.status).toBe(400);
    expect(noHeader.headers.get('x-amzn-errortype')).toBe('InvalidRequestException');
  });
});

describe('faults admin route', () => {
  const url = (thing: string): string => `http://127.0.0.1:${control.port}/sim/faults/${encodeURIComponent(thing)}`;

  it('arms and disarms faults at run time', async () => {
    const put = await fetch(url('thing1'), { method: 'PUT', body: JSON.stringify({ throttle: 1 }) });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({ throttle: 1 });
    expect(service.faultsFor('thing1')).toEqual({ throttle: 1 });

    const everyone = await fetch(url('*'), { method: 'PUT', body: JSON.stringify({ responseDelayMs: 5 }) });
    expect(await everyone.json()).toEqual({ responseDelayMs: 5 });
    const merged = await fetch(url('thing1'));
    expect(await merged.json()).toEqual({ throttle: 1, responseDelayMs: 5 });

    const thingFiles = pki.things.thing1!;
    const device = new HttpsJobsClient({
      endpoint: `https://127.0.0.1:${data.port}`,
      thingName: 'thing1',
      tls: { ...thingFiles, rootCaFile: pki.caFile },
      retry: { attempts: 1, baseMs: 1, maxMs: 1 },
    });
    clients.push(device);
    await expect(device.getPending()).rejects.toBeInstanceOf(ThrottlingError);
    await fetch(url('thing1'), { method: 'PUT', body: '{}' });
    await fetch(url('*'), { method: 'PUT', body: '{}' });
    await expect(device.getPending()).resolves.toMatchObject({ queuedJobs: [] });
  });

  it('refuses malformed fault settings', async () => {
    for (const body of ['{"throttle":2}', '{"thottle":1}', '{"responseDelayMs":-1}', '{"duplicateNotifyNext":"yes"}', '[1]', '{']) {
      const r = await fetch(url('thing1'), { method: 'PUT', body });
      expect(r.status).toBe(400);
      expect(r.headers.get('x-amzn-errortype')).toBe('InvalidRequestException');
    }
    expect((await fetch(url('bad name!'), { method: 'PUT', body: '{}' })).status).toBe(400);
  });
});
