/** Ways out of the device: direct, or through an HTTP, HTTPS or SOCKS5 proxy. */
export { createDialer, directDialer, tunnel, type Dialer, type DialOptions } from './dial';
export { AUTH_RETRY_MS, ProxyError, type ProxyErrorKind } from './errors';
export { NoProxy } from './no-proxy';
export { describeProxy, redactUrl, resolveProxy, type ProxyKind, type ProxySettings } from './settings';
export { createHttpsAgent } from './https-agent';
export { probeProxy, type ProbeResult } from './probe';
