/** `check-config`: open one tunnel to the endpoint through the proxy and say what the proxy answered. */
import { errorMessage } from '../lib/errors';
import type { Dialer } from './dial';
import { ProxyError } from './errors';
import { describeProxy } from './settings';

export interface ProbeResult {
  ok: boolean;
  /** One line for the operator: the proxy, the target, and the answer. */
  text: string;
}

export async function probeProxy(dialer: Dialer, host: string, port: number, timeoutMs = 15_000): Promise<ProbeResult | undefined> {
  const p = dialer.route(host);
  if (p === undefined) return undefined;
  const via = `${describeProxy(p)} (from ${p.source})`;
  try {
    const socket = await dialer.connect(host, port, { timeoutMs });
    socket.destroy();
    const answer = p.kind === 'socks5' ? 'SOCKS5 CONNECT granted' : 'CONNECT answered HTTP 200';
    return { ok: true, text: `proxy ${via}: tunnel to ${host}:${port} open (${answer})` };
  } catch (err) {
    const kind = err instanceof ProxyError ? err.kind : 'unreachable';
    return { ok: false, text: `proxy ${via}: no tunnel to ${host}:${port} [${kind}]: ${errorMessage(err)}` };
  }
}
