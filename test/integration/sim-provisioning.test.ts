/**
 * Fleet provisioning against the sim on its embedded broker, driven the way an operator and a
 * device do it: @aws-sdk/client-iot on the control plane (templates, claim, certificates, principals)
 * and real MQTT clients over mTLS on the provisioning topics, JSON and CBOR. Covers the
 * one-connection delivery rule, ownership-token expiry on the sim's clock, certificate states at
 * connect, and a provisioned thing reaching a CONTINUOUS group job at once.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { webcrypto } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { decodeFirstSync as decode, encode } from 'cbor';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import {
  CreateJobCommand,
  CreateKeysAndCertificateCommand,
  CreateProvisioningClaimCommand,
  CreateProvisioningTemplateCommand,
  CreateProvisioningTemplateVersionCommand,
  DeleteProvisioningTemplateCommand,
  DeleteProvisioningTemplateVersionCommand,
  DescribeProvisioningTemplateCommand,
  DescribeProvisioningTemplateVersionCommand,
  ListProvisioningTemplatesCommand,
  ListProvisioningTemplateVersionsCommand,
  CreateThingGroupCommand,
  DeleteCertificateCommand,
  DescribeCertificateCommand,
  DescribeThingCommand,
  DetachThingPrincipalCommand,
  IoTClient,
  ListCertificatesCommand,
  ListJobExecutionsForThingCommand,
  ListThingPrincipalsCommand,
  UpdateCertificateCommand,
  UpdateProvisioningTemplateCommand,
} from '@aws-sdk/client-iot';
import { issueCert } from '../../src/lib/pki';
import { startJobsService } from '../../src/sim/start';
import type { JobsServiceHandle } from '../../src/sim/start';
import { sdkError } from '../support/sdk';

let dir: string;
let sim: JobsServiceHandle;
let iot: IoTClient;
let caPem: string;
let claim: { certPem: string; keyPem: string; id: string };
const clients: MqttClient[] = [];

const TEMPLATE = {
  Parameters: { SerialNumber: { Type: 'String' }, Site: { Type: 'String', Default: 'berlin' } },
  Mappings: { Sites: { berlin: { Url: 'https://ber.example' }, paris: { Url: 'https://par.example' } } },
  Resources: {
    thing: {
      Type: 'AWS::IoT::Thing',
      Properties: { ThingName: { 'Fn::Join': ['', ['gw-', { Ref: 'SerialNumber' }]] }, AttributePayload: { site: { Ref: 'Site' } }, ThingGroups: ['fleet'] },
      OverrideSettings: { AttributePayload: 'MERGE', ThingGroups: 'MERGE' },
    },
    certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'Active' } },
    policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'GatewayPolicy' } },
  },
  DeviceConfiguration: { LocationUrl: { 'Fn::FindInMap': ['Sites', { Ref: 'Site' }, 'Url'] }, Serial: { 'Fn::Sub': 'sn-${SerialNumber}' } },
};

async function createTemplate(templateName: string, body: unknown, extra: Record<string, unknown> = {}): Promise<void> {
  await iot.send(
    new CreateProvisioningTemplateCommand({ templateName, templateBody: JSON.stringify(body), provisioningRoleArn: 'arn:aws:iam::123456789012:role/Provisioning', enabled: true, ...extra }),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ija-prov-'));
  sim = await startJobsService({ stateDir: join(dir, 'sim'), things: ['t0'] });
  iot = new IoTClient({ endpoint: sim.endpoints.controlPlane, region: 'us-east-1', credentials: { accessKeyId: 'AKIDSIM', secretAccessKey: 'sim' }, maxAttempts: 1 });
  caPem = await readFile(sim.endpoints.caFile, 'utf8');
  // The fleet's claim certificate: made by the operator, ACTIVE, attached to no thing.
  const c = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  claim = { certPem: c.certificatePem!, keyPem: c.keyPair!.PrivateKey!, id: c.certificateId! };
  await iot.send(new CreateThingGroupCommand({ thingGroupName: 'fleet' }));
  await createTemplate('GatewayTemplate', TEMPLATE);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  iot.destroy();
  await sim.close();
  await rm(dir, { recursive: true, force: true });
});

async function device(certPem: string, keyPem: string, clientId: string): Promise<MqttClient> {
  const url = new URL(sim.endpoints.mqtt);
  const c = await connectAsync({ host: url.hostname, port: Number(url.port), protocol: 'mqtts', cert: certPem, key: keyPem, ca: caPem, clientId, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, rejectUnauthorized: true });
  clients.push(c);
  return c;
}

/** Subscribe to a request's answers, publish it, resolve with the first answer. */
async function ask(c: MqttClient, topic: string, payload: Buffer | string): Promise<{ topic: string; body: any }> {
  await c.subscribeAsync([`${topic}/accepted`, `${topic}/rejected`], { qos: 1 });
  const answer = new Promise<[string, Buffer]>((resolve) => c.once('message', (t: string, p: Buffer) => resolve([t, p])));
  await c.publishAsync(topic, payload, { qos: 1 });
  const [t, p] = await answer;
  return { topic: t, body: topic.endsWith('/cbor') ? decode(p) : JSON.parse(p.toString()) };
}

