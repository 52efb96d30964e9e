/**
 * Transport failures with a typed `kind`, so an operator reads "the broker does not trust this
 * device's certificate" instead of "socket hang up", and the agent can decide what is worth a retry.
 */
import { AgentError } from '../lib/errors';
import type { ProxyError } from '../net';
import type { Denial, TakeOver } from './types';

export type TransportErrorKind =
  /** The broker's certificate does not chain to our rootCaFile. */
  | 'unknown-ca'
  /** The broker refused our client certificate (TLS alert, reset, or close before CONNACK). */
  | 'certificate-refused'
  /** The broker's certificate does not name the host we connected to. */
  | 'hostname-mismatch'
  /** CONNACK said not authorized / bad credentials (3.1.1 codes 4/5, MQTT 5 134/135/138). */
  | 'not-authorized'
  /** Nothing listens there, the host is unknown/unreachable, or CONNACK refused for another reason. */
  | 'connection-refused'
  /** The connection attempt did not complete within connectTimeoutMs. */
  | 'timeout'
  /**
   * The broker's certificate is not yet valid, or has expired, by this device's clock: on a device
   * without RTC that is usually the clock (before NTP has synced), not the certificate.
   */
  | 'certificate-time'
  /** Any other TLS failure (protocol version, ...). */
  | 'tls-other'
  /** Our own certificate, key or CA file cannot be read or used. */
  | 'credentials'
  /** An operation was attempted while not connected. */
  | 'offline'
  /** The transport was closed. */
  | 'closed'
  /** A publish topic that is empty or contains a wildcard. */
  | 'invalid-topic'
  /** SUBACK refused a filter. */
  | 'subscribe-refused'
  /** An MQTT 5 PUBACK carried a failure reason code (e.g. 135 not authorized). */
  | 'publish-refused'
  /** An established connection dropped. */
  | 'connection-lost'
  /** The broker closed the connection because another client connected with our client id. */
  | 'taken-over'
  /** The broker refused (or closed the connection on) one of our operations: an IoT policy denial. */
  | 'denied'
  /** A 'message' listener threw; the message is dropped, the connection kept. */
  | 'listener-error'
  /** The proxy cannot be reached (down, wrong address), did not answer in time, or broke the protocol. */
  | 'proxy-unreachable'
  /** The proxy refused our credentials (407/401, SOCKS5 authentication): retried after minutes. */
  | 'proxy-auth'
  /** The proxy will not open a tunnel to the endpoint (403 for the port, 502, SOCKS5 refusal). */
  | 'proxy-refused'
  /** TLS to an HTTPS proxy failed (its certificate is not trusted by proxy.caFile / the system store). */
  | 'proxy-tls';

const DESCRIPTIONS: Record<TransportErrorKind, string> = {
  'unknown-ca': "the broker's certificate is not signed by the configured root CA (tls.rootCaFile)",
  'certificate-refused':
    'the broker refused our client certificate (unknown issuer, revoked, inactive, or not allowed to connect)',
  'hostname-mismatch': "the broker's certificate does not name the configured endpoint host",
  'not-authorized': 'the broker accepted the TLS connection but refused the MQTT CONNECT as not authorized',
  'connection-refused': 'could not open a connection to the broker',
  timeout: 'the connection attempt timed out',
  'certificate-time': "the broker's certificate is outside its validity period by this device's clock (is the clock right?)",
  'tls-other': 'the TLS handshake failed',
  credentials: 'the client certificate, private key or root CA cannot be used',
  offline: 'not connected to the broker',
  closed: 'the transport is closed',
  'invalid-topic': 'invalid publish topic',
  'subscribe-refused': 'the broker refused a subscription',
  'publish-refused': 'the broker refused a publish',
  'connection-lost': 'the connection to the broker was lost',
  'taken-over': 'another client connected with this client id and the broker closed our connection',
  'denied': 'the broker refused an operation (not allowed by the IoT policy)',
  'listener-error': 'a message listener failed',
  'proxy-unreachable': 'the proxy cannot be reached',
  'proxy-auth': 'the proxy refused the credentials',
  'proxy-refused': 'the proxy refused to open a tunnel to the endpoint',
  'proxy-tls': 'the TLS connection to the proxy failed',
};

/** Kinds that a later attempt can cure without an operator changing anything. */
const RETRYABLE: ReadonlySet<TransportErrorKind> = new Set<TransportErrorKind>([
  'connection-refused',
  'timeout',
  'offline',
  'connection-lost',
  'taken-over',
  'tls-other',
  'certificate-time',
  'proxy-unreachable',
  'proxy-auth',
  'proxy-refused',
  'proxy-tls',
]);

// Node's verification codes for a certificate outside its validity period at our clock.
const OUT_OF_TIME = new Set(['CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED', 'CRL_NOT_YET_VALID', 'CRL_HAS_EXPIRED']);

