/**
 * What the agent watches around it while it runs, and says in the log and in STATUS: the way to the
 * broker (the connect loop, a lost connection, a take-over, a denial, a transport error), the state
 * directory's health and the wall clock (a step may make the certificate valid). The conditions
 * themselves are worded in src/agent/conditions.ts and src/agent/connection-trouble.ts; this module
 * wires them to the transport, the store and the clock.
 */
import { join } from 'node:path';
import { watchWallClock } from '../lib/clock';
import { errorMessage } from '../lib/errors';
import type { Logger } from '../lib/log';
import type { StateStore } from '../store/types';
import type { TransportError } from '../transport/errors';
import type { Denial, Transport } from '../transport/types';
import type { CertificateWindow } from './clock-trouble';
import { Conditions } from './conditions';
import { ConnectLoop } from './connect-loop';
import { ConnectionTrouble } from './connection-trouble';
import type { StatusText } from './status-text';

export interface WatchDeps {
  log: Logger;
  status: StatusText;
  transport: Transport;
  store: StateStore;
  stateDirectory: string;
  clientId: string;
  certificate: CertificateWindow | undefined;
  /** Aborted when the agent stops: ends the connect loop. */
  signal: AbortSignal;
  /** A first connection attempt already under way (src/agent/create.ts): the connect loop's first try. */
  firstConnect?: Promise<void>;
  /** The wall clock stepped: whatever waits for a date may be due now. */
  onClockJump(): void;
}

export class Watch {
  private readonly conditions: Conditions;
  private readonly trouble: ConnectionTrouble;
  /** Cuts the connect loop's backoff short (the wall clock moved: a certificate may be valid now). */
  private readonly connector: ConnectLoop;
  private stopClockWatch: (() => void) | undefined;

  constructor(private readonly d: WatchDeps) {
    this.conditions = new Conditions(d.log, d.status, join(d.stateDirectory, 'journal'), d.certificate);
    this.trouble = new ConnectionTrouble(d.log, d.status, d.stateDirectory, d.clientId);
    let first = d.firstConnect;
    this.connector = new ConnectLoop({
      // An attempt started before the agent: its outcome (and a failure's reason) is the loop's first.
      connect: () => {
        const attempt = first ?? d.transport.connect();
        first = undefined;
        return attempt;
      },
      onUp: () => this.conditions.connected(),
      onFailure: (err, retryInMs) => this.conditions.connectFailed(err, retryInMs),
      signal: d.signal,
    });
  }

  /** At start: listens to the transport, starts a fresh connection record, then watches the store and the clock. */
  async begin(): Promise<void> {
    const { transport, store } = this.d;
    transport.on('disconnect', (err?: Error) => {
      this.d.log.warn({ err: err ? errorMessage(err) : undefined }, 'disconnected from the broker; reconnecting');
      this.d.status.setActivity('reconnecting');
      const takeOver = (err as TransportError | undefined)?.takeOver;
      if (takeOver) this.trouble.takenOver(takeOver);
    });
    transport.on('denied', (denial: Denial) => this.trouble.denied(denial));
    transport.on('error', (err: Error) => this.conditions.transportError(err));
    transport.on('settled', () => this.trouble.settled());
    await this.trouble.reset();
    store.onHealthChange((h) => this.conditions.storage(h));
    if (!store.health.writable) this.conditions.storage(store.health);
    this.stopClockWatch = watchWallClock((jump, now) => this.onClockJump(jump, now));
  }

  /** Connects until up or stopped; does not wait for it. */
  connect(): void {
    void this.connector.run();
  }

  /** The transport is connected (a first connect or a reconnect): clock and proxy trouble are over. */
  connected(): void {
    this.conditions.connected();
  }

  /** A request was answered: a denial on record is over. */
  requestsWork(): void {
    this.trouble.requestsWork();
  }

  stopClock(): void {
    this.stopClockWatch?.();
  }

  /** Resolves once the connection record is written. */
  idle(): Promise<void> {
    return this.trouble.idle();
  }

  /** A wall-clock step: every deadline is monotonic, so only what depends on the date itself reacts. */
  private onClockJump(jumpMs: number, nowMs: number): void {
    this.conditions.clockJumped(jumpMs, nowMs);
    // A certificate that looked not yet valid (or expired) may be fine by the new time.
    this.connector.wake();
    this.d.onClockJump();
  }
}
