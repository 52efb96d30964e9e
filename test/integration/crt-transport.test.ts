/**
 * The aws-crt transport against a real mosquitto over mTLS, with the device key generated inside a
 * SoftHSM token (PKCS#11) and, for comparison, in a key file. Each transport runs in its own
 * process (test/support/crt-driver.js), which must exit by itself once the transport is closed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TransportOptions } from '../../src/transport/types';
import { CrtProc } from '../support/crt-proc';
import { startMosquitto, type Mosquitto } from '../support/mosquitto';
import { makeTestPki, type TestPki } from '../support/pki';
import { createSoftHsmToken, type SoftHsmToken } from '../support/softhsm';

const THING = 'thing1';
/** An exit later than this after close() means something kept the event loop alive (aws-crt MQTT 5 took ~8 s). */
// A clean exit soon after close, not a process held until some later garbage collection.
const EXIT_AFTER_CLOSE_MS = 15_000;

let dir: string;
let pki: TestPki;
let broker: Mosquitto;
let token: SoftHsmToken;
const procs: CrtProc[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crt-it-'));
  pki = await makeTestPki(dir, [THING]);
  token = await createSoftHsmToken(dir, pki.ca, THING);
  broker = await startMosquitto({ dir, pki });
});

afterEach(() => {
  for (const p of procs.splice(0)) p.kill();
});

afterAll(async () => {
  await broker.stop();
  await rm(dir, { recursive: true, force: true });
});

function options(version: 4 | 5, over: Partial<TransportOptions> = {}): TransportOptions {
  return {
    transport: 'aws-crt',
    host: '127.0.0.1',
    port: broker.port,
    clientId: `crt-${version}-${Math.random().toString(16).slice(2)}`,
    protocolVersion: version,
    alpn: false,
    keepAliveSeconds: 30,
    tls: { certificateFile: token.certificateFile, rootCaFile: pki.caFile },
    pkcs11: { library: token.library, tokenLabel: token.tokenLabel, keyLabel: token.keyLabel, pin: token.pin },
    operationTimeoutMs: 5_000,
    connectTimeoutMs: 10_000,
    reconnect: { baseMs: 50, maxMs: 500 },
    ...over,
  };
}

function start(opts: TransportOptions): CrtProc {
  const p = new CrtProc(opts, token.env);
  procs.push(p);
  return p;
}

/** Close, end input, and require a clean exit soon after. */
async function closeAndExit(p: CrtProc): Promise<void> {
  const closed = await p.run({ cmd: 'close' });
  expect(closed['ok']).toBe(true);
  const closedAt = Date.now();
  p.endInput();
  const exit = await p.exited;
  expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
  expect(exit.at - closedAt).toBeLessThan(EXIT_AFTER_CLOSE_MS);
}

async function pubSubRoundTrip(p: CrtProc, tag: string): Promise<void> {
  const topic = `$aws/things/${THING}/crt/${tag}`;
  expect(await p.run({ cmd: 'subscribe', filters: [`$aws/things/${THING}/crt/#`], qos: 1 })).toMatchObject({ ok: true });
  const from = p.events.length;
  expect(await p.run({ cmd: 'publish', topic, payload: `hello ${tag}`, qos: 1 })).toMatchObject({ ok: true });
  await expect(p.waitFor((e) => e.ev === 'message' && e['topic'] === topic, 10_000, from)).resolves.toMatchObject({
    payload: `hello ${tag}`,
  });
}

