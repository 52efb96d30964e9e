/**
 * A TCP proxy the chaos harness puts between the agent and the broker, so it can break the
 * connection in the ways networks do: a drop (both sockets destroyed: the agent sees the connection
 * closed), a reset (a TCP RST to the agent: it sees ECONNRESET, as from a NAT or a Wi-Fi roam), a
 * stall (nothing forwarded for a while, then everything flows again) and a half-open connection
 * (nothing forwarded and nothing closed: only the agent's keep-alive can notice).
 */
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
  /** Bytes held back while the pair is stalled, per direction, replayed in order on release. */
  held: { up: Buffer[]; down: Buffer[] };
  stalled: boolean;
  /** Half-open: everything is swallowed and the pair is never released. */
  dead: boolean;
}

export interface ProxyStats {
  connections: number;
  drops: number;
  stalls: number;
  halfOpens: number;
}

export class ChaosProxy {
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  readonly stats: ProxyStats = { connections: 0, drops: 0, stalls: 0, halfOpens: 0 };
  private portValue = 0;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => this.accept(client));
  }

  get port(): number {
    return this.portValue;
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = this.server.address();
    this.portValue = typeof addr === 'object' && addr !== null ? addr.port : 0;
    return this.portValue;
  }

  /** Connections currently forwarding (not half-open). */
  get liveConnections(): number {
    return [...this.pairs].filter((p) => !p.dead).length;
  }

  private accept(client: Socket): void {
    this.stats.connections++;
    client.setNoDelay(true);
    const upstream = connect({ host: this.target.host, port: this.target.port });
    upstream.setNoDelay(true);
    const pair: Pair = { client, upstream, held: { up: [], down: [] }, stalled: false, dead: false };
    this.pairs.add(pair);
    const forward = (dir: 'up' | 'down', to: Socket) => (chunk: Buffer): void => {
      if (pair.dead) return;
      if (pair.stalled) pair.held[dir].push(chunk);
      else to.write(chunk);
    };
    client.on('data', forward('up', upstream));
    upstream.on('data', forward('down', client));
    // A half-open pair ignores the far side closing: only the near side giving up ends it.
    const close = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close);
    client.on('error', close);
    upstream.on('close', () => (pair.dead ? undefined : close()));
    upstream.on('error', () => (pair.dead ? undefined : close()));
  }

  /** Destroys every connection: the agent sees its socket reset at once. */
  drop(): number {
    this.stats.drops++;
    const n = this.pairs.size;
    for (const p of [...this.pairs]) {
      p.client.destroy();
      p.upstream.destroy();
      this.pairs.delete(p);
    }
    return n;
  }

  /**
   * Sends the agent a TCP RST on every connection (and closes the broker's side): the agent's socket
   * fails with ECONNRESET, an error on its side of the connection, unlike drop()'s orderly close.
   */
  reset(): number {
    const n = this.pairs.size;
    for (const p of [...this.pairs]) {
      this.pairs.delete(p);
      p.client.resetAndDestroy();
      p.upstream.destroy();
    }
    return n;
  }

  /** Holds every byte in both directions for `ms`, then delivers what was held, in order. */
  stall(ms: number): Promise<void> {
    this.stats.stalls++;
    const pairs = [...this.pairs].filter((p) => !p.dead);
    for (const p of pairs) p.stalled = true;
    return new Promise((resolve) =>
      setTimeout(() => {
        for (const p of pairs) this.release(p);
        resolve();
      }, ms),
    );
  }

  private release(p: Pair): void {
    p.stalled = false;
    if (p.dead) return;
    for (const c of p.held.up.splice(0)) p.upstream.write(c);
    for (const c of p.held.down.splice(0)) p.client.write(c);
  }

  /**
   * Every current connection stops forwarding and is never closed by the proxy, on either side:
   * only a keep-alive (the agent's, or the broker's) can find out.
   */
  halfOpen(): number {
    this.stats.halfOpens++;
    const pairs = [...this.pairs].filter((p) => !p.dead);
    for (const p of pairs) {
      p.dead = true;
      p.held.up.length = 0;
      p.held.down.length = 0;
    }
    return pairs.length;
  }

  async close(): Promise<void> {
    for (const p of [...this.pairs]) {
      p.client.destroy();
      p.upstream.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
