/**
 * The transport over the AWS IoT Device SDK v2 (aws-crt): the one that can use a private key held in
 * a PKCS#11 token (TPM, secure element, HSM). Same contract and behaviour as MqttTransport: one
 * fresh native client per connection attempt, reconnects with the shared capped backoff, bounded
 * operations, typed errors, re-subscription before 'connect', and close() leaves no open handle.
 *
 * The SDK is an optional dependency loaded here, at construction, and only when this transport is
 * selected. MQTT 3.1.1 is the better choice for aws-crt: its disconnect() frees everything at once,
 * while an MQTT 5 client is freed only by a (forced) garbage collection (see crt-session).
 */
import { EventEmitter } from 'node:events';
import type * as Sdk from 'aws-iot-device-sdk-v2';
import { Backoff, sleep, withTimeout } from '../lib/backoff';
import { monotonicMs } from '../lib/clock';
import { AbortedError, TimeoutError, errorMessage } from '../lib/errors';
import { classifyCrtError, crtErrorName } from './crt-errors';
import { loadCrt, type CrtModules } from './crt-load';
import { CloseClassifier, type PendingOperation } from './close-reason';
import { createSession, type CrtLoss, type CrtSession } from './crt-session';
import { lostConnectionError, TransportError } from './errors';
import { TakeOverWatch } from './takeover';
import type { IncomingMessage, QoS, Transport, TransportOptions } from './types';

const DEFAULT_OPERATION_TIMEOUT_MS = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
const DEFAULT_RECONNECT = { baseMs: 1_000, maxMs: 60_000 };
/** A connection that lived this long resets the backoff; shorter ones (flapping) do not. */
const STABLE_CONNECTION_MS = 30_000;
/** AWS IoT accepts at most 8 filters per SUBSCRIBE. */
const FILTERS_PER_SUBSCRIBE = 8;

