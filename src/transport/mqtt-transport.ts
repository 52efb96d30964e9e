/**
 * The MQTT facade over mqtt.js 5. mqtt.js reconnects on its own, but then the caller cannot tell
 * why a connection failed, a refused certificate is retried every second for ever, and awaited
 * publishes can hang while offline (MQTT.js #1987). So each attempt is one fresh MqttClient with
 * `reconnectPeriod: 0`, reconnects use our capped exponential backoff with full jitter, and every
 * operation is bounded. One attempt (TLS, proxy tunnel, CONNACK) is src/transport/mqtt-attempt.ts;
 * this class owns what follows: operations, why a connection was lost, reconnects.
 *
 * Subscriptions: the transport remembers every filter subscribed successfully (minus those
 * unsubscribed) and re-subscribes them after a reconnect BEFORE it emits 'connect', so a listener
 * that publishes requests on 'connect' already receives their responses.
 */
import { EventEmitter } from 'node:events';
import type MqttClient from 'mqtt/lib/client';
import { Backoff, sleep, withTimeout } from '../lib/backoff';
import { monotonicMs } from '../lib/clock';
import { AbortedError, TimeoutError, errorMessage } from '../lib/errors';
import { CloseClassifier, denialOf, RC_NOT_AUTHORIZED, type PendingOperation } from './close-reason';
import { lostConnectionError, TransportError } from './errors';
import { endClient, MqttAttempts, type Live } from './mqtt-attempt';
import type { IncomingMessage, QoS, Transport, TransportOptions } from './types';
import { TakeOverWatch } from './takeover';

const DEFAULT_OPERATION_TIMEOUT_MS = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
const DEFAULT_RECONNECT = { baseMs: 1_000, maxMs: 60_000 };
/** A connection that lived this long resets the backoff; shorter ones (flapping, id takeover) do not. */
const STABLE_CONNECTION_MS = 30_000;
/** AWS IoT accepts at most 8 filters per SUBSCRIBE. */
const FILTERS_PER_SUBSCRIBE = 8;

