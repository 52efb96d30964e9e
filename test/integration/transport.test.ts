/**
 * MqttTransport against a real mosquitto over mTLS with generated certificates. A few failure
 * modes mosquitto cannot produce (CONNACK "not authorized", a silent peer, ALPN) use a raw TLS
 * listener that speaks just enough MQTT.
 */
import { once } from 'node:events';
import { readFile, mkdtemp, mkdir, rm } from 'node:fs/promises';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { TimeoutError } from '../../src/lib/errors';
import { TransportError, type TransportErrorKind } from '../../src/transport/errors';
import { createTransport } from '../../src/transport/index';
import type { IncomingMessage, Transport, TransportOptions } from '../../src/transport/types';
import { startMosquitto, type Mosquitto } from '../support/mosquitto';
import { issueTestCert, makeTestPki, type CertFiles, type TestPki } from '../support/pki';

let dir: string;
let pki: TestPki;
let broker: Mosquitto;
const open: Transport[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'transport-it-'));
  pki = await makeTestPki(dir, ['thing1', 'thing2']);
  broker = await startMosquitto({ dir, pki });
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

afterAll(async () => {
  await broker.stop();
  await rm(dir, { recursive: true, force: true });
});

function options(files: CertFiles, over: Partial<TransportOptions> = {}): TransportOptions {
  return {
    host: '127.0.0.1',
    port: broker.port,
    clientId: `c-${Math.random().toString(16).slice(2)}`,
    protocolVersion: 4,
    alpn: false,
    keepAliveSeconds: 30,
    tls: { ...files, rootCaFile: pki.caFile },
    operationTimeoutMs: 3_000,
    connectTimeoutMs: 5_000,
    reconnect: { baseMs: 20, maxMs: 200 },
    ...over,
  };
}

function transport(files: CertFiles, over: Partial<TransportOptions> = {}): Transport {
  const t = createTransport(options(files, over));
  open.push(t);
  return t;
}

async function connected(files: CertFiles, over: Partial<TransportOptions> = {}): Promise<Transport> {
  const t = transport(files, over);
  await t.connect();
  return t;
}

/** Collects messages; `next(topic)` resolves with the first message on that topic. */
function inbox(t: Transport): { all: IncomingMessage[]; next(topic: string): Promise<IncomingMessage> } {
  const all: IncomingMessage[] = [];
  const waiters: { topic: string; resolve: (m: IncomingMessage) => void }[] = [];
  t.on('message', (m: IncomingMessage) => {
    all.push(m);
    for (const w of waiters.filter((x) => x.topic === m.topic)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(m);
    }
  });
  return {
    all,
    next: (topic) => {
      const seen = all.find((m) => m.topic === topic);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ topic, resolve }));
    },
  };
}

/** Like events.once, but an 'error' event (a failed reconnect attempt) does not reject it. */
function nextEvent<T>(t: Transport, name: 'connect' | 'disconnect'): Promise<T> {
  return new Promise((resolve) => t.once(name, resolve));
}

async function expectKind(p: Promise<unknown>, kind: TransportErrorKind): Promise<TransportError> {
  const err: unknown = await p.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TransportError);
  expect((err as TransportError).kind).toBe(kind);
  return err as TransportError;
}

describe.each([4, 5] as const)('round trip over mTLS, MQTT protocol %i', (protocolVersion) => {
  test('a thing asks on its jobs topic and the service answers', async () => {
    const service = await connected(pki.service, { protocolVersion });
    const thing = await connected(pki.things['thing1']!, { protocolVersion, clientId: 'thing1' });
    expect(thing.connected).toBe(true);
    const serviceIn = inbox(service);
    const thingIn = inbox(thing);
    await service.subscribe(['$aws/things/+/jobs/get']);
    await thing.subscribe(['$aws/things/thing1/jobs/get/accepted', '$aws/things/thing1/jobs/get/rejected']);

    await thing.publish('$aws/things/thing1/jobs/get', JSON.stringify({ clientToken: 't1' }));
    const request = await serviceIn.next('$aws/things/thing1/jobs/get');
    expect(JSON.parse(request.payload.toString())).toEqual({ clientToken: 't1' });

    await service.publish('$aws/things/thing1/jobs/get/accepted', Buffer.from('{"clientToken":"t1"}'), 0);
    const answer = await thingIn.next('$aws/things/thing1/jobs/get/accepted');
    expect(answer.payload).toBeInstanceOf(Buffer);
    expect(answer.payload.toString()).toBe('{"clientToken":"t1"}');
  });
});