async function csrPem(cn = 'device'): Promise<{ csr: string; keyPem: string }> {
  const crypto = webcrypto as unknown as NonNullable<Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[1]>;
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${cn}`, keys, signingAlgorithm: alg }, crypto);
  return { csr: csr.toString('pem'), keyPem: x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY') };
}

async function refusedAtConnect(certPem: string, keyPem: string, clientId: string): Promise<string> {
  try {
    await device(certPem, keyPem, clientId);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${clientId} connected`);
}

async function enrol(serial: string): Promise<{ certificateId: string; certPem: string; keyPem: string; thingName: string; deviceConfiguration: Record<string, string> }> {
  const c = await device(claim.certPem, claim.keyPem, `prov-${serial}`);
  const { csr, keyPem } = await csrPem();
  const made = await ask(c, '$aws/certificates/create-from-csr/json', JSON.stringify({ certificateSigningRequest: csr }));
  expect(made.topic).toBe('$aws/certificates/create-from-csr/json/accepted');
  const reg = await ask(c, '$aws/provisioning-templates/GatewayTemplate/provision/json', JSON.stringify({ certificateOwnershipToken: made.body.certificateOwnershipToken, parameters: { SerialNumber: serial } }));
  expect(reg.topic).toBe('$aws/provisioning-templates/GatewayTemplate/provision/json/accepted');
  await c.endAsync();
  return { certificateId: made.body.certificateId, certPem: made.body.certificatePem, keyPem, ...reg.body };
}

