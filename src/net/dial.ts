/**
 * The one way out of the device (docs/ARCHITECTURE.md §3, "Through a proxy"): every connection the
 * agent and its built-in handlers open asks the Dialer. With a proxy that applies to the host it
 * returns a tunnel through that proxy and never falls back to a direct connection; otherwise a
 * direct TCP connection. Callers run their own TLS over the returned stream.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { monotonicMs } from '../lib/clock';
import { AUTH_RETRY_MS, ProxyError } from './errors';
import { httpConnect } from './http-connect';
import { describeProxy, type ProxySettings } from './settings';
import { socks5Connect } from './socks5';
import type { TunnelOptions } from './tunnel-options';

export interface DialOptions {
  signal?: AbortSignal;
  /** Bound on getting a connected stream (default 15 s). */
  timeoutMs?: number;
}

export interface Dialer {
  /** The proxy connections to `host` go through, or undefined when they go directly. */
  route(host: string): ProxySettings | undefined;
  /** `http://user@proxy:3128` for `host`, or undefined when direct: for logs. */
  proxyFor(host: string): string | undefined;
  /** A connected TCP stream to host:port: a tunnel when a proxy applies, else direct. */
  connect(host: string, port: number, o?: DialOptions): Promise<Socket>;
}

const DEFAULT_TIMEOUT_MS = 15_000;

/** Through `p`, whatever noProxy says (the caller decided). */
export function tunnel(p: ProxySettings, host: string, port: number, o: DialOptions = {}): Promise<Socket> {
  const t: TunnelOptions = { timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS, ...(o.signal ? { signal: o.signal } : {}) };
  return p.kind === 'socks5' ? socks5Connect(p, host, port, t) : httpConnect(p, host, port, t);
}

function direct(host: string, port: number, o: DialOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port, noDelay: true, ...(o.signal ? { signal: o.signal } : {}) });
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`connect to ${host}:${port} timed out`), { code: 'ETIMEDOUT' })), o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    socket.once('error', onError);
  });
}

/**
 * After the proxy refused our login, nobody (MQTT, data plane, downloads) tries again before the
 * hold ends: a proxy locks an account after a few failures, whoever makes them.
 */
class AuthHold {
  private until = 0;
  private last: ProxyError | undefined;

  check(): void {
    const left = this.until - monotonicMs();
    if (this.last === undefined || left <= 0) return;
    const again = new Date(Date.now() + left).toISOString();
    throw new ProxyError('auth', `${this.last.message}; not tried again before ${again}`, { status: this.last.status, retryAfterMs: left });
  }

  async guard(attempt: Promise<Socket>): Promise<Socket> {
    try {
      return await attempt;
    } catch (err) {
      if (err instanceof ProxyError && err.kind === 'auth') {
        this.last = err;
        this.until = monotonicMs() + AUTH_RETRY_MS;
      }
      throw err;
    }
  }
}

export function createDialer(proxy: ProxySettings | undefined): Dialer {
  const route = (host: string): ProxySettings | undefined => (proxy === undefined || proxy.noProxy.matches(host) ? undefined : proxy);
  const hold = new AuthHold();
  const through = async (p: ProxySettings, host: string, port: number, o: DialOptions): Promise<Socket> => {
    hold.check();
    return hold.guard(tunnel(p, host, port, o));
  };
  return {
    route,
    proxyFor: (host) => {
      const p = route(host);
      return p === undefined ? undefined : describeProxy(p);
    },
    connect: (host, port, o = {}) => {
      const p = route(host);
      return p === undefined ? direct(host, port, o) : through(p, host, port, o);
    },
  };
}

export const directDialer: Dialer = createDialer(undefined);

