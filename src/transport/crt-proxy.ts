/**
 * The proxy for the aws-crt transport. aws-crt tunnels MQTT through an HTTP proxy itself
 * (HttpProxyOptions, CONNECT with Basic authentication, optionally TLS to the proxy), so the
 * device's mTLS runs inside the tunnel and the proxy resolves the endpoint's name. It has no SOCKS5
 * for MQTT: that is refused here with a clear message (check-config says so too).
 */
import { readFileSync } from 'node:fs';
import type * as Sdk from 'aws-iot-device-sdk-v2';
import { errorMessage } from '../lib/errors';
import { describeProxy, type ProxySettings } from '../net';
import type { CrtModules } from './crt-load';
import { TransportError } from './errors';
import type { TransportOptions } from './types';

/** Read when a session is built (aws-crt wants it synchronously); a changed password applies at the next reconnect. */
function password(p: ProxySettings): string {
  if (p.password === undefined) return '';
  if ('text' in p.password) return p.password.text;
  try {
    return readFileSync(p.password.file, 'utf8').split(/\r?\n/)[0] ?? '';
  } catch (err) {
    throw new TransportError('proxy-unreachable', `cannot read proxy.passwordFile ${p.password.file}: ${errorMessage(err)}`, { cause: err });
  }
}

function proxyTls(crt: CrtModules, p: ProxySettings): Sdk.io.TlsConnectionOptions | undefined {
  if (p.kind !== 'https') return undefined;
  const { io } = crt;
  const opts = new io.TlsContextOptions();
  if (p.caFile !== undefined) opts.override_default_trust_store_from_path(undefined, p.caFile);
  return new io.TlsConnectionOptions(new io.ClientTlsContext(opts), p.host);
}

/** HttpProxyOptions for the endpoint, or undefined when it is reached directly. */
export function crtProxyOptions(crt: CrtModules, o: TransportOptions): Sdk.http.HttpProxyOptions | undefined {
  const p = o.network?.route(o.host);
  if (p === undefined) return undefined;
  if (p.kind === 'socks5') {
    throw new TransportError('credentials', `mqtt.transport "aws-crt" cannot use a SOCKS5 proxy (${describeProxy(p)}): use an HTTP(S) proxy, or mqtt.transport "mqtt"`);
  }
  const { http } = crt;
  const basic = p.username !== undefined;
  return new http.HttpProxyOptions(
    p.host,
    p.port,
    basic ? http.HttpProxyAuthenticationType.Basic : http.HttpProxyAuthenticationType.None,
    basic ? p.username : undefined,
    basic ? password(p) : undefined,
    proxyTls(crt, p),
    http.HttpProxyConnectionType.Tunneling,
  );
}
