/**
 * Certificate states at a stock broker's door: the sim joined to a real mosquitto keeps a CRL of
 * every certificate its CA issued that may not connect, sends the broker SIGHUP (mosquitto rereads
 * `crlfile` then, not per connection) and answers the operator only once the broker refuses what the
 * list names. Driven through @aws-sdk/client-iot; devices are real MQTT clients over mTLS.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { AttachThingPrincipalCommand, CreateKeysAndCertificateCommand, DeleteCertificateCommand, IoTClient, UpdateCertificateCommand } from '@aws-sdk/client-iot';
import { createCrl } from '../../src/lib/pki';
import { AgentProcess } from '../support/agent-proc';
import { startMosquitto } from '../support/mosquitto';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';

let stack: Stack;
const clients: MqttClient[] = [];

beforeAll(async () => {
  stack = await startStack({ things: ['thing1', 'thing2'], crl: true, takeover: true });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  await stack.close();
});

interface Made {
  id: string;
  certPem: string;
  keyPem: string;
}

async function made(active: boolean): Promise<Made> {
  const c = await stack.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: active }));
  return { id: c.certificateId!, certPem: c.certificatePem!, keyPem: c.keyPair!.PrivateKey! };
}

async function connect(cert: string | Buffer, key: string | Buffer, clientId: string): Promise<MqttClient> {
  const c = await connectAsync(
    stack.broker.url,
    { ca: await readFile(stack.pki.caFile), cert, key, clientId, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, rejectUnauthorized: true },
    false,
  );
  clients.push(c);
  return c;
}

/** Connects and disconnects, or returns the error that refused it. */
async function tryConnect(m: Made, clientId: string): Promise<'connected' | string> {
  try {
    await (await connect(m.certPem, m.keyPem, clientId)).endAsync();
    return 'connected';
  } catch (err) {
    return (err as Error).message;
  }
}

const setStatus = (m: Made, newStatus: 'ACTIVE' | 'INACTIVE' | 'REVOKED') => stack.iot.send(new UpdateCertificateCommand({ certificateId: m.id, newStatus }));

async function listedSerials(): Promise<string[]> {
  const crl = new x509.X509Crl(await readFile(stack.sim.endpoints.crlFile, 'utf8'));
  return crl.entries.map((e) => e.serialNumber);
}

const serialOf = (m: Made): string => new x509.X509Certificate(m.certPem).serialNumber;

describe('certificate states on mosquitto (CRL + SIGHUP)', () => {
  it('UpdateCertificate INACTIVE and REVOKED: the mTLS connect is refused; ACTIVE again connects; REVOKED is final', async () => {
    const m = await made(true);
    expect(await tryConnect(m, 'crl-a1')).toBe('connected');
    await setStatus(m, 'INACTIVE');
    expect(await tryConnect(m, 'crl-a2')).toMatch(/certificate revoked/);
    await setStatus(m, 'ACTIVE');
    expect(await tryConnect(m, 'crl-a3')).toBe('connected');
    await setStatus(m, 'REVOKED');
    expect(await tryConnect(m, 'crl-a4')).toMatch(/certificate revoked/);
    expect(await listedSerials()).toContain(serialOf(m));
  });

  it('a certificate created INACTIVE is refused until activated; once deleted it stays refused and listed', async () => {
    const m = await made(false);
    expect(await tryConnect(m, 'crl-b1')).toMatch(/certificate revoked/);
    await setStatus(m, 'ACTIVE');
    expect(await tryConnect(m, 'crl-b2')).toBe('connected');
    expect(await listedSerials()).not.toContain(serialOf(m));
    await setStatus(m, 'INACTIVE');
    await stack.iot.send(new DeleteCertificateCommand({ certificateId: m.id }));
    expect(await tryConnect(m, 'crl-b3')).toMatch(/certificate revoked/);
    expect(await listedSerials()).toContain(serialOf(m));
  });

  it("INACTIVE drops the live connection of the thing's certificate (client id taken over), and no other", async () => {
    const m = await made(true);
    await stack.iot.send(new AttachThingPrincipalCommand({ thingName: 'thing1', principal: `arn:aws:iot:us-east-1:123456789012:cert/${m.id}` }));
    const live = await connect(m.certPem, m.keyPem, 'thing1');
    const dropped = new Promise<void>((resolve) => live.once('close', () => resolve()));
    const f = stack.pki.things['thing2']!;
    const other = await connect(await readFile(f.certificateFile), await readFile(f.privateKeyFile), 'thing2');
    let otherClosed = false;
    other.once('close', () => {
      otherClosed = true;
    });
    await setStatus(m, 'INACTIVE');
    await dropped;
    expect(await tryConnect(m, 'thing1')).toMatch(/certificate revoked/);
    // The untouched device is still there: it can still round-trip a message through the broker.
    await other.subscribeAsync('$aws/things/thing2/crl-check', { qos: 1 });
    const echoed = new Promise<string>((resolve) => other.once('message', (_t, p: Buffer) => resolve(p.toString())));
    await other.publishAsync('$aws/things/thing2/crl-check', 'still here', { qos: 1 });
    expect(await echoed).toBe('still here');
    expect(otherClosed).toBe(false);
  });
});