describe('authorization by the broker ACL', () => {
  test("thing1 never receives thing2's messages, even through a wildcard", async () => {
    const service = await connected(pki.service);
    const thing1 = await connected(pki.things['thing1']!);
    const in1 = inbox(thing1);
    // mosquitto may refuse the subscription outright or accept it and filter delivery: either is fine.
    await thing1.subscribe(['$aws/things/thing2/jobs/notify']).catch((err: unknown) => {
      expect((err as TransportError).kind).toBe('subscribe-refused');
    });
    await thing1.subscribe(['$aws/things/thing1/jobs/notify']);
    await service.publish('$aws/things/thing2/jobs/notify', 'for thing2');
    // Same publisher, same subscriber: delivery is ordered, so thing2's message would arrive first.
    await service.publish('$aws/things/thing1/jobs/notify', 'for thing1');
    await in1.next('$aws/things/thing1/jobs/notify');
    expect(in1.all.map((m) => m.payload.toString())).toEqual(['for thing1']);
  });

  test("MQTT 5: a publish on thing2's topics is refused with the PUBACK reason", async () => {
    const thing1 = await connected(pki.things['thing1']!, { protocolVersion: 5 });
    const err = await expectKind(thing1.publish('$aws/things/thing2/jobs/get', 'spoofed', 1), 'publish-refused');
    expect(err.message).toMatch(/Not authorized/i);
    expect(thing1.connected).toBe(true);
  });

  test("thing1 cannot publish on thing2's topics", async () => {
    const service = await connected(pki.service);
    const thing1 = await connected(pki.things['thing1']!);
    const serviceIn = inbox(service);
    await service.subscribe(['$aws/things/+/jobs/get']);
    await thing1.publish('$aws/things/thing2/jobs/get', 'spoofed');
    await thing1.publish('$aws/things/thing1/jobs/get', 'own');
    await serviceIn.next('$aws/things/thing1/jobs/get');
    expect(serviceIn.all.map((m) => m.topic)).toEqual(['$aws/things/thing1/jobs/get']);
  });
});

describe('connection failures are classified', () => {
  test('client certificate from another CA → certificate-refused, within seconds', async () => {
    // Refused by the TLS handshake, not left to the connect timeout (a minute here).
    const started = Date.now();
    const err = await expectKind(transport(pki.otherCa.client, { connectTimeoutMs: 60_000 }).connect(), 'certificate-refused');
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(err.message).toMatch(/refused our client certificate/);
    expect(err.retryable).toBe(false);
  });

  test('TLS 1.3 peer that rejects our certificate after the handshake → certificate-refused', async () => {
    // With TLS 1.3 the client finishes its handshake before the server has checked the client
    // certificate: the refusal arrives as an alert (or a close) after 'secureConnect'.
    const fake = await fakeBroker(() => undefined, { minVersion: 'TLSv1.3' });
    try {
      const t = transport(pki.otherCa.client, { port: fake.port });
      await expectKind(t.connect(), 'certificate-refused');
    } finally {
      await fake.close();
    }
  });

  test('root CA that did not sign the broker certificate → unknown-ca', async () => {
    const t = transport(pki.things['thing1']!, {
      tls: { ...pki.things['thing1']!, rootCaFile: pki.otherCa.caFile },
    });
    const err = await expectKind(t.connect(), 'unknown-ca');
    expect(err.message).toMatch(/not signed by the configured root CA/);
  });

  test('broker certificate that does not name the host → hostname-mismatch', async () => {
    const sub = join(dir, 'ip-only');
    await mkdir(sub);
    const server = await issueTestCert(pki, sub, 'server-ip-only', {
      commonName: 'broker',
      server: true,
      ips: ['127.0.0.1'],
    });
    const ipOnly = await startMosquitto({ dir: sub, pki: { ...pki, server } });
    try {
      const t = transport(pki.things['thing1']!, { host: 'localhost', port: ipOnly.port });
      const err = await expectKind(t.connect(), 'hostname-mismatch');
      expect(err.message).toMatch(/does not name the configured endpoint host/);
      // The same certificate is fine for the address it names.
      await connected(pki.things['thing1']!, { port: ipOnly.port });
    } finally {
      await ipOnly.stop();
    }
  });

  test('nothing listening → connection-refused (retryable)', async () => {
    const srv = await listenTcp(() => undefined);
    const { port } = srv.address() as AddressInfo;
    await new Promise((r) => srv.close(r));
    const err = await expectKind(transport(pki.things['thing1']!, { port }).connect(), 'connection-refused');
    expect(err.retryable).toBe(true);
  });

  test('a peer that never answers → timeout within connectTimeoutMs', async () => {
    const held: Socket[] = [];
    const srv = await listenTcp((s) => held.push(s));
    try {
      const t = transport(pki.things['thing1']!, { port: (srv.address() as AddressInfo).port, connectTimeoutMs: 300 });
      const started = Date.now();
      await expectKind(t.connect(), 'timeout');
      // The configured 300 ms, not the 15 s default.
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      held.forEach((s) => s.destroy());
      await new Promise((r) => srv.close(r));
    }
  });

  test('unreadable key file → credentials, naming the file', async () => {
    const files = { ...pki.things['thing1']!, privateKeyFile: join(dir, 'missing.key') };
    const err = await expectKind(transport(files).connect(), 'credentials');
    expect(err.message).toContain('missing.key');
  });

  test.each([
    [4, Buffer.from([0x20, 0x02, 0x00, 0x05])],
    [5, Buffer.from([0x20, 0x03, 0x00, 0x87, 0x00])],
  ] as const)('CONNACK not authorized (MQTT %i) → not-authorized', async (protocolVersion, connack) => {
    const fake = await fakeBroker((sock) => sock.once('data', () => sock.write(connack)));
    try {
      const t = transport(pki.things['thing1']!, { port: fake.port, protocolVersion });
      await expectKind(t.connect(), 'not-authorized');
    } finally {
      await fake.close();
    }
  });
});

