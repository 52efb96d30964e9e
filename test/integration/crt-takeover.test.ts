/**
 * The aws-crt transport tells a take-over and a policy denial apart as far as aws-crt lets it
 * (docs/PROTOCOL.md §11.3), with the classification the mqtt.js transport uses
 * (src/transport/close-reason.ts): against a real mosquitto, another client connecting with our
 * client id after each of our reconnects (mosquitto sends no DISCONNECT 0x8E, so both MQTT 3.1.1 and
 * 5 see a bare hang-up) is a likely take-over after three closes, with the slow back-off; an MQTT 5
 * publish the ACL refuses (PUBACK 0x87) is a denial naming the topic and iot:Publish.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as mqtt from 'mqtt';
import { LIKELY_TAKEOVER_CLOSES } from '../../src/transport/close-reason';
import type { TransportOptions } from '../../src/transport/types';
import { CrtProc } from '../support/crt-proc';
import { startMosquitto, type Mosquitto } from '../support/mosquitto';
import { makeTestPki, type TestPki } from '../support/pki';

jest.setTimeout(90_000);

const THING = 'thing1';
let dir: string;
let pki: TestPki;
let broker: Mosquitto;
const procs: CrtProc[] = [];
const clones: mqtt.MqttClient[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crt-takeover-'));
  pki = await makeTestPki(dir, [THING]);
  broker = await startMosquitto({ dir, pki });
});
afterEach(async () => {
  for (const p of procs.splice(0)) p.kill();
  await Promise.all(clones.splice(0).map((c) => c.endAsync(true)));
});
afterAll(async () => {
  await broker.stop();
  await rm(dir, { recursive: true, force: true });
});

function start(version: 4 | 5, clientId: string, over: Partial<TransportOptions> = {}): CrtProc {
  const files = pki.things[THING]!;
  const p = new CrtProc({
    transport: 'aws-crt',
    host: '127.0.0.1',
    port: broker.port,
    clientId,
    protocolVersion: version,
    alpn: false,
    keepAliveSeconds: 30,
    tls: { certificateFile: files.certificateFile, privateKeyFile: files.privateKeyFile, rootCaFile: pki.caFile },
    operationTimeoutMs: 5_000,
    connectTimeoutMs: 10_000,
    reconnect: { baseMs: 50, maxMs: 200 },
    ...over,
  });
  procs.push(p);
  return p;
}

/** Another client with the same identity connects: mosquitto closes our older connection. */
async function clone(clientId: string): Promise<void> {
  const files = pki.things[THING]!;
  const [cert, key, ca] = await Promise.all([readFile(files.certificateFile), readFile(files.privateKeyFile), readFile(pki.caFile)]);
  const c = await mqtt.connectAsync({ protocol: 'mqtts', host: '127.0.0.1', port: broker.port, clientId, reconnectPeriod: 0, cert, key, ca, rejectUnauthorized: true });
  c.on('error', () => undefined);
  clones.push(c);
}

const connects = (p: CrtProc): number => p.events.filter((e) => e.ev === 'connect').length;
const disconnects = (p: CrtProc): number => p.events.filter((e) => e.ev === 'disconnect').length;

describe.each([4, 5] as const)('aws-crt, MQTT %s', (version) => {
  it('a client taking our client id over after each reconnect is a likely take-over after three closes, then the slow back-off', async () => {
    const id = `crt-dup-${version}`;
    const p = start(version, id, { takeoverBackoffMs: 64_000 });
    expect(await p.run({ cmd: 'connect' })).toMatchObject({ ok: true });
    for (let i = 1; i <= LIKELY_TAKEOVER_CLOSES; i++) {
      await waitConnects(p, i);
      const lost = disconnects(p);
      await clone(id);
      await p.waitFor(() => disconnects(p) > lost, 30_000);
    }
    const takenAt = Date.now();
    const losses = p.events.filter((e) => e.ev === 'disconnect');
    expect(losses).toHaveLength(LIKELY_TAKEOVER_CLOSES);
    expect(losses.slice(0, -1).map((e) => e.kind)).toEqual(Array(LIKELY_TAKEOVER_CLOSES - 1).fill('connection-lost'));
    expect(losses.at(-1)).toMatchObject({ kind: 'taken-over', message: expect.stringMatching(new RegExp(`client id ${id} \\(likely\\): the broker closed 3 connections in a row`)) });
    // The slow back-off: the first wait after a take-over is 0.5–1 s of a 64 s ceiling, longer than
    // the ordinary back-off's 200 ms ceiling.
    await waitConnects(p, LIKELY_TAKEOVER_CLOSES + 1);
    expect(Date.now() - takenAt).toBeGreaterThan(250);
  });
});

it('aws-crt, MQTT 5: a publish the ACL refuses (PUBACK 0x87) is a denial naming the topic and iot:Publish; the connection stays', async () => {
  const p = start(5, 'crt-denied-5');
  expect(await p.run({ cmd: 'connect' })).toMatchObject({ ok: true });
  const r = await p.run({ cmd: 'publish', topic: '$aws/things/other/jobs/get', payload: '{}', qos: 1 });
  expect(r).toMatchObject({ ok: false, kind: 'publish-refused' });
  expect(await p.waitFor((e) => e.ev === 'denied')).toMatchObject({ operation: 'publish', topic: '$aws/things/other/jobs/get', policyAction: 'iot:Publish', resource: 'topic/$aws/things/other/jobs/get', likely: false });
  expect(await p.run({ cmd: 'publish', topic: `$aws/things/${THING}/jobs/get`, payload: '{}', qos: 1 })).toMatchObject({ ok: true });
  expect(p.events.filter((e) => e.ev === 'disconnect')).toEqual([]);
});

function waitConnects(p: CrtProc, n: number): Promise<unknown> {
  return p.waitFor(() => connects(p) >= n, 30_000);
}
