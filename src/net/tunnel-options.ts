/** What every tunnel takes, and how a socket-level failure on the way to the proxy is named. */
import { ProxyError } from './errors';
import { describeProxy, type ProxySettings } from './settings';

export interface TunnelOptions {
  /** Bound on reaching the proxy and getting its answer. */
  timeoutMs: number;
  signal?: AbortSignal;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EADDRNOTAVAIL']);

/** `duringTls`: the failure came before an HTTPS proxy's handshake completed. */
export function classifySocketError(p: ProxySettings, err: Error & { code?: string }, duringTls: boolean): ProxyError {
  if (err instanceof ProxyError) return err;
  const code = err.code ?? '';
  const where = describeProxy(p);
  if (UNREACHABLE.has(code)) return new ProxyError('unreachable', `cannot reach the proxy ${where}: ${err.message}`, { cause: err });
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code.startsWith('CERT_') || /certificate|self.signed|UNABLE_TO|DEPTH_ZERO/i.test(`${code} ${err.message}`)) {
    return new ProxyError('tls', `TLS to the proxy ${where} failed: ${code ? `${code}: ` : ''}${err.message}`, { cause: err });
  }
  if (duringTls) return new ProxyError('tls', `the proxy ${where} closed the connection during the TLS handshake: ${err.message}`, { cause: err });
  return new ProxyError('protocol', `the proxy ${where} closed the connection without an answer: ${err.message}`, { cause: err });
}
