/**
 * AWS IoT's lifecycle events when the sim joins mosquitto (`sim --broker`), as a monitoring
 * subscriber on mosquitto sees them (docs/PROTOCOL.md §11.4). mosquitto publishes its log on
 * `$SYS/broker/log/…` (`log_dest topic`) and the sim turns it into `$aws/events/presence/…`:
 * `connected`, then `disconnected` with DUPLICATE_CLIENTID for the older of two connections with one
 * client id (on MQTT 3.1.1 and 5), CLIENT_INITIATED_DISCONNECT for a DISCONNECT, CONNECTION_LOST for a
 * socket that went away and MQTT_KEEP_ALIVE_TIMEOUT for a client that went silent. Real TLS clients
 * with the test PKI's thing certificates; the keep-alive one is a bare TLS socket that sends CONNECT
 * and nothing more.
 */
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import * as mqtt from 'mqtt';
import * as mqttPacket from 'mqtt-packet';
import { parseMosquittoLog } from '../../src/sim/fronts/presence-log';
import { startStack, type Stack } from '../support/stack';
import { watchPresence, type PresenceEvent, type PresenceWatch } from '../support/presence-watch';

jest.setTimeout(60_000);

let stack: Stack;
const clients: mqtt.MqttClient[] = [];

beforeAll(async () => {
  stack = await startStack({ things: ['t1'], logTopic: true });
});
afterAll(async () => {
  for (const c of clients) await c.endAsync(true);
  await stack.close();
});

function tlsOptions(files: { certificateFile: string; privateKeyFile: string }): { cert: Buffer; key: Buffer; ca: Buffer } {
  return { cert: readFileSync(files.certificateFile), key: readFileSync(files.privateKeyFile), ca: readFileSync(stack.pki.caFile) };
}

async function connect(clientId: string, protocolVersion: 4 | 5 = 4, files = stack.pki.things['t1']!): Promise<mqtt.MqttClient> {
  const c = await mqtt.connectAsync({ protocol: 'mqtts', host: '127.0.0.1', port: stack.broker.port, clientId, protocolVersion, reconnectPeriod: 0, rejectUnauthorized: true, ...tlsOptions(files) });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

/** A subscriber to every lifecycle event (the service's certificate: its ACL may read $aws/#). */
async function watch(): Promise<PresenceWatch> {
  return watchPresence(await connect('monitor', 4, stack.pki.service));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const connectedOf = (id: string, version: number) => (e: PresenceEvent): boolean => e.topic === `$aws/events/presence/connected/${id}` && e.body.versionNumber === version;
const disconnectedOf = (id: string, session: unknown) => (e: PresenceEvent): boolean => e.topic === `$aws/events/presence/disconnected/${id}` && e.body.sessionIdentifier === session;

describe('lifecycle events with an external broker (mosquitto log on $SYS)', () => {
  it.each([4, 5] as const)('MQTT %s: connected, then DUPLICATE_CLIENTID for the older connection when a second one uses the client id, then CLIENT_INITIATED_DISCONNECT', async (v) => {
    const w = await watch();
    const id = `dup-v${v}`;
    const before = Date.now();
    await connect(id, v);
    const first = await w.next(connectedOf(id, 0));
    expect(first.body).toEqual({
      clientId: id,
      timestamp: expect.any(Number),
      eventType: 'connected',
      sessionIdentifier: expect.stringMatching(UUID),
      // mosquitto logs the user name, which use_identity_as_username makes the certificate's CN.
      principalIdentifier: 't1',
      ipAddress: '127.0.0.1',
      versionNumber: 0,
    });
    expect(first.body.timestamp as number).toBeGreaterThanOrEqual(before - 1000);
    const second = await connect(id, v);
    const taken = await w.next(disconnectedOf(id, first.body.sessionIdentifier));
    expect(taken.body).toMatchObject({ clientId: id, eventType: 'disconnected', disconnectReason: 'DUPLICATE_CLIENTID', clientInitiatedDisconnect: false, versionNumber: 0 });
    const next = await w.next(connectedOf(id, 1));
    expect(next.body.sessionIdentifier).not.toBe(first.body.sessionIdentifier);
    await second.endAsync();
    const bye = await w.next(disconnectedOf(id, next.body.sessionIdentifier));
    expect(bye.body).toMatchObject({ disconnectReason: 'CLIENT_INITIATED_DISCONNECT', clientInitiatedDisconnect: true, versionNumber: 1 });
  });

  it('CONNECTION_LOST for a socket that went away, MQTT_KEEP_ALIVE_TIMEOUT for a client that went silent', async () => {
    const w = await watch();
    const lost = await connect('lost');
    const c = await w.next(connectedOf('lost', 0));
    lost.stream.destroy();
    expect((await w.next(disconnectedOf('lost', c.body.sessionIdentifier))).body).toMatchObject({ disconnectReason: 'CONNECTION_LOST', clientInitiatedDisconnect: false });

    // CONNECT with a 1 s keep-alive, then silence: mosquitto drops it after 1.5 keep-alives.
    const sock = tlsConnect({ host: '127.0.0.1', port: stack.broker.port, rejectUnauthorized: true, checkServerIdentity: () => undefined, ...tlsOptions(stack.pki.things['t1']!) });
    sock.on('error', () => undefined);
    sock.once('secureConnect', () => sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'silent', keepalive: 1 })));
    try {
      const s = await w.next(connectedOf('silent', 0));
      expect((await w.next(disconnectedOf('silent', s.body.sessionIdentifier))).body).toMatchObject({ disconnectReason: 'MQTT_KEEP_ALIVE_TIMEOUT' });
    } finally {
      sock.destroy();
    }
  });
});

describe('mosquitto log lines', () => {
  it('reads the lines of mosquitto 2.0, with either timestamp, and nothing else', () => {
    expect(parseMosquittoLog("1796587464: New client connected from 127.0.0.1:45750 as A (p2, c1, k60, u'thing1').")).toEqual({ kind: 'connected', clientId: 'A', ipAddress: '127.0.0.1', username: 'thing1' });
    expect(parseMosquittoLog('19:38:16: New client connected from ::1:45750 as a b (c) (p5, c0, k30).')).toEqual({ kind: 'connected', clientId: 'a b (c)', ipAddress: '::1' });
    expect(parseMosquittoLog('1796587464: Client A already connected, closing old connection.')).toEqual({ kind: 'disconnected', clientId: 'A', reason: 'DUPLICATE_CLIENTID' });
    expect(parseMosquittoLog('Client A disconnected.')).toEqual({ kind: 'disconnected', clientId: 'A', reason: 'CLIENT_INITIATED_DISCONNECT' });
    expect(parseMosquittoLog('1: Client A disconnected, not authorised.')).toEqual({ kind: 'disconnected', clientId: 'A', reason: 'AUTH_ERROR' });
    expect(parseMosquittoLog('1: Socket error on client A, disconnecting.')).toEqual({ kind: 'disconnected', clientId: 'A', reason: 'CONNECTION_LOST' });
    expect(parseMosquittoLog('1: New connection from 127.0.0.1:45750 on port 8883.')).toBeUndefined();
    expect(parseMosquittoLog('1: mosquitto version 2.0.11 running')).toBeUndefined();
  });
});
