/**
 * An HTTP CONNECT tunnel, over plain TCP or over TLS to the proxy (an "HTTPS proxy"), with Basic
 * authentication. The tunnel is a byte stream to host:port on which the caller runs its own TLS (the
 * device's mTLS), so the proxy never sees inside it. The host name goes to the proxy as given: the
 * proxy resolves it, the device never does.
 */
import type * as Http from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type * as Https from 'node:https';
import { isIP, type Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import { errorMessage } from '../lib/errors';
import { ProxyError } from './errors';
import { proxyCredentials } from './password';
import { describeProxy, type ProxySettings } from './settings';
import { classifySocketError, type TunnelOptions } from './tunnel-options';

/** `host:port`, IPv6 in brackets (RFC 9110 authority form). */
export function authority(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

async function requestOptions(p: ProxySettings, target: string): Promise<Https.RequestOptions> {
  const headers: Record<string, string> = { host: target };
  const creds = await proxyCredentials(p);
  if (creds !== undefined) headers['proxy-authorization'] = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
  const base: Https.RequestOptions = { host: p.host, port: p.port, method: 'CONNECT', path: target, headers, agent: false, setHost: false };
  if (p.kind !== 'https') return base;
  let ca: Buffer | undefined;
  if (p.caFile !== undefined) {
    try {
      ca = await readFile(p.caFile);
    } catch (err) {
      throw new ProxyError('tls', `cannot read proxy.caFile ${p.caFile}: ${errorMessage(err)}`, { cause: err });
    }
  }
  // Verified like any TLS peer: against proxy.caFile, or else the system store. Never unverified.
  return { ...base, rejectUnauthorized: true, minVersion: 'TLSv1.2', ...(ca ? { ca } : {}), ...(isIP(p.host) === 0 ? { servername: p.host } : {}) };
}

function refusal(p: ProxySettings, target: string, res: IncomingMessage): ProxyError {
  const status = res.statusCode ?? 0;
  const answer = `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`;
  if (status === 407 || status === 401) {
    const why = p.username === undefined ? 'the proxy requires authentication and no proxy username is configured' : 'the proxy refused the username/password';
    return new ProxyError('auth', `${why} (${answer} from ${describeProxy(p)})`, { status });
  }
  return new ProxyError('refused', `the proxy ${describeProxy(p)} refused a tunnel to ${target} (${answer})`, { status });
}

export async function httpConnect(p: ProxySettings, host: string, port: number, o: TunnelOptions): Promise<Socket> {
  const target = authority(host, port);
  const options = await requestOptions(p, target);
  return new Promise<Socket>((resolve, reject) => {
    let settled = false;
    const done = (err: Error | undefined, socket?: Socket): void => {
      if (settled) {
        socket?.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else if (socket) resolve(socket);
    };
    // node:http and node:https load only when a tunnel is opened: most devices have no HTTP proxy.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy loading is the point
    const lib = p.kind === 'https' ? (require('node:https') as typeof Https) : (require('node:http') as typeof Http);
    const req: ClientRequest = lib.request(options);
    let secure = false;
    const fail = (err: ProxyError): void => {
      req.destroy();
      done(err);
    };
    const timer = setTimeout(() => fail(new ProxyError('timeout', `no answer from the proxy ${describeProxy(p)} within ${o.timeoutMs} ms`)), o.timeoutMs);
    const onAbort = (): void => fail(new ProxyError('unreachable', `connecting through ${describeProxy(p)}: aborted`));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    req.once('socket', (s: Socket) => s.once('secureConnect', () => (secure = true)));
    req.once('connect', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        return done(refusal(p, target, res));
      }
      // Bytes the proxy sent after its answer belong to the tunnel (normally none before we speak).
      if (head.length > 0) socket.unshift(head);
      socket.setNoDelay(true);
      done(undefined, socket);
    });
    // Some proxies answer a refusal as an ordinary response with a body.
    req.once('response', (res: IncomingMessage) => {
      res.resume();
      done(refusal(p, target, res));
    });
    req.once('error', (err: Error & { code?: string }) => done(classifySocketError(p, err, p.kind === 'https' && !secure)));
    req.end();
  });
}