describe.each([4, 5] as const)('aws-crt transport, MQTT %s', (version) => {
  test('connects with the key in the token, publishes and receives, refuses wildcard publishes, exits cleanly', async () => {
    const p = start(options(version));
    expect(await p.run({ cmd: 'connect' })).toMatchObject({ ok: true, connected: true });
    await p.waitFor((e) => e.ev === 'connect');
    await pubSubRoundTrip(p, `p11-${version}`);
    const wild = await p.run({ cmd: 'publish', topic: `$aws/things/${THING}/crt/+`, payload: 'x', qos: 1 });
    expect(wild).toMatchObject({ ok: false, kind: 'invalid-topic' });
    expect(await p.run({ cmd: 'publish', topic: `$aws/things/${THING}/crt/q0`, payload: 'q0', qos: 0 })).toMatchObject({ ok: true });
    // aws-crt hands an empty payload over as a detached ArrayBuffer: it must arrive as an empty Buffer, not abort.
    const before = p.events.length;
    expect(await p.run({ cmd: 'publish', topic: `$aws/things/${THING}/crt/empty`, payload: '', qos: 1 })).toMatchObject({ ok: true });
    await expect(p.waitFor((e) => e.ev === 'message' && e['topic'] === `$aws/things/${THING}/crt/empty`, 10_000, before)).resolves.toMatchObject({ payload: '' });
    await closeAndExit(p);
    expect(p.events.some((e) => e.ev === 'disconnect')).toBe(true);
  });

  test('also works with a key file (tls.privateKeyFile, no token)', async () => {
    const files = pki.things[THING]!;
    const p = start(options(version, { pkcs11: undefined, tls: { ...files, rootCaFile: pki.caFile } }));
    expect(await p.run({ cmd: 'connect' })).toMatchObject({ ok: true });
    await pubSubRoundTrip(p, `file-${version}`);
    await closeAndExit(p);
  });

  test('reconnects with the backoff after the broker restarts and re-subscribes before "connect"', async () => {
    const p = start(options(version));
    expect(await p.run({ cmd: 'connect' })).toMatchObject({ ok: true });
    expect(await p.run({ cmd: 'subscribe', filters: [`$aws/things/${THING}/crt/#`] })).toMatchObject({ ok: true });
    const from = p.events.length;
    await broker.restart();
    await p.waitFor((e) => e.ev === 'disconnect' && e.kind === 'connection-lost', 20_000, from);
    await p.waitFor((e) => e.ev === 'connect', 20_000, from);
    const topic = `$aws/things/${THING}/crt/after-restart`;
    const before = p.events.length;
    expect(await p.run({ cmd: 'publish', topic, payload: 'back', qos: 1 })).toMatchObject({ ok: true });
    await p.waitFor((e) => e.ev === 'message' && e['topic'] === topic, 10_000, before);
    await closeAndExit(p);
  });

  test('a wrong PIN fails the connect with a clear, non-retryable credentials error', async () => {
    const p = start(options(version, { pkcs11: { ...options(version).pkcs11!, pin: '000000' } }));
    const r = await p.run({ cmd: 'connect' });
    expect(r).toMatchObject({ ok: false, kind: 'credentials' });
    expect(r.message).toMatch(/PKCS#11 PIN is wrong.*CKR_PIN_INCORRECT/);
    // The caller may retry connect(); the token is not asked again (a real one locks after a few).
    const again = await p.run({ cmd: 'connect' });
    expect(again).toMatchObject({ ok: false, kind: 'credentials' });
    expect(again.message).toMatch(/PIN not tried again .*PKCS#11 PIN is wrong/);
    await closeAndExit(p);
  });

  test('an unknown token fails the connect naming the token setting', async () => {
    const p = start(options(version, { pkcs11: { ...options(version).pkcs11!, tokenLabel: 'no-such-token' } }));
    const r = await p.run({ cmd: 'connect' });
    expect(r).toMatchObject({ ok: false, kind: 'credentials' });
    expect(r.message).toMatch(/no PKCS#11 token matches pkcs11\.tokenLabel/);
    await closeAndExit(p);
  });

  test('an unknown key label fails the connect naming the key setting', async () => {
    const p = start(options(version, { pkcs11: { ...options(version).pkcs11!, keyLabel: 'no-such-key' } }));
    const r = await p.run({ cmd: 'connect' });
    expect(r).toMatchObject({ ok: false, kind: 'credentials' });
    expect(r.message).toMatch(/pkcs11\.keyLabel/);
    await closeAndExit(p);
  });
});

test('a PKCS#11 library that cannot be loaded fails at creation, naming pkcs11.library', async () => {
  const p = start(options(4, { pkcs11: { ...options(4).pkcs11!, library: join(dir, 'no-such-pkcs11.so') } }));
  const r = await p.waitFor((e) => e.ev === 'create-failed');
  expect(r).toMatchObject({ kind: 'credentials' });
  expect(r.message).toMatch(/pkcs11\.library.*SHARED_LIBRARY_LOAD_FAILURE/);
  p.endInput();
  expect((await p.exited).code).toBe(0);
});

test('without SOFTHSM2_CONF the token is not found (the library reads it at load time)', async () => {
  const p = new CrtProc(options(4), {});
  procs.push(p);
  const r = await p.run({ cmd: 'connect' });
  expect(r).toMatchObject({ ok: false, kind: 'credentials' });
  await closeAndExit(p);
});