function invalidPublishTopic(topic: string): string | undefined {
  if (topic.length === 0) return 'empty topic';
  if (/[+#]/.test(topic)) return `wildcards are not allowed in a publish topic: ${topic}`;
  if (topic.includes('\u0000')) return 'NUL character in topic';
  return undefined;
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export interface CrtTransportDeps {
  /** Loads the SDK (default: require it); injectable to test a platform without it. */
  load?: () => CrtModules;
}

export class CrtTransport extends EventEmitter implements Transport {
  private readonly crt: CrtModules;
  private readonly pkcs11Lib: Sdk.io.Pkcs11Lib | undefined;
  private live: CrtSession | undefined;
  private isConnected = false;
  private closed = false;
  private connecting: Promise<void> | undefined;
  private abortAttempt: (() => void) | undefined;
  private readonly subscriptions = new Map<string, QoS>();
  private readonly inflight = new Set<(err: Error) => void>();
  private readonly backoff: Backoff;
  private readonly stopReconnect = new AbortController();
  private reconnectLoop: Promise<void> | undefined;
  private connectedAt = 0;
  private readonly operationTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  /** Set by a refused PIN: later attempts fail at once instead of trying it again on the token. */
  private pinRefused: TransportError | undefined;
  /** Our PUBLISH/SUBSCRIBE packets still waiting for their acknowledgement: what a close may answer. */
  private readonly pending = new Set<PendingOperation>();
  private readonly closes = new CloseClassifier();
  private readonly takeOver: TakeOverWatch;

  /** Throws a TransportError when the SDK or the PKCS#11 library cannot be loaded. */
  constructor(private readonly opts: TransportOptions, deps: CrtTransportDeps = {}) {
    super();
    this.operationTimeoutMs = opts.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.backoff = new Backoff(opts.reconnect ?? DEFAULT_RECONNECT);
    this.takeOver = new TakeOverWatch(opts.takeoverBackoffMs, () => {
      this.closes.settled();
      this.emit('settled');
    });
    if (!opts.pkcs11 && opts.tls.privateKeyFile === undefined) {
      throw new TransportError('credentials', 'the aws-crt transport needs tls.privateKeyFile or a pkcs11 section');
    }
    this.crt = (deps.load ?? loadCrt)();
    this.pkcs11Lib = opts.pkcs11 ? this.openLibrary(opts.pkcs11.library) : undefined;
  }

  private openLibrary(path: string): Sdk.io.Pkcs11Lib {
    try {
      // Default behaviour: the library is initialised once for this process and finalised at exit.
      return new this.crt.io.Pkcs11Lib(path);
    } catch (err) {
      throw classifyCrtError(err, `pkcs11.library ${path}`);
    }
  }

  get connected(): boolean {
    return this.isConnected;
  }

  connect(): Promise<void> {
    if (this.closed) return Promise.reject(new TransportError('closed'));
    if (this.isConnected) return Promise.resolve();
    if (this.reconnectLoop) return this.nextConnect();
    this.connecting ??= this.attempt()
      .then((sessionPresent) => this.onEstablished(sessionPresent, this.subscriptions.size > 0))
      .finally(() => {
        this.connecting = undefined;
      });
    return this.connecting;
  }

  private nextConnect(): Promise<void> {
    let onConnect: () => void = () => undefined;
    const connected = new Promise<void>((resolve) => {
      onConnect = resolve;
      this.once('connect', onConnect);
    });
    return withTimeout(connected, this.connectTimeoutMs, () => {
      this.off('connect', onConnect);
      return new TransportError('timeout', `not reconnected within ${this.connectTimeoutMs} ms`);
    });
  }

  async subscribe(filters: string[], qos: QoS = 1): Promise<void> {
    for (const group of chunk(filters, FILTERS_PER_SUBSCRIBE)) {
      await this.operation(`subscribe ${group.join(', ')}`, (s) => s.subscribe(group, qos), { operation: 'subscribe', topic: group.join(', ') });
      for (const f of group) this.subscriptions.set(f, qos);
    }
  }

  async unsubscribe(filters: string[]): Promise<void> {
    for (const f of filters) this.subscriptions.delete(f);
    if (filters.length === 0) return;
    await this.operation(`unsubscribe ${filters.join(', ')}`, (s) => s.unsubscribe(filters));
  }

  async publish(topic: string, payload: string | Buffer, qos: QoS = 1): Promise<void> {
    const invalid = invalidPublishTopic(topic);
    if (invalid !== undefined) throw new TransportError('invalid-topic', invalid);
    await this.operation(`publish to ${topic}`, (s) => s.publish(topic, payload, qos), qos === 1 ? { operation: 'publish', topic } : undefined);
  }

  restart(): void {
    if (this.live && !this.closed) this.onLost(this.live, { error: new Error('restarted to use a new identity'), peerClosed: false });
  }

  async close(): Promise<void> {
    if (this.closed) {
      await this.reconnectLoop;
      return;
    }
    this.closed = true;
    this.stopReconnect.abort();
    this.takeOver.stop();
    this.abortAttempt?.();
    this.failInflight(new TransportError('closed'));
    const wasConnected = this.isConnected;
    this.isConnected = false;
    const live = this.live;
    this.live = undefined;
    await live?.close();
    await this.reconnectLoop;
    await this.connecting?.catch(() => undefined);
    if (wasConnected) this.emit('disconnect', undefined);
  }

  /** Run one acknowledged operation, bounded by the operation timeout and failed at once on disconnect. */
  private operation(what: string, run: (s: CrtSession) => Promise<void>, track?: Omit<PendingOperation, 'sentAt'>): Promise<void> {
    if (this.closed) return Promise.reject(new TransportError('closed'));
    const live = this.live;
    if (!this.isConnected || !live) return Promise.reject(new TransportError('offline', `cannot ${what}`));
    const pending = track ? { ...track, sentAt: monotonicMs() } : undefined;
    if (pending) this.pending.add(pending);
    let reject: (err: Error) => void = () => undefined;
    const op = new Promise<void>((resolve, rej) => {
      reject = rej;
      run(live).then(resolve, (err: unknown) => {
        if (err instanceof TransportError && err.denial) this.emit('denied', err.denial);
        rej(err instanceof TransportError ? err : new TransportError('connection-lost', `${what}: ${errorMessage(err)}`, { cause: err }));
      });
    });
    this.inflight.add(reject);
    return withTimeout(op, this.operationTimeoutMs, () => new TimeoutError(what, this.operationTimeoutMs)).finally(() => {
      this.inflight.delete(reject);
      if (pending) this.pending.delete(pending);
    });
  }

  private failInflight(err: Error): void {
    for (const reject of this.inflight) reject(err);
    this.inflight.clear();
  }

  /** One connection attempt with a fresh session; resolves with sessionPresent, leaves `this.live` set. */
  private async attempt(): Promise<boolean> {
    if (this.closed) throw new TransportError('closed', 'closed while connecting');
    if (this.pinRefused) {
      const first = this.pinRefused;
      throw new TransportError('credentials', `PIN not tried again (a token may lock after repeated wrong PINs); fix it and restart: ${first.message}`, { cause: first });
    }
    let session: CrtSession;
    try {
      session = createSession(this.crt, this.opts, this.pkcs11Lib, {
        onMessage: (msg) => this.deliver(msg),
        onLost: (loss) => this.onLost(session, loss),
      });
    } catch (err) {
      throw this.failed(err);
    }
    try {
      const sessionPresent = await this.bounded(session.connect());
      if (this.closed) throw new TransportError('closed', 'closed while connecting');
      this.live = session;
      return sessionPresent;
    } catch (err) {
      await session.close();
      throw this.failed(err);
    } finally {
      this.abortAttempt = undefined;
    }
  }

  /** Classify an attempt's failure; remember a refused PIN so it is never tried again. */
  private failed(err: unknown): TransportError {
    const failure = err instanceof TransportError ? err : classifyCrtError(err, `${this.opts.host}:${this.opts.port}`);
    if (/PIN_/.test(crtErrorName(failure.cause))) this.pinRefused = failure;
    return failure;
  }

  /** The connect timeout, and close() failing the attempt at once. */
  private bounded(connecting: Promise<boolean>): Promise<boolean> {
    const aborted = new Promise<never>((_, reject) => {
      this.abortAttempt = () => reject(new TransportError('closed', 'closed while connecting'));
    });
    const { host, port } = this.opts;
    return withTimeout(Promise.race([connecting, aborted]), this.connectTimeoutMs, () => {
      return new TransportError('timeout', `no CONNACK from ${host}:${port} within ${this.connectTimeoutMs} ms`);
    });
  }

  private deliver(msg: IncomingMessage): void {
    try {
      this.emit('message', msg);
    } catch (err) {
      this.emitError(new TransportError('listener-error', `'message' listener threw: ${errorMessage(err)}`, { cause: err }));
    }
  }

  private emitError(err: TransportError): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  private async onEstablished(sessionPresent: boolean, resubscribe: boolean): Promise<void> {
    this.isConnected = true;
    this.connectedAt = monotonicMs();
    this.takeOver.connected();
    if (resubscribe) await this.resubscribe();
    if (!this.isConnected) return;
    this.emit('connect', { sessionPresent });
  }

  private async resubscribe(): Promise<void> {
    const byQos = new Map<QoS, string[]>();
    for (const [filter, qos] of this.subscriptions) byQos.set(qos, [...(byQos.get(qos) ?? []), filter]);
    for (const [qos, filters] of byQos) {
      for (const group of chunk(filters, FILTERS_PER_SUBSCRIBE)) {
        await this.operation(`re-subscribe ${group.join(', ')}`, (s) => s.subscribe(group, qos)).catch((err: unknown) =>
          this.emitError(
            err instanceof TransportError ? err : new TransportError('subscribe-refused', `re-subscribe ${group.join(', ')}: ${errorMessage(err)}`, { cause: err }),
          ),
        );
      }
    }
  }

  /**
   * Why the broker closed, as far as aws-crt tells (docs/PROTOCOL.md §11.3): the same verdicts as the
   * mqtt.js transport, from the MQTT 5 DISCONNECT's reason code, or from a bare hang-up.
   */
  private onLost(session: CrtSession, loss: CrtLoss): void {
    if (this.live !== session || this.closed) return;
    this.live = undefined;
    this.isConnected = false;
    const closedAt = monotonicMs();
    const ours = loss.peerClosed || loss.reasonCode !== undefined ? undefined : loss.error;
    const verdict = this.closes.classify({ reasonCode: loss.reasonCode, error: ours, connectedAt: this.connectedAt, closedAt, pending: [...this.pending] });
    this.pending.clear();
    this.takeOver.disconnected(verdict.kind === 'taken-over');
    const firstDelay = this.takeOver.delay();
    if (verdict.kind === 'taken-over' && firstDelay !== undefined) verdict.takeOver.retryInMs = firstDelay;
    const err = lostConnectionError(verdict, loss.error, this.opts.clientId);
    this.failInflight(err);
    void session.close();
    if (closedAt - this.connectedAt >= STABLE_CONNECTION_MS) this.backoff.reset();
    if (err.denial) this.emit('denied', err.denial);
    this.emit('disconnect', err);
    this.reconnectLoop = this.reconnect(firstDelay).finally(() => {
      this.reconnectLoop = undefined;
    });
  }

  private async reconnect(firstDelay: number | undefined): Promise<void> {
    const signal = this.stopReconnect.signal;
    let delay = firstDelay;
    let retryAfterMs: number | undefined;
    while (!this.closed) {
      try {
        // After a take-over, the slow back-off: two clients with one id must not fight at full speed.
        await sleep(delay ?? this.takeOver.delay() ?? this.backoff.next(retryAfterMs), signal);
        delay = undefined;
        const sessionPresent = await this.attempt();
        if (this.closed) return;
        await this.onEstablished(sessionPresent, true);
        return;
      } catch (err) {
        if (err instanceof AbortedError || this.closed) return;
        this.closes.attemptFailed();
        // A refused proxy login waits minutes: proxies lock accounts.
        retryAfterMs = err instanceof TransportError ? err.retryAfterMs : undefined;
        this.emitError(err instanceof TransportError ? err : new TransportError('connection-refused', errorMessage(err)));
        // A wrong PIN must not be retried: a real token locks after a few.
        if (this.pinRefused) return;
      }
    }
  }
}