describe('fleet provisioning by claim (embedded broker)', () => {
  it('enrols a device by CSR: thing, attributes, certificate ACTIVE and attached, device configuration', async () => {
    const e = await enrol('SN1');
    expect(e.thingName).toBe('gw-SN1');
    expect(e.deviceConfiguration).toEqual({ LocationUrl: 'https://ber.example', Serial: 'sn-SN1' });
    const thing = await iot.send(new DescribeThingCommand({ thingName: 'gw-SN1' }));
    expect(thing.attributes).toEqual({ site: 'berlin' });
    const principals = await iot.send(new ListThingPrincipalsCommand({ thingName: 'gw-SN1' }));
    expect(principals.principals).toEqual([expect.stringMatching(new RegExp(`:cert/${e.certificateId}$`))]);
    const cert = await iot.send(new DescribeCertificateCommand({ certificateId: e.certificateId }));
    expect(cert.certificateDescription?.status).toBe('ACTIVE');
    // The new identity connects and works as the thing.
    const d = await device(e.certPem, e.keyPem, 'gw-SN1');
    const got = await ask(d, '$aws/things/gw-SN1/jobs/get', '{}');
    expect(got.topic).toBe('$aws/things/gw-SN1/jobs/get/accepted');
  });

  it('a CONTINUOUS job on the template group reaches a device the moment it enrols', async () => {
    await iot.send(new CreateJobCommand({ jobId: 'fleet-job', targets: ['arn:aws:iot:us-east-1:123456789012:thinggroup/fleet'], targetSelection: 'CONTINUOUS', document: '{"operation":"hello"}' }));
    await enrol('SN2');
    const execs = await iot.send(new ListJobExecutionsForThingCommand({ thingName: 'gw-SN2' }));
    expect(execs.executionSummaries?.map((x) => [x.jobId, x.jobExecutionSummary?.status])).toEqual([['fleet-job', 'QUEUED']]);
  });

  it('answers only the requesting connection, though many share the claim certificate', async () => {
    const a = await device(claim.certPem, claim.keyPem, 'prov-a');
    const b = await device(claim.certPem, claim.keyPem, 'prov-b');
    const topic = '$aws/certificates/create/json';
    await b.subscribeAsync([`${topic}/accepted`, `${topic}/rejected`], { qos: 1 });
    const forA = await ask(a, topic, '{}');
    expect(forA.topic).toBe(`${topic}/accepted`);
    // b is subscribed to the same answer topic; the first answer it sees must be its own.
    const forB = await ask(b, topic, '');
    expect(forB.topic).toBe(`${topic}/accepted`);
    expect(forB.body.certificateId).not.toBe(forA.body.certificateId);
    const bCert = await iot.send(new DescribeCertificateCommand({ certificateId: forB.body.certificateId }));
    expect(bCert.certificateDescription?.status).toBe('PENDING_ACTIVATION');
  });

  it('speaks CBOR on the …/cbor topics, an empty CreateKeysAndCertificate payload included', async () => {
    const c = await device(claim.certPem, claim.keyPem, 'prov-cbor');
    const made = await ask(c, '$aws/certificates/create/cbor', Buffer.alloc(0));
    expect(made.topic).toBe('$aws/certificates/create/cbor/accepted');
    expect(Object.keys(made.body).sort()).toEqual(['certificateId', 'certificateOwnershipToken', 'certificatePem', 'privateKey']);
    const reg = await ask(c, '$aws/provisioning-templates/GatewayTemplate/provision/cbor', encode({ certificateOwnershipToken: made.body.certificateOwnershipToken, parameters: { SerialNumber: 'C1', Site: 'paris' } }));
    expect(reg.body).toEqual({ deviceConfiguration: { LocationUrl: 'https://par.example', Serial: 'sn-C1' }, thingName: 'gw-C1' });
    const bad = await ask(c, '$aws/provisioning-templates/GatewayTemplate/provision/cbor', encode({ certificateOwnershipToken: '' }));
    expect(bad.body).toEqual({ statusCode: 400, errorCode: 'InvalidCertificateOwnershipToken', errorMessage: 'Certificate ownership token cannot be empty.' });
  });

  it('refuses in AWS error shape: unknown template 404, disabled 403, missing parameter 400, bad payload 400', async () => {
    const c = await device(claim.certPem, claim.keyPem, 'prov-errors');
    const made = await ask(c, '$aws/certificates/create/json', '{}');
    const token = made.body.certificateOwnershipToken;
    const register = (tpl: string, body: unknown): Promise<{ topic: string; body: any }> => ask(c, `$aws/provisioning-templates/${tpl}/provision/json`, JSON.stringify(body));
    const missing = await register('NoSuchTemplate', { certificateOwnershipToken: token });
    expect(missing.topic).toMatch(/\/rejected$/);
    expect(missing.body).toMatchObject({ statusCode: 404, errorCode: 'ResourceNotFound' });
    await createTemplate('Disabled', TEMPLATE, { enabled: false });
    expect((await register('Disabled', { certificateOwnershipToken: token })).body).toMatchObject({ statusCode: 403, errorCode: 'TemplateDisabled' });
    const noSerial = await register('GatewayTemplate', { certificateOwnershipToken: token });
    expect(noSerial.body).toMatchObject({ statusCode: 400, errorMessage: expect.stringContaining('SerialNumber') });
    const junk = await ask(c, '$aws/certificates/create-from-csr/json', 'not json');
    expect(junk.body).toMatchObject({ statusCode: 400, errorCode: 'InvalidPayload' });
    const notCsr = await ask(c, '$aws/certificates/create-from-csr/json', JSON.stringify({ certificateSigningRequest: 'nope' }));
    expect(notCsr.body).toMatchObject({ statusCode: 400, errorCode: 'InvalidCertificateSigningRequest' });
    // Enabling the template is enough to go through with the same token.
    await iot.send(new UpdateProvisioningTemplateCommand({ templateName: 'Disabled', enabled: true }));
    expect((await register('Disabled', { certificateOwnershipToken: token, parameters: { SerialNumber: 'E1' } })).body.thingName).toBe('gw-E1');
  });

  it('an ownership token lives 1 hour on the sim clock; the unregistered certificate is then deleted', async () => {
    const c = await device(claim.certPem, claim.keyPem, 'prov-expiry');
    const made = await ask(c, '$aws/certificates/create/json', '{}');
    const id = made.body.certificateId as string;
    const advance = (ms: number): Promise<Response> => fetch(`${sim.endpoints.controlPlane}/sim/clock`, { method: 'POST', body: JSON.stringify({ advanceMs: ms }) });
    await advance(59 * 60_000);
    expect((await iot.send(new DescribeCertificateCommand({ certificateId: id }))).certificateDescription?.status).toBe('PENDING_ACTIVATION');
    await advance(60_001);
    expect((await sdkError(iot.send(new DescribeCertificateCommand({ certificateId: id })))).name).toBe('ResourceNotFoundException');
    const late = await ask(c, '$aws/provisioning-templates/GatewayTemplate/provision/json', JSON.stringify({ certificateOwnershipToken: made.body.certificateOwnershipToken, parameters: { SerialNumber: 'LATE' } }));
    expect(late.body).toMatchObject({ statusCode: 400, errorCode: 'InvalidCertificateOwnershipToken' });
    // A registered certificate outlives its token.
    const e = await enrol('SN3');
    await advance(2 * 3_600_000);
    expect((await iot.send(new DescribeCertificateCommand({ certificateId: e.certificateId }))).certificateDescription?.status).toBe('ACTIVE');
  });
});

