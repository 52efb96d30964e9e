/**
 * aws-crt reports failures as Errors (or, for an MQTT 3.1.1 connect, a plain string) whose text
 * carries an AWS error name. Map them onto the same TransportError kinds as the mqtt.js transport,
 * with the PKCS#11 ones explained in terms of the configuration keys an operator can fix.
 */
import { errorMessage } from '../lib/errors';
import { AUTH_RETRY_MS } from '../net';
import { TransportError, type TransportErrorKind } from './errors';

interface Rule {
  match: RegExp;
  kind: TransportErrorKind;
  explain: string;
}

const RULES: Rule[] = [
  // aws-crt does not tell a 407 from a 403 or 502: every refused CONNECT is one error.
  { match: /HTTP_PROXY_CONNECT_FAILED|PROXY_STRATEGY|HTTP_PROXY/, kind: 'proxy-refused', explain: 'the proxy refused the CONNECT to the endpoint (wrong credentials, or the port is not allowed)' },
  { match: /PROXY/, kind: 'proxy-unreachable', explain: 'the proxy cannot be reached' },
  { match: /PKCS11_CKR_PIN_(INCORRECT|INVALID|LEN_RANGE)/, kind: 'credentials', explain: 'the PKCS#11 PIN is wrong (pkcs11.pinFile / pkcs11.pinEnv); not retried, a token may lock after repeated wrong PINs' },
  { match: /PKCS11_CKR_PIN_(LOCKED|EXPIRED)/, kind: 'credentials', explain: 'the PKCS#11 token PIN is locked or expired: unlock it with the SO PIN' },
  { match: /PKCS11_TOKEN_NOT_FOUND/, kind: 'credentials', explain: 'no PKCS#11 token matches pkcs11.tokenLabel / pkcs11.slotId (or several do)' },
  { match: /PKCS11_KEY_NOT_FOUND/, kind: 'credentials', explain: 'no private key with pkcs11.keyLabel in the token (or several)' },
  { match: /SHARED_LIBRARY_LOAD_FAILURE|SHARED_LIBRARY_FIND_SYMBOL_FAILURE/, kind: 'credentials', explain: 'the PKCS#11 library (pkcs11.library) cannot be loaded' },
  { match: /PKCS11/, kind: 'credentials', explain: 'the PKCS#11 token refused an operation' },
  { match: /FILE_VALIDATION_FAILURE|AWS_ERROR_FILE_|NO_SUCH_FILE|AWS_IO_FILE/, kind: 'credentials', explain: 'a certificate, key or CA file cannot be read' },
  { match: /PEM|DECODE|X509|PRIVATE_KEY/, kind: 'credentials', explain: 'the client certificate, private key or root CA cannot be parsed' },
  { match: /TLS_ERROR_NEGOTIATION_FAILURE|TLS_ALERT|TLS_NEGOTIATION/, kind: 'certificate-refused', explain: 'TLS negotiation failed: the broker refused our certificate (or its key in the token does not match it), or its certificate is not trusted by tls.rootCaFile' },
  { match: /TLS/, kind: 'tls-other', explain: 'TLS failure' },
  { match: /CONNACK_NOT_AUTHORIZED|CONNACK_BAD_USERNAME|NOT_AUTHORIZED/, kind: 'not-authorized', explain: 'CONNACK not authorized' },
  { match: /SOCKET_CONNECTION_REFUSED|DNS_|NO_ROUTE|NETWORK_DOWN|SOCKET_TIMEOUT|HOST/, kind: 'connection-refused', explain: 'cannot reach the broker' },
  { match: /UNEXPECTED_HANGUP|SOCKET_CLOSED|CONNECTION_RESET/, kind: 'certificate-refused', explain: 'the broker closed the connection before CONNACK' },
  { match: /CONNACK|CONNECTION_REFUSED/, kind: 'connection-refused', explain: 'CONNACK refused the connection' },
  { match: /TIMEOUT/, kind: 'timeout', explain: 'timed out' },
];

/** The AWS error name in an aws-crt failure, e.g. AWS_ERROR_PKCS11_CKR_PIN_INCORRECT. */
export function crtErrorName(err: unknown): string {
  const e = err as { error_name?: unknown } | undefined;
  if (e && typeof e.error_name === 'string') return e.error_name;
  return /\bAWS_[A-Z0-9_]+/.exec(errorMessage(err))?.[0] ?? '';
}

/** Classify one failure of a connection attempt (or of building its TLS context). */
export function classifyCrtError(err: unknown, where: string): TransportError {
  if (err instanceof TransportError) return err;
  const text = `${crtErrorName(err)} ${errorMessage(err)}`;
  const rule = RULES.find((r) => r.match.test(text));
  const detail = `${rule?.explain ?? 'connection failed'} (${errorMessage(err).trim()}; ${where})`;
  // A refused CONNECT may be a refused login: wait as long as for one (proxies lock accounts).
  const retryAfterMs = rule?.kind === 'proxy-refused' ? AUTH_RETRY_MS : undefined;
  return new TransportError(rule?.kind ?? 'connection-refused', detail, { cause: err, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
}

/** MQTT 5 CONNACK reason codes that mean "not authorized" (134 bad user/password, 135, 138 banned). */
export function connackRefusal(reasonCode: number | undefined, where: string): TransportError | undefined {
  if (reasonCode === undefined || reasonCode < 128) return undefined;
  const kind = [134, 135, 138].includes(reasonCode) ? 'not-authorized' : 'connection-refused';
  return new TransportError(kind, `CONNACK reason code ${reasonCode} (${where})`);
}