describe('iot-jobs-agent sim --broker --broker-pid (CLI)', () => {
  it('keeps --crl-file for the broker it joins and reloads it on every change', async () => {
    const dir = join(stack.dir, 'cli');
    await mkdir(dir, { recursive: true });
    const crlFile = join(dir, 'crl.pem');
    const caKeyFile = join(stack.dir, 'ca.key');
    await writeFile(crlFile, await createCrl({ certPem: await readFile(stack.pki.caFile, 'utf8'), keyPem: await readFile(caKeyFile, 'utf8') }, []));
    const broker = await startMosquitto({ dir, pki: stack.pki, crlFile });
    const p = new AgentProcess([
      'sim', '--state-dir', join(dir, 'sim'), '--things', 'cli1', '--ca-cert', stack.pki.caFile, '--ca-key', caKeyFile,
      '--broker', broker.url, '--broker-cert', stack.pki.service.certificateFile, '--broker-key', stack.pki.service.privateKeyFile, '--broker-ca', stack.pki.caFile,
      '--crl-file', crlFile, '--broker-pid', String(broker.pid), '--control-port', '0', '--https-port', '0',
    ]);
    try {
      await p.waitForLog((l) => l.msg === 'jobs service ready', 30_000);
      const ep = JSON.parse(readFileSync(join(dir, 'sim', 'endpoints.json'), 'utf8')) as { controlPlane: string; crlFile: string };
      expect(ep.crlFile).toBe(crlFile);
      const iot = new IoTClient({ endpoint: ep.controlPlane, region: 'us-east-1', credentials: { accessKeyId: 'AKIDSIM', secretAccessKey: 'sim' } });
      const c = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      const m: Made = { id: c.certificateId!, certPem: c.certificatePem!, keyPem: c.keyPair!.PrivateKey! };
      const attempt = async (clientId: string): Promise<string> => {
        try {
          const cl = await connectAsync(broker.url, { ca: await readFile(stack.pki.caFile), cert: m.certPem, key: m.keyPem, clientId, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000 }, false);
          await cl.endAsync();
          return 'connected';
        } catch (err) {
          return (err as Error).message;
        }
      };
      expect(await attempt('cli-a')).toBe('connected');
      await iot.send(new UpdateCertificateCommand({ certificateId: m.id, newStatus: 'INACTIVE' }));
      expect(await attempt('cli-b')).toMatch(/certificate revoked/);
      iot.destroy();
    } finally {
      p.kill('SIGTERM');
      await p.exited;
      await broker.stop();
    }
  }, 60_000);

  it('refuses --broker-pid without --broker, naming the problem', async () => {
    const p = new AgentProcess(['sim', '--state-dir', join(stack.dir, 'never'), '--broker-pid', '4242']);
    expect((await p.exited).code).toBe(2);
    expect(p.raw.join('\n')).toMatch(/--broker-pid, --broker-reload and --broker-takeover need --broker/);
  });
});
