/**
 * One connection attempt of the mqtt.js transport (src/transport/mqtt-transport.ts): read the
 * credentials, open the way out (a proxy's tunnel or a direct TCP connection), run our own TLS
 * socket under a fresh MqttClient and wait for CONNACK, classifying every failure. The transport
 * owns what happens after CONNACK (reconnects, take-over bookkeeping, operations).
 */
import type { Duplex } from 'node:stream';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { connect as tlsConnect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import type { IClientOptions } from 'mqtt';
// The client class alone: mqtt's index also loads its URL connectors (WebSocket, SOCKS, ...), which
// this transport never uses (it builds its own TLS stream).
import MqttClient from 'mqtt/lib/client';
import { withTimeout } from '../lib/backoff';
import { errorMessage } from '../lib/errors';
import { ProxyError } from '../net';
import { classifyConnectFailure, proxyTransportError, TransportError, type AttemptFailure } from './errors';
import type { TransportOptions } from './types';

export const AWS_ALPN = 'x-amzn-mqtt-ca';
const GRACEFUL_END_MS = 1_000;

/** An established (or establishing) connection: the client and the TLS socket under it. */
export interface Live {
  client: MqttClient;
  socket?: TLSSocket;
}

/** Where this attempt's TLS runs: a proxy's tunnel (already open), or a direct TCP connection. */
type Path = { tunnel: Duplex } | { direct: true };

export class MqttAttempts {
  /**
   * @param signal aborted when the transport closes: an attempt in progress fails at once (close()
   *   must not wait for a connect timeout).
   */
  constructor(
    private readonly opts: TransportOptions,
    private readonly connectTimeoutMs: number,
    private readonly signal: AbortSignal,
  ) {}

  /**
   * One attempt. `established` is called synchronously on CONNACK, before any later packet of the
   * connection is handled, so its listeners miss nothing; resolves with CONNACK's sessionPresent.
   */
  async attempt(established: (live: Live) => void): Promise<boolean> {
    const secureContext = await this.secureContext();
    if (this.signal.aborted) throw new TransportError('closed', 'closed while connecting');
    const path = await this.openPath();
    if (this.signal.aborted) {
      if ('tunnel' in path) path.tunnel.destroy();
      throw new TransportError('closed', 'closed while connecting');
    }
    const failure: AttemptFailure = { secure: false, host: this.opts.host, port: this.opts.port };
    return this.awaitConnack(this.createClient(secureContext, failure, path), failure, established);
  }

  private async secureContext(): Promise<SecureContext> {
    const { certificateFile, privateKeyFile, rootCaFile } = this.opts.tls;
    if (privateKeyFile === undefined) {
      throw new TransportError('credentials', 'tls.privateKeyFile is required by the mqtt.js transport');
    }
    const read = async (what: string, path: string): Promise<Buffer> => {
      try {
        return await readFile(path);
      } catch (err) {
        throw new TransportError('credentials', `cannot read ${what} ${path}: ${errorMessage(err)}`, { cause: err });
      }
    };
    // Read at every attempt so a rotated certificate is picked up on the next reconnect.
    const [cert, key, ca] = await Promise.all([
      read('tls.certificateFile', certificateFile),
      read('tls.privateKeyFile', privateKeyFile),
      read('tls.rootCaFile', rootCaFile),
    ]);
    try {
      return createSecureContext({ cert, key, ca, minVersion: 'TLSv1.2' });
    } catch (err) {
      throw new TransportError('credentials', `${certificateFile} / ${privateKeyFile}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }

  private clientOptions(): IClientOptions {
    return {
      protocolVersion: this.opts.protocolVersion,
      clientId: this.opts.clientId,
      keepalive: this.opts.keepAliveSeconds,
      clean: this.opts.cleanSession ?? true,
      reconnectPeriod: 0,
      // Ours fires first and classifies the failure; theirs is only a backstop.
      connectTimeout: this.connectTimeoutMs * 2,
      resubscribe: false,
      manualConnect: true,
      queueQoSZero: false,
      // mqtt-packet's number cache: 65,536 two-byte Buffers (≈ 7 MB of heap) to save an allocation
      // per packet id, a trade that buys nothing at the ~100 publishes a second AWS IoT allows.
      writeCache: false,
    };
  }

  /**
   * With a proxy for the endpoint, the tunnel is opened first (the proxy resolves the endpoint's
   * name); its failures are the proxy's, never a reason to try a direct connection.
   */
  private async openPath(): Promise<Path> {
    const proxy = this.opts.network?.route(this.opts.host);
    if (proxy === undefined || this.opts.network === undefined) return { direct: true };
    try {
      const tunnel = await this.opts.network.connect(this.opts.host, this.opts.port, { signal: this.signal, timeoutMs: this.connectTimeoutMs });
      return { tunnel };
    } catch (err) {
      if (err instanceof ProxyError) throw proxyTransportError(err);
      throw new TransportError('proxy-unreachable', errorMessage(err), { cause: err });
    }
  }

  /** A client whose stream is our own TLS socket, so TLS failures are observed first-hand. */
  private createClient(secureContext: SecureContext, failure: AttemptFailure, path: Path): Live {
    const { host, port } = this.opts;
    const live: Partial<Live> = {};
    live.client = new MqttClient(() => {
      const socket = tlsConnect({
        host,
        port,
        // Through a proxy, TLS runs inside the tunnel; `host` still names the peer to verify.
        ...('tunnel' in path ? { socket: path.tunnel } : {}),
        secureContext,
        // RFC 6066 forbids an IP address as SNI; verification still checks the IP SAN.
        ...(isIP(host) === 0 ? { servername: host } : {}),
        rejectUnauthorized: true,
        ...(this.opts.alpn ? { ALPNProtocols: [AWS_ALPN] } : {}),
      });
      // Jobs requests are small and latency-bound: do not let Nagle hold them back.
      socket.setNoDelay(true);
      socket.once('secureConnect', () => (failure.secure = true));
      socket.on('error', (err) => (failure.socketError ??= err));
      live.socket = socket;
      return socket;
    }, this.clientOptions());
    // Always have an 'error' listener: an unhandled one would crash the process.
    live.client.on('error', () => undefined);
    return live as Live;
  }

  private awaitConnack(live: Live, failure: AttemptFailure, established: (live: Live) => void): Promise<boolean> {
    const { client } = live;
    return new Promise<boolean>((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        client.off('close', onClose);
        client.off('connect', onConnect);
        client.off('error', onError);
        this.signal.removeEventListener('abort', onAbort);
      };
      const fail = (err: TransportError): void => {
        settle();
        void endClient(live, true);
        reject(err);
      };
      const ms = this.connectTimeoutMs;
      const timer = setTimeout(() => {
        fail(new TransportError('timeout', `no CONNACK from ${failure.host}:${failure.port} within ${ms} ms`));
      }, ms);
      const onError = (err: Error & { code?: string | number }): void => {
        failure.clientError ??= err;
      };
      // mqtt.js emits 'error' only for some failures but always 'close': decide on 'close'.
      const onClose = (): void => fail(classifyConnectFailure(failure));
      const onAbort = (): void => fail(new TransportError('closed', 'closed while connecting'));
      const onConnect = (connack: { sessionPresent?: boolean }): void => {
        if (this.signal.aborted) return onAbort();
        settle();
        established(live);
        resolve(connack.sessionPresent === true);
      };
      client.on('error', onError);
      client.once('close', onClose);
      client.once('connect', onConnect);
      this.signal.addEventListener('abort', onAbort, { once: true });
      client.connect();
    });
  }
}

/** End a client; graceful (DISCONNECT) when possible, bounded; resolves once the socket is gone. */
export async function endClient(live: Live, force: boolean): Promise<void> {
  const { client, socket } = live;
  const ended = new Promise<void>((resolve) => client.end(force, {}, () => resolve()));
  await withTimeout(ended, GRACEFUL_END_MS, () => new Error('end timed out')).catch(() => undefined);
  if (!socket || socket.closed) return;
  const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.destroy();
  await gone;
}