describe('certificate states at connect', () => {
  it('refuses a certificate the registry does not know, though the sim CA signed it', async () => {
    const ca = { certPem: caPem, keyPem: await readFile(join(dir, 'sim', 'ca', 'ca.private.key'), 'utf8') };
    const stranger = await issueCert(ca, { commonName: 't0' });
    expect(await refusedAtConnect(stranger.certPem, stranger.keyPem, 'stranger')).toMatch(/Not authorized/i);
  });

  it('INACTIVE drops the live connection and refuses new ones; ACTIVE again connects; REVOKED is final', async () => {
    const e = await enrol('SN4');
    const live = await device(e.certPem, e.keyPem, 'gw-SN4');
    const closed = new Promise<void>((resolve) => live.once('close', () => resolve()));
    await iot.send(new UpdateCertificateCommand({ certificateId: e.certificateId, newStatus: 'INACTIVE' }));
    await closed;
    expect(await refusedAtConnect(e.certPem, e.keyPem, 'gw-SN4-again')).toMatch(/Not authorized/i);
    await iot.send(new UpdateCertificateCommand({ certificateId: e.certificateId, newStatus: 'ACTIVE' }));
    await (await device(e.certPem, e.keyPem, 'gw-SN4-back')).endAsync();
    await iot.send(new UpdateCertificateCommand({ certificateId: e.certificateId, newStatus: 'REVOKED' }));
    expect(await refusedAtConnect(e.certPem, e.keyPem, 'gw-SN4-revoked')).toMatch(/Not authorized/i);
    const back = await sdkError(iot.send(new UpdateCertificateCommand({ certificateId: e.certificateId, newStatus: 'ACTIVE' })));
    expect(back).toMatchObject({ name: 'CertificateStateException', status: 406 });
  });

  it('DeleteCertificate follows AWS: not ACTIVE, not attached; DetachThingPrincipal first', async () => {
    const e = await enrol('SN5');
    expect((await sdkError(iot.send(new DeleteCertificateCommand({ certificateId: e.certificateId })))).name).toBe('CertificateStateException');
    await iot.send(new UpdateCertificateCommand({ certificateId: e.certificateId, newStatus: 'INACTIVE' }));
    expect((await sdkError(iot.send(new DeleteCertificateCommand({ certificateId: e.certificateId })))).name).toBe('DeleteConflictException');
    const arn = `arn:aws:iot:us-east-1:123456789012:cert/${e.certificateId}`;
    await iot.send(new DetachThingPrincipalCommand({ thingName: 'gw-SN5', principal: arn }));
    expect((await iot.send(new ListThingPrincipalsCommand({ thingName: 'gw-SN5' }))).principals).toEqual([]);
    // The template's policy is still attached: forceDelete removes the certificate anyway.
    expect((await sdkError(iot.send(new DeleteCertificateCommand({ certificateId: e.certificateId })))).name).toBe('DeleteConflictException');
    await iot.send(new DeleteCertificateCommand({ certificateId: e.certificateId, forceDelete: true }));
    expect((await sdkError(iot.send(new DescribeCertificateCommand({ certificateId: e.certificateId })))).name).toBe('ResourceNotFoundException');
  });

  it('a trusted-user claim (CreateProvisioningClaim) connects for 5 minutes, only for its template, and is never listed', async () => {
    const tmp = await iot.send(new CreateProvisioningClaimCommand({ templateName: 'GatewayTemplate' }));
    expect(tmp.expiration!.getTime() - Date.parse(((await (await fetch(`${sim.endpoints.controlPlane}/sim/clock`)).json()) as { now: string }).now)).toBeLessThanOrEqual(5 * 60_000);
    const listed = await iot.send(new ListCertificatesCommand({ pageSize: 250 }));
    expect(listed.certificates?.map((x) => x.certificateId)).not.toContain(tmp.certificateId);
    const c = await device(tmp.certificatePem!, tmp.keyPair!.PrivateKey!, 'trusted-user-device');
    const made = await ask(c, '$aws/certificates/create/json', '{}');
    const other = await ask(c, '$aws/provisioning-templates/Disabled/provision/json', JSON.stringify({ certificateOwnershipToken: made.body.certificateOwnershipToken, parameters: { SerialNumber: 'TU' } }));
    expect(other.body).toMatchObject({ statusCode: 403, errorCode: 'AccessDenied' });
    await c.endAsync();
    await fetch(`${sim.endpoints.controlPlane}/sim/clock`, { method: 'POST', body: JSON.stringify({ advanceMs: 5 * 60_000 }) });
    expect(await refusedAtConnect(tmp.certificatePem!, tmp.keyPair!.PrivateKey!, 'trusted-user-late')).toMatch(/Not authorized/i);
  });
});

