/** Ways out of the device: direct, or through an HTTP, HTTPS or SOCKS5 proxy. */
import type { Agent } from 'node:https';
import type * as HttpsAgentMod from './https-agent';

export { createDialer, directDialer, tunnel, type Dialer, type DialOptions } from './dial';
export { AUTH_RETRY_MS, ProxyError, type ProxyErrorKind } from './errors';
export { NoProxy } from './no-proxy';
export { describeProxy, redactUrl, resolveProxy, type ProxyKind, type ProxySettings } from './settings';
export { probeProxy, type ProbeResult } from './probe';

/**
 * An https.Agent whose connections go the Dialer's way (./https-agent). node:https loads with the
 * first HTTPS client (the data plane, a download), not at start-up: most devices never open one.
 */
export function createHttpsAgent(...args: Parameters<typeof HttpsAgentMod.createHttpsAgent>): Agent {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy loading is the point
  return (require('./https-agent') as typeof HttpsAgentMod).createHttpsAgent(...args);
}
