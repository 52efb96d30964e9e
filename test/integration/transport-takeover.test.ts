/**
 * What the transport makes of the broker closing on it: MQTT 5 DISCONNECT 0x8E from a
 * listener that speaks just enough MQTT 5 (mosquitto 2.0.11 sends no DISCONNECT to the older client
 * at a take-over, see docs/PROTOCOL.md §11), and policy denials: MQTT 5 PUBACK 0x87 and the 3.1.1
 * publish mosquitto acknowledges and drops from a real mosquitto ACL, a SUBACK refusal from the
 * listener (mosquitto 2.0.11 grants a denied subscription and filters delivery).
 */
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import * as mqttPacket from 'mqtt-packet';
import { TransportError } from '../../src/transport/errors';
import { createTransport } from '../../src/transport/index';
import type { Denial, Transport, TransportOptions } from '../../src/transport/types';
import { startMosquitto, type Mosquitto } from '../support/mosquitto';
import { makeTestPki, type CertFiles, type TestPki } from '../support/pki';

// Things may read their own topics and publish only updates: no jobs/get (like the Device Client's sample policy).
const ACL = ['pattern read $aws/things/%u/#', 'pattern write $aws/things/%u/jobs/+/update', ''].join('\n');

let dir: string;
let pki: TestPki;
let broker: Mosquitto;
const open: Transport[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'takeover-it-'));
  pki = await makeTestPki(dir, ['thing1']);
  broker = await startMosquitto({ dir, pki, acl: ACL });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});
afterAll(async () => {
  await broker.stop();
  await rm(dir, { recursive: true, force: true });
});

function transport(files: CertFiles, over: Partial<TransportOptions>): Transport {
  const t = createTransport({
    host: '127.0.0.1',
    port: broker.port,
    clientId: 'thing1',
    protocolVersion: 4,
    alpn: false,
    keepAliveSeconds: 30,
    tls: { ...files, rootCaFile: pki.caFile },
    operationTimeoutMs: 3_000,
    connectTimeoutMs: 5_000,
    reconnect: { baseMs: 20, maxMs: 200 },
    ...over,
  });
  open.push(t);
  return t;
}

/**
 * An MQTT 5 listener: CONNACK to every CONNECT, SUBACK (0x87 for filters containing "denied"),
 * PINGRESP; `kick(n)` decides which connections get DISCONNECT 0x8E.
 */