describe('pre-provisioning hook', () => {
  it('calls a local URL with AWS Lambda payload; its overrides win; a denial is 403', async () => {
    const seen: any[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const p = JSON.parse(body);
        seen.push(p);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(p.parameters.SerialNumber === 'DENY' ? { allowProvisioning: false } : { allowProvisioning: true, parameterOverrides: { Site: 'paris' } }));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      await createTemplate('Hooked', TEMPLATE, { preProvisioningHook: { targetArn: url, payloadVersion: '2020-04-01' } });
      const c = await device(claim.certPem, claim.keyPem, 'prov-hook');
      const made = await ask(c, '$aws/certificates/create/json', '{}');
      const ok = await ask(c, '$aws/provisioning-templates/Hooked/provision/json', JSON.stringify({ certificateOwnershipToken: made.body.certificateOwnershipToken, parameters: { SerialNumber: 'H1' } }));
      expect(ok.body.deviceConfiguration.LocationUrl).toBe('https://par.example');
      expect(seen[0]).toMatchObject({ claimCertificateId: claim.id, certificateId: made.body.certificateId, clientId: 'prov-hook', parameters: { SerialNumber: 'H1' }, templateArn: expect.stringMatching(/:provisioningtemplate\/Hooked$/) });
      const made2 = await ask(c, '$aws/certificates/create/json', '{}');
      const denied = await ask(c, '$aws/provisioning-templates/Hooked/provision/json', JSON.stringify({ certificateOwnershipToken: made2.body.certificateOwnershipToken, parameters: { SerialNumber: 'DENY' } }));
      expect(denied.body).toMatchObject({ statusCode: 403, errorCode: 'AccessDenied' });
    } finally {
      server.close();
    }
  });
});