export class TransportError extends AgentError {
  readonly kind: TransportErrorKind;
  /** Set for kind 'taken-over'. */
  readonly takeOver: TakeOver | undefined;
  /** Set for kind 'denied' (and a 'publish-refused'/'subscribe-refused' that was a denial). */
  readonly denial: Denial | undefined;
  /** The least wait before the next attempt (a refused proxy login: minutes). */
  readonly retryAfterMs?: number;
  constructor(kind: TransportErrorKind, detail?: string, opts: { cause?: unknown; retryAfterMs?: number; takeOver?: TakeOver; denial?: Denial } = {}) {
    super(`Transport.${kind}`, detail ? `${DESCRIPTIONS[kind]}: ${detail}` : DESCRIPTIONS[kind], {
      retryable: RETRYABLE.has(kind),
      cause: opts.cause,
    });
    this.kind = kind;
    this.takeOver = opts.takeOver;
    this.denial = opts.denial;
    if (opts.retryAfterMs !== undefined) this.retryAfterMs = opts.retryAfterMs;
  }
}

/** The error a lost connection is reported with, from the close verdict. */
export function lostConnectionError(
  verdict: { kind: 'taken-over'; takeOver: TakeOver } | { kind: 'denied'; denial: Denial } | { kind: 'server-shutdown' } | { kind: 'lost' },
  cause: Error | undefined,
  clientId: string,
): TransportError {
  switch (verdict.kind) {
    case 'taken-over':
      return new TransportError('taken-over', `client id ${clientId}${verdict.takeOver.certain ? '' : ' (likely)'}: ${verdict.takeOver.evidence}`, { takeOver: verdict.takeOver, cause });
    case 'denied': {
      const d = verdict.denial;
      return new TransportError('denied', `${d.likely ? 'likely ' : ''}${d.operation} to ${d.topic} needs ${d.policyAction} on ${d.resource}: ${d.evidence}`, { denial: d, cause });
    }
    case 'server-shutdown':
      return new TransportError('connection-lost', 'the broker is shutting down (MQTT 5 reason 0x8B)', { cause });
    case 'lost':
      return new TransportError('connection-lost', cause ? cause.message : 'closed by the broker', { cause });
  }
}

/** A failure on the way through the proxy, as the transport reports it. */
export function proxyTransportError(err: ProxyError): TransportError {
  const kind: TransportErrorKind = err.kind === 'auth' ? 'proxy-auth' : err.kind === 'refused' ? 'proxy-refused' : err.kind === 'tls' ? 'proxy-tls' : 'proxy-unreachable';
  return new TransportError(kind, err.message, { cause: err, ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}) });
}

/** What we observed of one failed connection attempt. */
export interface AttemptFailure {
  /** Error from the TLS socket, if any. */
  socketError?: Error & { code?: string };
  /** Error mqtt.js emitted (CONNACK refusal carries a numeric `code`). */
  clientError?: Error & { code?: string | number };
  /** Whether the TLS handshake completed. */
  secure: boolean;
  host: string;
  port: number;
}

// Node's verification codes for a server chain that does not lead to a trusted root.
const UNTRUSTED_CHAIN = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT']);

// OpenSSL codes for alerts the peer sends when it rejects the certificate we presented.
const CERT_ALERT =
  /ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_(REQUIRED|UNKNOWN|EXPIRED|REVOKED)|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED|HANDSHAKE_FAILURE|DECRYPT_ERROR)/;

const NOT_AUTHORIZED_CODES = new Set([4, 5, 134, 135, 138]);

function classifySocketError(err: Error & { code?: string }, f: AttemptFailure): TransportError {
  const code = err.code ?? '';
  const detail = `${code ? `${code}: ` : ''}${err.message.trim()} (${f.host}:${f.port})`;
  if (UNTRUSTED_CHAIN.has(code)) return new TransportError('unknown-ca', detail, { cause: err });
  if (OUT_OF_TIME.has(code)) return new TransportError('certificate-time', `${detail}; device time ${new Date().toISOString()}`, { cause: err });
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return new TransportError('hostname-mismatch', detail, { cause: err });
  if (CERT_ALERT.test(code)) return new TransportError('certificate-refused', detail, { cause: err });
  if (UNREACHABLE.has(code)) return new TransportError('connection-refused', detail, { cause: err });
  // A reset or EPIPE while the broker holds our certificate is how some brokers say no.
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    return new TransportError('certificate-refused', `connection reset before CONNACK, ${detail}`, { cause: err });
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code.startsWith('CERT_')) {
    return new TransportError('tls-other', detail, { cause: err });
  }
  return new TransportError('connection-refused', detail, { cause: err });
}

/** Map one failed attempt to the single most useful TransportError. */
export function classifyConnectFailure(f: AttemptFailure): TransportError {
  const connack = f.clientError?.code;
  if (typeof connack === 'number') {
    const kind = NOT_AUTHORIZED_CODES.has(connack) ? 'not-authorized' : 'connection-refused';
    return new TransportError(kind, `CONNACK code ${connack} (${f.clientError?.message ?? ''})`, {
      cause: f.clientError,
    });
  }
  if (f.socketError) return classifySocketError(f.socketError, f);
  if (f.clientError) return classifySocketError(f.clientError as Error & { code?: string }, f);
  // mosquitto (and AWS IoT for a certificate it does not know) may simply close the connection.
  const when = f.secure ? 'after the TLS handshake' : 'during the TLS handshake';
  return new TransportError('certificate-refused', `the broker closed the connection ${when}, before CONNACK`);
}
