/**
 * A SOCKS5 tunnel (RFC 1928, username/password RFC 1929) with the `socks` package. A host name is
 * sent as a name (address type 3): the proxy resolves it, the device never does.
 */
import type { Socket } from 'node:net';
import type * as Socks from 'socks';
import { ProxyError } from './errors';
import { proxyCredentials } from './password';
import { describeProxy, type ProxySettings } from './settings';
import { classifySocketError, type TunnelOptions } from './tunnel-options';

function socksError(p: ProxySettings, err: Error, target: string): ProxyError {
  const msg = err.message;
  const where = describeProxy(p);
  if (/Authentication failed|no accepted authentication type/i.test(msg)) {
    const why = p.username === undefined ? 'the SOCKS5 proxy requires authentication and no proxy username is configured' : 'the SOCKS5 proxy refused the username/password';
    return new ProxyError('auth', `${why} (${where}: ${msg})`, { cause: err });
  }
  if (/rejected connection/i.test(msg)) return new ProxyError('refused', `the SOCKS5 proxy ${where} refused a connection to ${target} (${msg})`, { cause: err });
  if (/timed out/i.test(msg)) return new ProxyError('timeout', `no answer from the SOCKS5 proxy ${where}`, { cause: err });
  const code = /\b(E[A-Z_]+)\b/.exec(msg)?.[1];
  return classifySocketError(p, Object.assign(new Error(msg), code ? { code } : {}), false);
}

export async function socks5Connect(p: ProxySettings, host: string, port: number, o: TunnelOptions): Promise<Socket> {
  const creds = await proxyCredentials(p);
  const target = `${host}:${port}`;
  // socks (and its ip-address parser) loads only when a SOCKS proxy is in use: ~20 ms off every start.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy loading is the point
  const { SocksClient } = require('socks') as typeof Socks;
  const pending = SocksClient.createConnection({
    proxy: { host: p.host, port: p.port, type: 5, ...(creds ? { userId: creds.username, password: creds.password } : {}) },
    destination: { host, port },
    command: 'connect',
    timeout: o.timeoutMs,
  });
  const signal = o.signal;
  if (signal?.aborted) throw new ProxyError('unreachable', `connecting through ${describeProxy(p)}: aborted`);
  const aborted = new Promise<never>((_, reject) => {
    signal?.addEventListener('abort', () => reject(new ProxyError('unreachable', `connecting through ${describeProxy(p)}: aborted`)), { once: true });
  });
  // A tunnel that opens after an abort is closed at once.
  pending.then(({ socket }) => void (signal?.aborted && socket.destroy()), () => undefined);
  try {
    const { socket } = await Promise.race([pending, aborted]);
    socket.setNoDelay(true);
    return socket;
  } catch (err) {
    if (err instanceof ProxyError) throw err;
    throw socksError(p, err as Error, target);
  }
}