describe('provisioning templates on the control plane', () => {
  it('create, describe, list, update, versions and delete, with AWS error names', async () => {
    const body = (sn: string): string => JSON.stringify({ ...TEMPLATE, DeviceConfiguration: { v: sn } });
    const made = await iot.send(new CreateProvisioningTemplateCommand({ templateName: 'Crud', templateBody: body('1'), provisioningRoleArn: 'arn:aws:iam::123456789012:role/Provisioning', description: 'first' }));
    expect(made).toMatchObject({ templateName: 'Crud', defaultVersionId: 1, templateArn: 'arn:aws:iot:us-east-1:123456789012:provisioningtemplate/Crud' });
    const dup = await sdkError(iot.send(new CreateProvisioningTemplateCommand({ templateName: 'Crud', templateBody: body('1'), provisioningRoleArn: 'arn:aws:iam::123456789012:role/Provisioning' })));
    expect(dup).toMatchObject({ name: 'ResourceAlreadyExistsException', status: 409, message: 'Template with name Crud already exists' });
    const d = await iot.send(new DescribeProvisioningTemplateCommand({ templateName: 'Crud' }));
    // enabled was not given: the sim's reading of AWS's undocumented default is false.
    expect(d).toMatchObject({ templateName: 'Crud', description: 'first', enabled: false, defaultVersionId: 1, type: 'FLEET_PROVISIONING', templateBody: body('1') });
    expect(d.creationDate).toBeInstanceOf(Date);
    const listed = await iot.send(new ListProvisioningTemplatesCommand({}));
    expect(listed.templates?.map((t) => t.templateName)).toContain('Crud');
    await iot.send(new UpdateProvisioningTemplateCommand({ templateName: 'Crud', description: 'second', enabled: true }));
    const v2 = await iot.send(new CreateProvisioningTemplateVersionCommand({ templateName: 'Crud', templateBody: body('2'), setAsDefault: true }));
    expect(v2).toMatchObject({ versionId: 2, isDefaultVersion: true });
    await iot.send(new CreateProvisioningTemplateVersionCommand({ templateName: 'Crud', templateBody: body('3') }));
    expect((await iot.send(new DescribeProvisioningTemplateCommand({ templateName: 'Crud' }))).templateBody).toBe(body('2'));
    const versions = await iot.send(new ListProvisioningTemplateVersionsCommand({ templateName: 'Crud' }));
    expect(versions.versions?.map((v) => [v.versionId, v.isDefaultVersion])).toEqual([[1, false], [2, true], [3, false]]);
    expect((await iot.send(new DescribeProvisioningTemplateVersionCommand({ templateName: 'Crud', versionId: 3 }))).templateBody).toBe(body('3'));
    expect(await sdkError(iot.send(new DeleteProvisioningTemplateVersionCommand({ templateName: 'Crud', versionId: 2 })))).toMatchObject({ name: 'DeleteConflictException', status: 409 });
    await iot.send(new DeleteProvisioningTemplateVersionCommand({ templateName: 'Crud', versionId: 1 }));
    await iot.send(new CreateProvisioningTemplateVersionCommand({ templateName: 'Crud', templateBody: body('4') }));
    await iot.send(new CreateProvisioningTemplateVersionCommand({ templateName: 'Crud', templateBody: body('5') }));
    await iot.send(new CreateProvisioningTemplateVersionCommand({ templateName: 'Crud', templateBody: body('6') }));
    expect(await sdkError(iot.send(new CreateProvisioningTemplateVersionCommand({ templateName: 'Crud', templateBody: body('7') })))).toMatchObject({ name: 'VersionsLimitExceededException', status: 409 });
    const bad = await sdkError(iot.send(new CreateProvisioningTemplateVersionCommand({ templateName: 'Crud', templateBody: JSON.stringify({ Conditions: {} }) })));
    expect(bad).toMatchObject({ name: 'InvalidRequestException', status: 400, message: expect.stringContaining('"Conditions" is not supported') });
    await iot.send(new DeleteProvisioningTemplateCommand({ templateName: 'Crud' }));
    expect(await sdkError(iot.send(new DescribeProvisioningTemplateCommand({ templateName: 'Crud' })))).toMatchObject({ name: 'ResourceNotFoundException', status: 404 });
  });
});
