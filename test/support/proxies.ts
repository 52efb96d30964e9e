/**
 * Real proxies from Debian on loopback, as a gateway's network has them: tinyproxy (HTTP CONNECT,
 * optional BasicAuth, optional ConnectPort allow-list), dante-server (SOCKS5) and stunnel4 in front
 * of tinyproxy (an HTTPS proxy, its certificate from its own CA). Each writes its own log, which a
 * test reads to see the CONNECT. They run as root with the user set explicitly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { createCa, issueCert } from '../../src/lib/pki';

export const TINYPROXY_BIN = '/usr/bin/tinyproxy';
export const DANTED_BIN = '/usr/sbin/danted';
export const STUNNEL_BIN = '/usr/bin/stunnel4';

export interface RealProxy {
  /** URL for the agent's `proxy.url` (no credentials). */
  url: string;
  port: number;
  logFile: string;
  /** The proxy's log so far. */
  log(): string;
  stop(): Promise<void>;
  /** Start again on the same port (after stop()). */
  start(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Until the port accepts connections (each try is a real connect), or the process died. */
async function listening(proc: ChildProcess, port: number, what: string, output: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${what} exited: ${output()}`);
    if (await accepts(port)) return;
    if (Date.now() > deadline) throw new Error(`${what} not listening on ${port}: ${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopProc(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGKILL');
  return gone;
}

/**
 * Until nothing accepts on the port any more. A proxy's forked children (danted's, tinyproxy's)
 * outlive its main process for a moment and still hold the listening socket: a connection then is
 * accepted and dropped, not refused, and a "proxy down" reads as a protocol failure.
 */
async function closed(port: number, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (await accepts(port)) {
    if (Date.now() > deadline) throw new Error(`${what} still accepting on ${port} after it was stopped`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function managed(o: { url: (port: number) => string; logFile: string; port: number; what: string; argv: () => Promise<string[]> }): RealProxy {
  let proc: ChildProcess | undefined;
  let out = '';
  const start = async (): Promise<void> => {
    const [bin = '', ...args] = await o.argv();
    out = '';
    proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    await listening(proc, o.port, o.what, () => out);
  };
  return {
    url: o.url(o.port),
    port: o.port,
    logFile: o.logFile,
    log: () => {
      try {
        return readFileSync(o.logFile, 'utf8');
      } catch {
        return '';
      }
    },
    stop: async () => {
      await stopProc(proc);
      await closed(o.port, o.what);
    },
    start,
  };
}

export async function startTinyproxy(dir: string, o: { name?: string; basicAuth?: { user: string; password: string }; connectPorts?: number[] } = {}): Promise<RealProxy> {
  const name = o.name ?? 'tinyproxy';
  const port = await freePort();
  const logFile = join(dir, `${name}.log`);
  const conf = join(dir, `${name}.conf`);
  const lines = [
    'User root',
    'Group root',
    `Port ${port}`,
    'Listen 127.0.0.1',
    'Timeout 600',
    `LogFile "${logFile}"`,
    'LogLevel Connect',
    'MaxClients 100',
    'DisableViaHeader Yes',
    ...(o.basicAuth ? [`BasicAuth ${o.basicAuth.user} ${o.basicAuth.password}`] : []),
    ...(o.connectPorts ?? []).map((p) => `ConnectPort ${p}`),
  ];
  await writeFile(conf, `${lines.join('\n')}\n`);
  const p = managed({ url: (n) => `http://127.0.0.1:${n}`, logFile, port, what: 'tinyproxy', argv: async () => [TINYPROXY_BIN, '-d', '-c', conf] });
  await p.start();
  return p;
}

export async function startDante(dir: string, o: { name?: string } = {}): Promise<RealProxy> {
  const name = o.name ?? 'danted';
  const port = await freePort();
  const logFile = join(dir, `${name}.log`);
  const conf = join(dir, `${name}.conf`);
  const text = `logoutput: ${logFile}
internal: 127.0.0.1 port = ${port}
external: lo
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: root
client pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  log: connect disconnect error
}
socks pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  command: connect
  log: connect disconnect error
}
`;
  await writeFile(conf, text);
  const p = managed({ url: (n) => `socks5://127.0.0.1:${n}`, logFile, port, what: 'danted', argv: async () => [DANTED_BIN, '-f', conf] });
  await p.start();
  return p;
}

export interface HttpsProxy extends RealProxy {
  /** The CA that issued stunnel's certificate (for proxy.caFile). */
  caFile: string;
}

/** stunnel4 terminating TLS on its own port and handing the plain stream to `upstream` (a tinyproxy). */
export async function startStunnel(dir: string, upstream: RealProxy, o: { name?: string } = {}): Promise<HttpsProxy> {
  const name = o.name ?? 'stunnel';
  const port = await freePort();
  const ca = await createCa({ commonName: 'proxy test CA' });
  const cert = await issueCert(ca, { commonName: 'localhost', server: true, dnsNames: ['localhost'], ips: ['127.0.0.1'] });
  const caFile = join(dir, `${name}-ca.pem`);
  const certFile = join(dir, `${name}-cert.pem`);
  const keyFile = join(dir, `${name}-key.pem`);
  await writeFile(caFile, ca.certPem);
  await writeFile(certFile, cert.certPem);
  await writeFile(keyFile, cert.keyPem, { mode: 0o600 });
  const logFile = join(dir, `${name}.log`);
  const conf = join(dir, `${name}.conf`);
  await writeFile(conf, `foreground = yes
pid =
output = ${logFile}
debug = info
[proxy]
accept = 127.0.0.1:${port}
connect = 127.0.0.1:${upstream.port}
cert = ${certFile}
key = ${keyFile}
`);
  const p = managed({ url: (n) => `https://127.0.0.1:${n}`, logFile, port, what: 'stunnel4', argv: async () => [STUNNEL_BIN, conf] });
  await p.start();
  return { ...p, caFile };
}
