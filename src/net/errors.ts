/**
 * What went wrong on the way through a proxy, typed so the agent can say it plainly (STATUS, log,
 * check-config) and wait accordingly: a refused login waits minutes, because proxies lock accounts
 * after a few failures.
 */
import { AgentError } from '../lib/errors';

export type ProxyErrorKind =
  /** Nothing answers at the proxy's address, or its name does not resolve. */
  | 'unreachable'
  /** The proxy refused our credentials (HTTP 407 or 401, SOCKS5 authentication failure). */
  | 'auth'
  /** The proxy answered but will not open the tunnel (403 for the port, 502 from upstream, SOCKS5 refusal). */
  | 'refused'
  /** The TLS handshake with an HTTPS proxy failed (its certificate is not trusted, ...). */
  | 'tls'
  /** The proxy answered something that is not a proxy's answer, or closed the connection. */
  | 'protocol'
  /** No answer from the proxy in time. */
  | 'timeout';

/** After a refused login, never try again sooner than this. */
export const AUTH_RETRY_MS = 5 * 60_000;

export class ProxyError extends AgentError {
  readonly kind: ProxyErrorKind;
  /** The HTTP status the proxy answered, when it did. */
  readonly status?: number;
  /** The least wait before the next attempt. */
  readonly retryAfterMs?: number;
  constructor(kind: ProxyErrorKind, message: string, opts: { status?: number | undefined; cause?: unknown; retryAfterMs?: number } = {}) {
    super(`Proxy.${kind}`, message, { retryable: true, cause: opts.cause });
    this.kind = kind;
    if (opts.status !== undefined) this.status = opts.status;
    const floor = opts.retryAfterMs ?? (kind === 'auth' ? AUTH_RETRY_MS : undefined);
    if (floor !== undefined) this.retryAfterMs = floor;
  }
}