async function mqtt5Broker(kick: (n: number) => boolean): Promise<{ port: number; connects: () => number; close(): Promise<void> }> {
  const [key, cert, ca] = await Promise.all([readFile(pki.server.privateKeyFile), readFile(pki.server.certificateFile), readFile(pki.caFile)]);
  const sockets = new Set<TLSSocket>();
  let n = 0;
  const opts = { protocolVersion: 5 as const };
  const srv = createTlsServer({ key, cert, ca, requestCert: true, rejectUnauthorized: true }, (s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    const parser = mqttPacket.parser(opts);
    parser.on('packet', (p: mqttPacket.Packet) => {
      if (p.cmd === 'connect') {
        n += 1;
        s.write(mqttPacket.generate({ cmd: 'connack', sessionPresent: false, reasonCode: 0 }, opts));
        if (kick(n)) {
          s.write(mqttPacket.generate({ cmd: 'disconnect', reasonCode: 0x8e }, opts));
          s.end();
        }
      } else if (p.cmd === 'subscribe') {
        s.write(mqttPacket.generate({ cmd: 'suback', messageId: p.messageId, granted: p.subscriptions.map((x) => (x.topic.includes('denied') ? 0x87 : 1)) }, opts));
      } else if (p.cmd === 'pingreq') s.write(mqttPacket.generate({ cmd: 'pingresp' }, opts));
    });
    s.on('data', (d: Buffer) => parser.parse(d));
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return {
    port: (srv.address() as AddressInfo).port,
    connects: () => n,
    close: async () => {
      sockets.forEach((s) => s.destroy());
      await new Promise((r) => srv.close(r));
    },
  };
}

describe('take-over', () => {
  it('MQTT 5 DISCONNECT 0x8E is a certain take-over; the reconnect waits on the take-over back-off, and a connection that outlives it settles', async () => {
    // The first connection is taken over right after its CONNACK; the second stays.
    const fake = await mqtt5Broker((n) => n === 1);
    try {
      const takeoverBackoffMs = 640;
      const t = transport(pki.things['thing1']!, { port: fake.port, protocolVersion: 5, takeoverBackoffMs });
      const lost = new Promise<TransportError>((resolve) => t.once('disconnect', resolve));
      const settled = new Promise<void>((resolve) => t.once('settled', resolve));
      await t.connect();
      const taken = await lost;
      expect(taken).toBeInstanceOf(TransportError);
      expect(taken.kind).toBe('taken-over');
      expect(taken.takeOver).toMatchObject({ certain: true, evidence: expect.stringMatching(/0x8E/) });
      // Equal jitter on the first step: between maxMs/128 and maxMs/64.
      expect(taken.takeOver!.retryInMs).toBeGreaterThanOrEqual(takeoverBackoffMs / 128);
      expect(taken.takeOver!.retryInMs).toBeLessThanOrEqual(takeoverBackoffMs / 64);
      await once(t, 'connect');
      await settled;
      expect(fake.connects()).toBe(2);
      expect(t.connected).toBe(true);
    } finally {
      await fake.close();
    }
  });
});

describe('policy denials (mosquitto ACL)', () => {
  it('MQTT 5: PUBACK 0x87 fails the publish as a denial naming the topic and iot:Publish', async () => {
    const t = transport(pki.things['thing1']!, { protocolVersion: 5 });
    const denied = new Promise<Denial>((resolve) => t.once('denied', resolve));
    await t.connect();
    const err = (await t.publish('$aws/things/thing1/jobs/get', '{}', 1).catch((e: unknown) => e)) as TransportError;
    expect(err.kind).toBe('publish-refused');
    expect(err.message).toMatch(/\$aws\/things\/thing1\/jobs\/get needs iot:Publish on topic\/\$aws\/things\/thing1\/jobs\/get/);
    expect(await denied).toMatchObject({ operation: 'publish', topic: '$aws/things/thing1/jobs/get', policyAction: 'iot:Publish', likely: false });
    // The connection stays: MQTT 5 refuses the packet, not the client.
    expect(t.connected).toBe(true);
    await t.publish('$aws/things/thing1/jobs/j1/update', '{}', 1);
  });

  it('a refused SUBSCRIBE (SUBACK 0x87) is a denial naming the refused filter and iot:Subscribe', async () => {
    const fake = await mqtt5Broker(() => false);
    try {
      const t = transport(pki.things['thing1']!, { port: fake.port, protocolVersion: 5 });
      const denied = new Promise<Denial>((resolve) => t.once('denied', resolve));
      await t.connect();
      const err = (await t.subscribe(['$aws/things/thing1/jobs/notify', '$aws/things/denied/jobs/notify'], 1).catch((e: unknown) => e)) as TransportError;
      expect(err.kind).toBe('subscribe-refused');
      expect(await denied).toMatchObject({ operation: 'subscribe', topic: '$aws/things/denied/jobs/notify', policyAction: 'iot:Subscribe', resource: 'topicfilter/$aws/things/denied/jobs/notify', likely: false });
    } finally {
      await fake.close();
    }
  });

  it('MQTT 3.1.1: mosquitto acknowledges a denied publish and drops it (MQTT-3.3.5-2 allows either), so nothing can be told', async () => {
    const t = transport(pki.things['thing1']!, { protocolVersion: 4, clientId: 'thing1-v4' });
    const denials: Denial[] = [];
    t.on('denied', (d: Denial) => denials.push(d));
    await t.connect();
    await t.publish('$aws/things/thing1/jobs/get', '{}', 1);
    expect(t.connected).toBe(true);
    expect(denials).toEqual([]);
  });
});
