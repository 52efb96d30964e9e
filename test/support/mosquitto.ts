/**
 * A real mosquitto broker for integration tests: mTLS only, the client certificate's CN is the
 * MQTT user name, and an ACL that mirrors a typical AWS IoT thing policy (a thing may only use
 * `$aws/things/<its own name>/#`; `jobs-service` may use everything).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { CertFiles } from './pki';

export const MOSQUITTO_BIN = process.env['MOSQUITTO_BIN'] ?? '/usr/sbin/mosquitto';

export interface BrokerPki {
  caFile: string;
  server: CertFiles;
  /** Used to prove the listener completes an mTLS handshake before we report it ready. */
  service: CertFiles;
}

export interface Mosquitto {
  port: number;
  url: string;
  /** Log file (connections, refusals, ACL denials) for debugging a failing test. */
  logFile: string;
  stop(): Promise<void>;
  /** Freeze / thaw the broker (SIGSTOP / SIGCONT): connections stay open but nothing is answered. */
  pause(): void;
  resume(): void;
  /** Stop (if running) and start again on the same port (sessions are not persisted). */
  restart(): Promise<void>;
  /** The running broker's process id (SIGHUP makes mosquitto reread its crlfile). */
  readonly pid: number;
}

const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;

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

function configText(dir: string, pki: BrokerPki, port: number, crlFile?: string): string {
  const lines = [
    'per_listener_settings false',
    'persistence false',
    'allow_anonymous false',
    `acl_file ${join(dir, 'mosquitto.acl')}`,
    'log_dest stderr', // stderr is unbuffered; stdout into a pipe is flushed only at exit
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'log_type subscribe',
    'connection_messages true',
    'log_timestamp_format %H:%M:%S',
    // mosquitto drops to user "mosquitto" when started as root, and then cannot read 0600 keys.
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    `listener ${port} 127.0.0.1`,
    `cafile ${pki.caFile}`,
    `certfile ${pki.server.certificateFile}`,
    `keyfile ${pki.server.privateKeyFile}`,
    'require_certificate true',
    // Read at start and on SIGHUP only; a missing file stops mosquitto from starting.
    ...(crlFile !== undefined ? [`crlfile ${crlFile}`] : []),
    'use_identity_as_username true',
    'tls_version tlsv1.2',
    'set_tcp_nodelay true',
  ];
  return `${lines.join('\n')}\n`;
}

const ACL = [
  '# Every thing: only its own reserved topics (as an AWS IoT policy with ${iot:Connection.Thing.ThingName}).',
  'pattern readwrite $aws/things/%u/#',
  '# Fleet provisioning: claim certificates (first boot) and things (rotation) use the provisioning API.',
  'pattern readwrite $aws/certificates/#',
  'pattern readwrite $aws/provisioning-templates/#',
  '',
  'user jobs-service',
  'topic readwrite #',
  'topic readwrite $aws/#',
  '',
].join('\n');

/** Resolves once mosquitto logs that it is running; rejects if it exits or stays silent too long. */
function waitForRunning(child: ChildProcess, log: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => finish(new Error(`mosquitto not ready after ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      log.write(chunk);
      seen = (seen + chunk.toString()).slice(-4096);
      if (/mosquitto version \S+ running/.test(seen)) finish();
    };
    const onExit = (code: number | null): void => finish(new Error(`mosquitto exited with ${code}: ${seen.trim()}`));
    const onSpawnError = (err: Error): void => finish(new Error(`cannot start ${MOSQUITTO_BIN}: ${err.message}`));
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('error', onSpawnError);
      if (err) reject(err);
      else resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onSpawnError);
  });
}

/** One full mTLS handshake with the service certificate: the listener really serves our PKI. */
async function probeTls(port: number, pki: BrokerPki): Promise<void> {
  const [ca, cert, key] = await Promise.all([
    readFile(pki.caFile),
    readFile(pki.service.certificateFile),
    readFile(pki.service.privateKeyFile),
  ]);
  await new Promise<void>((resolve, reject) => {
    // Host names are the client's business (tests give the broker certificates without them).
    const sock = tlsConnect({ host: '127.0.0.1', port, ca, cert, key, checkServerIdentity: () => undefined });
    sock.setTimeout(READY_TIMEOUT_MS, () => sock.destroy(new Error('TLS probe timed out')));
    sock.once('secureConnect', () => {
      sock.destroy();
      resolve();
    });
    sock.on('error', reject);
  });
}

interface Running {
  proc: ChildProcess;
  /** Settles once the process has exited and its pipes are closed (no handle left behind). */
  closed: Promise<void>;
}

async function stopChild(run: Running): Promise<void> {
  const { proc } = run;
  if (proc.exitCode === null && proc.signalCode === null) {
    proc.kill('SIGCONT'); // a paused broker cannot act on SIGTERM
    const kill = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
    proc.kill('SIGTERM');
    await run.closed;
    clearTimeout(kill);
  }
  await run.closed;
}

/** `acl`: the ACL file's text instead of the default (own topics only), e.g. to deny one topic. */
/** `crlFile`: a CRL (PEM, from the broker's CA) refusing the certificates it lists. */
export async function startMosquitto(opts: { dir: string; pki: BrokerPki; port?: number; acl?: string; crlFile?: string }): Promise<Mosquitto> {
  const confFile = join(opts.dir, 'mosquitto.conf');
  const logFile = join(opts.dir, 'mosquitto.log');
  await writeFile(join(opts.dir, 'mosquitto.acl'), opts.acl ?? ACL);
  let child: Running | undefined;

  const launch = async (port: number): Promise<void> => {
    await writeFile(confFile, configText(opts.dir, opts.pki, port, opts.crlFile));
    // One log stream per process, closed when it exits: stop() then restart() both work.
    const log = createWriteStream(logFile, { flags: 'a' });
    log.write(`--- starting mosquitto on 127.0.0.1:${port}\n`);
    const proc = spawn(MOSQUITTO_BIN, ['-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    const closed = new Promise<void>((resolve) => proc.once('close', () => log.end(resolve)));
    const run: Running = { proc, closed };
    child = run;
    const running = waitForRunning(proc, log);
    try {
      await running;
      await probeTls(port, opts.pki);
    } catch (err) {
      await stopChild(run);
      throw err;
    }
  };

  // A port picked free may be taken before mosquitto binds it: try a few.
  let port = opts.port ?? 0;
  for (let attempt = 1; ; attempt++) {
    const candidate = port || (await freePort());
    try {
      await launch(candidate);
      port = candidate;
      break;
    } catch (err) {
      if (opts.port !== undefined || attempt >= 5) throw err;
    }
  }

  const stop = async (): Promise<void> => {
    if (child) await stopChild(child);
  };
  return {
    port,
    url: `mqtts://127.0.0.1:${port}`,
    logFile,
    restart: async () => {
      await stop();
      await launch(port);
    },
    stop,
    get pid(): number {
      return child?.proc.pid ?? 0;
    },
    pause: () => child?.proc.kill('SIGSTOP'),
    resume: () => child?.proc.kill('SIGCONT'),
  };
}