/** Publish topics must be concrete: a wildcard or NUL would be a protocol error at the broker. */
function invalidPublishTopic(topic: string): string | undefined {
  if (topic.length === 0) return 'empty topic';
  if (/[+#]/.test(topic)) return `wildcards are not allowed in a publish topic: ${topic}`;
  if (topic.includes('\u0000')) return 'NUL character in topic';
  return undefined;
}

/** mqtt.js fails callbacks with plain Errors; give callers a TransportError they can switch on. */
function operationError(what: string, err: Error & { code?: unknown }, op?: Omit<PendingOperation, 'sentAt'>): Error {
  if (err instanceof TransportError) return err;
  if (typeof err.code === 'number') {
    // PUBACK 0x87: the MQTT 5 way of saying the IoT policy does not allow this publish.
    const denial = err.code === RC_NOT_AUTHORIZED && op ? denialOf(op, `PUBACK reason 0x87 (not authorized)`, false) : undefined;
    const detail = denial ? `${what} needs ${denial.policyAction} on ${denial.resource}` : what;
    return new TransportError('publish-refused', `${detail}: ${err.message}`, { cause: err, ...(denial ? { denial } : {}) });
  }
  return new TransportError('connection-lost', `${what}: ${err.message}`, { cause: err });
}

/** SUBACK codes in filter order, from the SUBACK packet mqtt.js hands a failed subscribe. */
function grantedCodes(suback: { granted?: unknown[] } | undefined): number[] {
  return (suback?.granted ?? []).map((g) => (typeof g === 'number' ? g : Number((g as { qos?: unknown }).qos)));
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class MqttTransport extends EventEmitter implements Transport {
  private live: Live | undefined;
  private isConnected = false;
  private closed = false;
  private connecting: Promise<void> | undefined;
  private readonly subscriptions = new Map<string, QoS>();
  /** Rejecters of in-flight operations, failed at once when the connection drops. */
  private readonly inflight = new Set<(err: Error) => void>();
  private readonly backoff: Backoff;
  private readonly stopReconnect = new AbortController();
  private reconnectLoop: Promise<void> | undefined;
  private connectedAt = 0;
  private readonly operationTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  /** Our PUBLISH/SUBSCRIBE packets still waiting for their acknowledgement: what a close may answer. */
  private readonly pending = new Set<PendingOperation>();
  private readonly closes = new CloseClassifier();
  private readonly takeOver: TakeOverWatch;
  private readonly attempts: MqttAttempts;

  constructor(private readonly opts: TransportOptions) {
    super();
    this.operationTimeoutMs = opts.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.backoff = new Backoff(opts.reconnect ?? DEFAULT_RECONNECT);
    this.attempts = new MqttAttempts(opts, this.connectTimeoutMs, this.stopReconnect.signal);
    this.takeOver = new TakeOverWatch(opts.takeoverBackoffMs, () => {
      this.closes.settled();
      this.emit('settled');
    });
  }

  get connected(): boolean {
    return this.isConnected;
  }

  /** One attempt: resolves on CONNACK, rejects with a classified TransportError. Retrying is the caller's. */
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

  /** While the reconnect loop runs, connect() waits for its success rather than racing it. */
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
      await this.subscribeGroup(group, qos);
      for (const f of group) this.subscriptions.set(f, qos);
    }
  }

  async unsubscribe(filters: string[]): Promise<void> {
    for (const f of filters) this.subscriptions.delete(f);
    if (filters.length === 0) return;
    await this.operation(`unsubscribe ${filters.join(', ')}`, (client, done) => {
      client.unsubscribe(filters, (err) => done(err ?? undefined));
    });
  }

  async publish(topic: string, payload: string | Buffer, qos: QoS = 1): Promise<void> {
    const invalid = invalidPublishTopic(topic);
    if (invalid !== undefined) throw new TransportError('invalid-topic', invalid);
    const op = { operation: 'publish' as const, topic };
    await this.operation(`publish to ${topic}`, (client, done) => {
      client.publish(topic, payload, { qos }, (err) => done(err ?? undefined));
    }, qos === 1 ? op : undefined);
  }

  restart(): void {
    if (this.live && !this.closed) this.onLost(this.live, new Error('restarted to use a new identity'), undefined);
  }

  async close(): Promise<void> {
    if (this.closed) {
      await this.reconnectLoop;
      return;
    }
    this.closed = true;
    this.stopReconnect.abort();
    this.takeOver.stop();
    this.failInflight(new TransportError('closed'));
    const wasConnected = this.isConnected;
    this.isConnected = false;
    const live = this.live;
    this.live = undefined;
    if (live) await endClient(live, !wasConnected);
    await this.reconnectLoop;
    await this.connecting?.catch(() => undefined);
    if (wasConnected) this.emit('disconnect', undefined);
  }

  private async subscribeGroup(group: string[], qos: QoS): Promise<void> {
    const topic = group.join(', ');
    await this.operation(`subscribe ${topic}`, (client, done) => {
      client.subscribe(group, { qos }, (err, _subs, suback?: { granted?: unknown[] }) => {
        // SUBACK 0x80 (3.1.1) / 0x87 (5): the policy does not allow these filters. mqtt.js sets a
        // numeric code on 3.1.1 only; the granted list says it on both.
        const refused = group.filter((_, i) => (grantedCodes(suback)[i] ?? 0) & 0x80);
        if (err && (typeof (err as { code?: unknown }).code === 'number' || refused.length > 0 || /^Subscribe error/.test(err.message))) {
          const denial = denialOf({ operation: 'subscribe', topic: refused.length ? refused.join(', ') : topic }, `SUBACK refused (${err.message})`, false);
          this.emit('denied', denial);
          done(new TransportError('subscribe-refused', `${denial.topic} needs ${denial.policyAction} on ${denial.resource}: ${err.message}`, { cause: err, denial }));
        } else done(err ?? undefined);
      });
    }, { operation: 'subscribe', topic });
  }

  /** Run one acknowledged operation, bounded by the operation timeout and failed at once on disconnect. */
  private operation(what: string, run: (client: MqttClient, done: (err?: Error) => void) => void, track?: Omit<PendingOperation, 'sentAt'>): Promise<void> {
    if (this.closed) return Promise.reject(new TransportError('closed'));
    const live = this.live;
    if (!this.isConnected || !live) return Promise.reject(new TransportError('offline', `cannot ${what}`));
    let reject: (err: Error) => void = () => undefined;
    const pending = track ? { ...track, sentAt: monotonicMs() } : undefined;
    if (pending) this.pending.add(pending);
    const op = new Promise<void>((resolve, rej) => {
      reject = rej;
      run(live.client, (err) => {
        if (pending) this.pending.delete(pending);
        if (!err) return resolve();
        const e = operationError(what, err, track);
        if (e instanceof TransportError && e.kind === 'publish-refused' && e.denial) this.emit('denied', e.denial);
        rej(e);
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

  /** One attempt (src/transport/mqtt-attempt.ts); on CONNACK the connection becomes `this.live`. */
  private attempt(): Promise<boolean> {
    return this.attempts.attempt((live) => {
      this.live = live;
      this.watch(live);
    });
  }

  /** Listeners for an established connection. */
  private watch(live: Live): void {
    let lastError: Error | undefined;
    let reasonCode: number | undefined;
    live.client.on('error', (err) => (lastError = err));
    live.socket?.on('error', (err) => (lastError ??= err));
    // MQTT 5: the server says why it closes (0x8E session taken over, 0x87 not authorized, ...).
    live.client.on('disconnect', (packet: { reasonCode?: number }) => (reasonCode = packet.reasonCode ?? 0));
    live.client.on('message', (topic, payload) => this.deliver({ topic, payload }));
    live.client.once('close', () => this.onLost(live, lastError, reasonCode));
  }

  private deliver(msg: IncomingMessage): void {
    try {
      this.emit('message', msg);
    } catch (err) {
      // A throwing listener must not tear down the MQTT parser or the process.
      this.emitError(new TransportError('listener-error', `'message' listener threw: ${errorMessage(err)}`, { cause: err }));
    }
  }

  private emitError(err: TransportError): void {
    // 'error' with no listener would throw out of a socket callback and crash the process.
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
        await this.subscribeGroup(group, qos).catch((err: unknown) =>
          this.emitError(
            err instanceof TransportError
              ? err
              : new TransportError('subscribe-refused', `re-subscribe ${group.join(', ')}: ${errorMessage(err)}`, {
                  cause: err,
                }),
          ),
        );
      }
    }
  }

  private onLost(live: Live, cause: Error | undefined, reasonCode: number | undefined): void {
    if (this.live !== live || this.closed) return;
    this.live = undefined;
    this.isConnected = false;
    const closedAt = monotonicMs();
    const verdict = this.closes.classify({ reasonCode, error: cause, connectedAt: this.connectedAt, closedAt, pending: [...this.pending] });
    this.pending.clear();
    this.takeOver.disconnected(verdict.kind === 'taken-over');
    const firstDelay = this.takeOver.delay();
    if (verdict.kind === 'taken-over' && firstDelay !== undefined) verdict.takeOver.retryInMs = firstDelay;
    const err = lostConnectionError(verdict, cause, this.opts.clientId);
    this.failInflight(err);
    void endClient(live, true);
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
        // A refused proxy login waits minutes: proxies lock accounts after a few failures.
        retryAfterMs = err instanceof TransportError ? err.retryAfterMs : undefined;
        this.emitError(err instanceof TransportError ? err : new TransportError('connection-refused', errorMessage(err)));
      }
    }
  }
}
