/**
 * AWS's own fleet provisioning client, `IotIdentityClientv2` (aws-iot-device-sdk-v2, unchanged,
 * over MQTT 3.1.1), against the sim: on its embedded broker (answers only to the requester) and
 * through mosquitto (answers by subscription). The operator's side is @aws-sdk/client-iot. The SDK
 * runs in a child process (test/support/crt-identity.js).
 */
import { execFile } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import {
  CreateKeysAndCertificateCommand,
  CreateProvisioningTemplateCommand,
  CreateThingGroupCommand,
  DescribeCertificateCommand,
  IoTClient,
  ListThingsInThingGroupCommand,
} from '@aws-sdk/client-iot';
import { startJobsService } from '../../src/sim/start';
import type { JobsServiceHandle } from '../../src/sim/start';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';

const TEMPLATE = JSON.stringify({
  Parameters: { SerialNumber: { Type: 'String' } },
  Resources: {
    thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { 'Fn::Sub': 'sdk-${SerialNumber}' }, ThingGroups: ['sdk-fleet'] } },
    certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' } },
  },
  DeviceConfiguration: { Mode: 'sdk' },
});

interface Run {
  ok: boolean;
  error?: string;
  steps: Record<string, any>;
}

async function csrPem(): Promise<string> {
  const crypto = webcrypto as unknown as NonNullable<Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[1]>;
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  return (await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=sdk-device', keys, signingAlgorithm: alg }, crypto)).toString('pem');
}

/** The operator's side: a template, a group, and an ACTIVE claim certificate written to files. */
async function prepare(iot: IoTClient, dir: string): Promise<{ certificateFile: string; privateKeyFile: string }> {
  await iot.send(new CreateThingGroupCommand({ thingGroupName: 'sdk-fleet' }));
  await iot.send(new CreateProvisioningTemplateCommand({ templateName: 'SdkTemplate', templateBody: TEMPLATE, provisioningRoleArn: 'arn:aws:iam::123456789012:role/Provisioning', enabled: true }));
  const c = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  const certificateFile = join(dir, 'claim.cert.pem');
  const privateKeyFile = join(dir, 'claim.private.key');
  await writeFile(certificateFile, c.certificatePem!);
  await writeFile(privateKeyFile, c.keyPair!.PrivateKey!, { mode: 0o600 });
  return { certificateFile, privateKeyFile };
}

function runSdk(arg: Record<string, unknown>): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(__dirname, '..', 'support', 'crt-identity.js'), JSON.stringify(arg)], { timeout: 90_000 }, (_err, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (!line) return reject(new Error(`SDK process printed no result. stderr: ${stderr.slice(-2000)}`));
      resolve(JSON.parse(line) as Run);
    });
  });
}

async function expectEnrolled(r: Run, iot: IoTClient, serial: string): Promise<void> {
  expect(r.error).toBeUndefined();
  expect(r.ok).toBe(true);
  const s = r.steps;
  expect(s.keys).toMatchObject({ certificateId: expect.stringMatching(/^[0-9a-f]{64}$/), certificatePem: expect.stringContaining('BEGIN CERTIFICATE'), privateKey: expect.stringContaining('PRIVATE KEY') });
  expect(typeof s.keys.certificateOwnershipToken).toBe('string');
  expect(s.csr.certificateId).toMatch(/^[0-9a-f]{64}$/);
  expect(s.registered).toEqual({ thingName: `sdk-${serial}`, deviceConfiguration: { Mode: 'sdk' } });
  expect(s.badToken).toMatchObject({ statusCode: 400, errorCode: 'InvalidCertificateOwnershipToken' });
  expect(s.noTemplate).toMatchObject({ statusCode: 404, errorCode: 'ResourceNotFound' });
  const cert = await iot.send(new DescribeCertificateCommand({ certificateId: s.csr.certificateId }));
  expect(cert.certificateDescription?.status).toBe('ACTIVE');
  const members = await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'sdk-fleet' }));
  expect(members.things).toContain(`sdk-${serial}`);
}

describe('IotIdentityClientv2 against the embedded broker', () => {
  let dir: string;
  let sim: JobsServiceHandle;
  let iot: IoTClient;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ija-prov-sdk-'));
    sim = await startJobsService({ stateDir: join(dir, 'sim'), things: [] });
    iot = new IoTClient({ endpoint: sim.endpoints.controlPlane, region: 'us-east-1', credentials: { accessKeyId: 'AKIDSIM', secretAccessKey: 'sim' } });
  });
  afterAll(async () => {
    iot.destroy();
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates keys, signs a CSR, registers the thing, and reads rejections as V2ErrorResponse', async () => {
    const claim = await prepare(iot, dir);
    const port = Number(new URL(sim.endpoints.mqtt).port);
    const r = await runSdk({ host: 'localhost', port, caFile: sim.endpoints.caFile, ...claim, clientId: 'sdk-prov-1', templateName: 'SdkTemplate', serial: 'E1', csrPem: await csrPem() });
    await expectEnrolled(r, iot, 'E1');
  });
});

describe('IotIdentityClientv2 through mosquitto', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ things: [] });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('enrols the same way; endpoints.json says answers go by subscription', async () => {
    expect(stack.sim.endpoints.provisioningDelivery).toBe('by-subscription');
    const claim = await prepare(stack.iot, stack.dir);
    const r = await runSdk({ host: 'localhost', port: stack.broker.port, caFile: stack.pki.caFile, ...claim, clientId: 'sdk-prov-2', templateName: 'SdkTemplate', serial: 'M1', csrPem: await csrPem() });
    await expectEnrolled(r, stack.iot, 'M1');
  });
});