test('ALPN x-amzn-mqtt-ca is offered when alpn is set', async () => {
  const protocols: (string | false | null)[] = [];
  const fake = await fakeBroker((sock) => {
    protocols.push(sock.alpnProtocol);
    sock.once('data', () => sock.write(Buffer.from([0x20, 0x02, 0x00, 0x00])));
  });
  try {
    await connected(pki.things['thing1']!, { port: fake.port, alpn: true });
    expect(protocols).toEqual(['x-amzn-mqtt-ca']);
  } finally {
    await Promise.all(open.splice(0).map((t) => t.close()));
    await fake.close();
  }
});

describe('publish and subscribe are bounded', () => {
  test('wildcard or empty publish topics are refused without touching the wire', async () => {
    const t = await connected(pki.things['thing1']!);
    for (const topic of ['$aws/things/thing1/jobs/+/get', '$aws/things/thing1/#', '']) {
      await expectKind(t.publish(topic, 'x'), 'invalid-topic');
    }
  });

  test('publish before connect rejects at once as offline', async () => {
    // At once: not after the operation timeout (a minute here).
    const t = transport(pki.things['thing1']!, { operationTimeoutMs: 60_000 });
    const started = Date.now();
    await expectKind(t.publish('$aws/things/thing1/jobs/get', '{}'), 'offline');
    await expectKind(t.subscribe(['$aws/things/thing1/jobs/notify']), 'offline');
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  test('an unanswered QoS 1 publish rejects with TimeoutError', async () => {
    const t = await connected(pki.things['thing1']!, { operationTimeoutMs: 300 });
    broker.pause();
    try {
      const started = Date.now();
      await expect(t.publish('$aws/things/thing1/jobs/get', '{}', 1)).rejects.toBeInstanceOf(TimeoutError);
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    } finally {
      broker.resume();
    }
  });
});

describe('dead connections and listeners', () => {
  test('keep-alive detects a frozen broker; an in-flight publish fails at once, not at its timeout', async () => {
    const t = await connected(pki.things['thing1']!, {
      keepAliveSeconds: 1,
      operationTimeoutMs: 60_000,
      reconnect: { baseMs: 60_000, maxMs: 60_000 },
    });
    const disconnected = nextEvent<TransportError>(t, 'disconnect');
    broker.pause();
    try {
      const started = Date.now();
      const publish = t.publish('$aws/things/thing1/jobs/get', '{}', 1);
      await expectKind(publish, 'connection-lost');
      expect((await disconnected).kind).toBe('connection-lost');
      // Found by the 1 s keep-alive, not by the operation timeout (a minute here).
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      broker.resume();
    }
  });

  test("a throwing 'message' listener is reported and the connection keeps working", async () => {
    const service = await connected(pki.service);
    const thing = await connected(pki.things['thing1']!);
    const topic = '$aws/things/thing1/jobs/notify';
    await thing.subscribe([topic]);
    let calls = 0;
    thing.on('message', () => {
      calls += 1;
      if (calls === 1) throw new Error('listener bug');
    });
    const reported = new Promise<TransportError>((resolve) => thing.once('error', resolve));
    const thingIn = inbox(thing);
    await service.publish(topic, 'first');
    expect((await reported).kind).toBe('listener-error');
    await service.publish(topic, 'second');
    await waitFor(() => thingIn.all.some((m) => m.payload.toString() === 'second'));
    expect(thing.connected).toBe(true);
    expect(calls).toBe(2);
  });
});

describe('reconnect', () => {
  test('after a broker restart: disconnect, connect again, subscriptions restored, offline in between', async () => {
    const service = await connected(pki.service);
    const thing = await connected(pki.things['thing1']!);
    const topic = '$aws/things/thing1/jobs/notify-next';
    await thing.subscribe([topic]);
    const errors: unknown[] = [];
    thing.on('error', (e) => errors.push(e));
    const disconnected = nextEvent<TransportError>(thing, 'disconnect');
    await broker.stop();
    const cause = await disconnected;
    expect(cause.kind).toBe('connection-lost');
    expect(thing.connected).toBe(false);
    await expectKind(thing.publish('$aws/things/thing1/jobs/get', '{}'), 'offline');

    const reconnected = nextEvent<{ sessionPresent: boolean }>(thing, 'connect');
    await broker.restart();
    const info = await reconnected;
    expect(info.sessionPresent).toBe(false);
    expect(thing.connected).toBe(true);
    // Failed attempts while the broker was down are reported as non-fatal errors.
    expect(errors.every((e) => e instanceof TransportError)).toBe(true);

    // The service reconnected too; once it is back, a message to the held filter arrives.
    if (!service.connected) await nextEvent(service, 'connect');
    const thingIn = inbox(thing);
    await service.publish(topic, 'after restart');
    expect((await thingIn.next(topic)).payload.toString()).toBe('after restart');
  });
});

describe('close', () => {
  test('is idempotent, fails later operations and leaves no sockets behind', async () => {
    const before = countSockets();
    const t = await connected(pki.things['thing1']!);
    expect(countSockets()).toBeGreaterThan(before);
    const disconnected = nextEvent(t, 'disconnect');
    await Promise.all([t.close(), t.close()]);
    await disconnected;
    await t.close();
    expect(t.connected).toBe(false);
    expect(countSockets()).toBe(before);
    await expectKind(t.publish('$aws/things/thing1/jobs/get', '{}'), 'closed');
    await expectKind(t.connect(), 'closed');
  });

  test('close during a connection attempt fails it at once', async () => {
    const held: Socket[] = [];
    const srv = await listenTcp((s) => held.push(s));
    try {
      const t = transport(pki.things['thing1']!, { port: (srv.address() as AddressInfo).port, connectTimeoutMs: 60_000 });
      const connecting = t.connect();
      await waitFor(() => held.length > 0);
      const started = Date.now();
      await t.close();
      await expectKind(connecting, 'closed');
      // At once: not after the connect timeout (a minute here).
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      held.forEach((s) => s.destroy());
      await new Promise((r) => srv.close(r));
    }
  });

  test('close during the reconnect loop stops it', async () => {
    const t = await connected(pki.things['thing1']!, { reconnect: { baseMs: 5_000, maxMs: 5_000 } });
    const disconnected = nextEvent(t, 'disconnect');
    await broker.stop();
    await disconnected;
    await t.close();
    await broker.restart();
    expect(t.connected).toBe(false);
  });
});

/** Resolves when `cond` holds, checking on every turn of the event loop (no fixed sleep). */
async function waitFor(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setImmediate(r));
  }
}

function countSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
}

async function listenTcp(onConn: (s: Socket) => void): Promise<Server> {
  const srv = createTcpServer(onConn);
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return srv;
}

/** A TLS listener with the test server certificate that hands each mTLS connection to `onConn`. */
async function fakeBroker(
  onConn: (s: TLSSocket) => void,
  tlsOpts: { minVersion?: 'TLSv1.2' | 'TLSv1.3' } = {},
): Promise<{ port: number; close(): Promise<void> }> {
  const [key, cert, ca] = await Promise.all([
    readFile(pki.server.privateKeyFile),
    readFile(pki.server.certificateFile),
    readFile(pki.caFile),
  ]);
  const sockets = new Set<TLSSocket>();
  const srv = createTlsServer(
    { key, cert, ca, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['x-amzn-mqtt-ca'], ...tlsOpts },
    (s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      onConn(s);
    },
  );
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return {
    port: (srv.address() as AddressInfo).port,
    close: async () => {
      sockets.forEach((s) => s.destroy());
      await new Promise((r) => srv.close(r));
    },
  };
}
