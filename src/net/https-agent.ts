/**
 * An https.Agent whose connections go the Dialer's way: for a host behind the proxy, TLS (with the
 * agent's certificate, key, CA and servername options) runs inside the proxy's tunnel; keep-alive
 * and socket reuse work as with any Agent. For a direct host it is a plain Agent connection.
 */
import { Agent, type AgentOptions, type RequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { Dialer } from './dial';

class TunnelAgent extends Agent {
  constructor(
    options: AgentOptions,
    private readonly dialer: Dialer,
    private readonly timeoutMs: number,
  ) {
    super(options);
  }

  // Node's Agent accepts a socket given later through the callback.
  override createConnection(options: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): undefined {
    const host = (options.host ?? 'localhost').replace(/^\[|\]$/g, '');
    const port = Number(options.port ?? 443);
    this.dialer.connect(host, port, { timeoutMs: this.timeoutMs }).then(
      (socket) => callback?.(null, tlsConnect({ ...(options as ConnectionOptions), socket })),
      (err: Error) => callback?.(err, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/** An Agent for `host` (the one the client talks to): tunnelled when the proxy applies to it. */
export function createHttpsAgent(options: AgentOptions, dialer: Dialer | undefined, host: string, timeoutMs = 15_000): Agent {
  if (dialer === undefined || dialer.route(host) === undefined) return new Agent(options);
  return new TunnelAgent(options, dialer, timeoutMs);
}
