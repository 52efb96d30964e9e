/**
 * The Dialer against real proxies on loopback (tinyproxy with BasicAuth, dante-server, stunnel4 in
 * front of tinyproxy): a TLS server behind them that insists on ALPN x-amzn-mqtt-ca, as AWS IoT on
 * port 443 does. Each answer a proxy can give is named as the agent will report it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createServer, type Server, type TLSSocket } from 'node:tls';
import { createCa, issueCert } from '../../src/lib/pki';
import { createDialer, ProxyError, resolveProxy, type ProxySettings } from '../../src/net';
import { startDante, startStunnel, startTinyproxy, type HttpsProxy, type RealProxy } from '../support/proxies';

const ALPN = 'x-amzn-mqtt-ca';
let dir: string;
let server: Server;
let serverPort: number;
let serverCa: string;
let tiny: RealProxy;
let open: RealProxy;
let strict: RealProxy;
let dante: RealProxy;
let stunnel: HttpsProxy;
let passwordFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ija-proxy-dial-'));
  const ca = await createCa({ commonName: 'endpoint CA' });
  const cert = await issueCert(ca, { commonName: 'localhost', server: true, dnsNames: ['localhost'], ips: ['127.0.0.1'] });
  serverCa = ca.certPem;
  // Echoes the ALPN protocol it agreed, then closes: proof the TLS inside the tunnel is end to end.
  server = createServer({ cert: cert.certPem, key: cert.keyPem, ALPNProtocols: [ALPN] }, (s) => s.end(`alpn=${s.alpnProtocol || 'none'}\n`));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  serverPort = (server.address() as AddressInfo).port;
  passwordFile = join(dir, 'proxy-password');
  await writeFile(passwordFile, 's3cret\n', { mode: 0o600 });
  tiny = await startTinyproxy(dir, { name: 'auth', basicAuth: { user: 'alice', password: 's3cret' } });
  open = await startTinyproxy(dir, { name: 'open' });
  strict = await startTinyproxy(dir, { name: 'strict', connectPorts: [443] });
  dante = await startDante(dir);
  stunnel = await startStunnel(dir, open);
});

afterAll(async () => {
  for (const p of [tiny, open, strict, dante, stunnel]) await p?.stop();
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

function settings(url: string, extra: { username?: string; passwordFile?: string; caFile?: string; noProxy?: string[] } = {}): ProxySettings {
  const s = resolveProxy({ url, noProxy: extra.noProxy ?? [], ...extra }, {});
  if (!s) throw new Error('no proxy');
  return s;
}

/** TLS with ALPN over whatever the dialer returns; resolves with what the server said. */
async function talk(settingsOrUndefined: ProxySettings | undefined, host = 'localhost'): Promise<string> {
  const dialer = createDialer(settingsOrUndefined);
  const raw = await dialer.connect(host, serverPort, { timeoutMs: 10_000 });
  const tls: TLSSocket = tlsConnect({ socket: raw, host, ...(host === '127.0.0.1' ? {} : { servername: host }), ca: serverCa, ALPNProtocols: [ALPN], rejectUnauthorized: true });
  let text = '';
  tls.on('data', (c: Buffer) => (text += c.toString()));
  await new Promise<void>((resolve, reject) => {
    tls.once('end', () => resolve());
    tls.once('error', reject);
  });
  tls.destroy();
  return text.trim();
}

async function failure(p: Promise<unknown>): Promise<ProxyError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ProxyError);
  return err as ProxyError;
}

describe('through an HTTP CONNECT proxy (tinyproxy, BasicAuth)', () => {
  it('opens a tunnel with the password from passwordFile; the endpoint name goes to the proxy; ALPN works inside', async () => {
    expect(await talk(settings(tiny.url, { username: 'alice', passwordFile }))).toBe(`alpn=${ALPN}`);
    expect(tiny.log()).toContain(`CONNECT localhost:${serverPort} HTTP/1.1`);
  });

  it('names a wrong password (401 from tinyproxy) and then holds off every caller for minutes without asking again', async () => {
    const bad = join(dir, 'bad-password');
    await writeFile(bad, 'wrong\n', { mode: 0o600 });
    const dialer = createDialer(settings(tiny.url, { username: 'alice', passwordFile: bad }));
    const first = await failure(dialer.connect('localhost', serverPort, { timeoutMs: 10_000 }));
    expect(first.kind).toBe('auth');
    expect(first.status).toBe(401);
    expect(first.retryAfterMs).toBeGreaterThanOrEqual(5 * 60_000);
    expect(first.message).not.toContain('wrong');
    const requests = tiny.log().split('\n').filter((l) => l.includes('Request')).length;
    const second = await failure(dialer.connect('localhost', serverPort, { timeoutMs: 10_000 }));
    expect(second.kind).toBe('auth');
    expect(second.message).toMatch(/not tried again before/);
    expect(tiny.log().split('\n').filter((l) => l.includes('Request')).length).toBe(requests);
  });

  it('says when the proxy requires a login and none is configured', async () => {
    const err = await failure(createDialer(settings(tiny.url)).connect('localhost', serverPort, { timeoutMs: 10_000 }));
    expect(err.kind).toBe('auth');
    expect(err.message).toMatch(/no proxy username is configured/);
  });

  it('names a port the proxy does not allow (403)', async () => {
    const err = await failure(createDialer(settings(strict.url)).connect('localhost', serverPort, { timeoutMs: 10_000 }));
    expect(err.kind).toBe('refused');
    expect(err.status).toBe(403);
    expect(err.message).toContain(`localhost:${serverPort}`);
  });

  it('names a proxy that is down', async () => {
    const down = await startTinyproxy(dir, { name: 'down' });
    await down.stop();
    const err = await failure(createDialer(settings(down.url)).connect('localhost', serverPort, { timeoutMs: 10_000 }));
    expect(err.kind).toBe('unreachable');
    expect(err.message).toContain(`127.0.0.1:${down.port}`);
  });

  it('goes directly to a noProxy host, and only to it', async () => {
    const before = open.log();
    expect(await talk(settings(open.url, { noProxy: ['127.0.0.0/8'] }), '127.0.0.1')).toBe(`alpn=${ALPN}`);
    expect(open.log()).toBe(before);
  });
});

describe('through a SOCKS5 proxy (dante-server)', () => {
  it('opens a tunnel and the proxy resolves the name', async () => {
    expect(await talk(settings(dante.url))).toBe(`alpn=${ALPN}`);
    expect(dante.log()).toMatch(new RegExp(`tcp/connect .*127\\.0\\.0\\.1\\.${serverPort}\\b`));
  });

  it('names a SOCKS5 proxy that is down', async () => {
    const down = await startDante(dir, { name: 'down-socks' });
    await down.stop();
    const err = await failure(createDialer(settings(down.url)).connect('localhost', serverPort, { timeoutMs: 10_000 }));
    expect(err.kind).toBe('unreachable');
  });
});

describe('through an HTTPS proxy (stunnel4 in front of tinyproxy)', () => {
  it('verifies the proxy against proxy.caFile, then runs the endpoint TLS inside', async () => {
    expect(await talk(settings(stunnel.url, { caFile: stunnel.caFile }))).toBe(`alpn=${ALPN}`);
    expect(open.log()).toContain(`CONNECT localhost:${serverPort} HTTP/1.1`);
  });

  it('refuses a proxy certificate the system store does not trust (never unverified)', async () => {
    const err = await failure(createDialer(settings(stunnel.url)).connect('localhost', serverPort, { timeoutMs: 10_000 }));
    expect(err.kind).toBe('tls');
  });
});
