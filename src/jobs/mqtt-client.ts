/**
 * The Jobs device API over MQTT reserved topics (docs/PROTOCOL.md §1–§3). Requests are correlated by
 * `clientToken` only (the service answers on the request topic + /accepted|/rejected); every request
 * is bounded by a timeout; every received payload is validated and a malformed one is logged and
 * dropped. Notifications fan out to listeners with the namespace they came from.
 */
import { randomBytes } from 'node:crypto';
import { AbortedError, TimeoutError } from '../lib/errors';
import { silentLogger } from '../lib/log';
import type { Logger } from '../lib/log';
import type { IncomingMessage, Transport } from '../transport/types';
import type { CallOptions, JobsApi, JobsNotifications } from './api';
import { InvalidJobsRequestError, JobsRejectedError } from './errors';
import { deviceSubscriptions, parseDeviceTopic, SUBSCRIPTION_LIMITS, topics } from './topics';
import type { DeviceTopic } from './topics';
import { LIMITS } from './types';
import type { DescribeReq, ExecutionAccepted, GetPendingAccepted, NotifyMsg, NotifyNextMsg, StartNextReq, UpdateAccepted, UpdateReq } from './types';
import { parseJsonObject, validate } from './validate';
import type { Checked } from './validate';

export interface MqttJobsClientOptions {
  transport: Transport;
  thingName: string;
  /** Namespaces whose topics this client subscribes to (the default namespace is always included unless `defaultNamespace` is false). */
  namespaces?: readonly string[];
  defaultNamespace?: boolean;
  timeoutMs?: number;
  log?: Logger;
}

type Op = 'get' | 'start-next' | 'describe' | 'update';
interface Pending {
  op: Op;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

type NotifyFn = (msg: NotifyMsg, ns: string | undefined) => void;
type NotifyNextFn = (msg: NotifyNextMsg, ns: string | undefined) => void;

export class MqttJobsClient implements JobsApi, JobsNotifications {
  private readonly pending = new Map<string, Pending>();
  private readonly notifyFns = new Set<NotifyFn>();
  private readonly notifyNextFns = new Set<NotifyNextFn>();
  private readonly log: Logger;
  private readonly tokenPrefix = randomBytes(6).toString('hex');
  private seq = 0;
  private closed = false;
  private readonly onMessage = (m: IncomingMessage): void => this.handle(m);

  constructor(private readonly o: MqttJobsClientOptions) {
    if (!LIMITS.thingName.test(o.thingName)) throw new InvalidJobsRequestError(`invalid thing name ${JSON.stringify(o.thingName)}`);
    for (const ns of o.namespaces ?? []) {
      if (!LIMITS.namespaceId.test(ns)) throw new InvalidJobsRequestError(`invalid namespace ${JSON.stringify(ns)}`);
    }
    this.log = o.log ?? silentLogger();
    o.transport.on('message', this.onMessage);
  }

  /** The filters this client needs; subscribe them (in SUBSCRIBEs of at most 8) before any request. */
  subscriptions(): string[] {
    return deviceSubscriptions(this.o.thingName, this.o.namespaces ?? [], this.o.defaultNamespace ?? true);
  }

  async subscribe(): Promise<void> {
    const filters = this.subscriptions();
    if (filters.length > SUBSCRIPTION_LIMITS.perConnection) {
      this.log.warn({ count: filters.length }, 'more subscriptions than AWS IoT Core allows per connection (50)');
    }
    for (let i = 0; i < filters.length; i += SUBSCRIPTION_LIMITS.perSubscribe) {
      await this.o.transport.subscribe(filters.slice(i, i + SUBSCRIPTION_LIMITS.perSubscribe), 1);
    }
  }

  getPending(opts: CallOptions = {}): Promise<GetPendingAccepted> {
    return this.request('get', topics.getPending(this.o.thingName, opts.namespace), {}, opts) as Promise<GetPendingAccepted>;
  }

  startNext(req: Omit<StartNextReq, 'clientToken'> = {}, opts: CallOptions = {}): Promise<ExecutionAccepted> {
    return this.request('start-next', topics.startNext(this.o.thingName, opts.namespace), req, opts) as Promise<ExecutionAccepted>;
  }

  describe(jobId: string, req: Omit<DescribeReq, 'clientToken'> = {}, opts: CallOptions = {}): Promise<ExecutionAccepted> {
    if (jobId !== '$next') this.checkJobId(jobId);
    return this.request('describe', topics.describe(this.o.thingName, jobId, opts.namespace), req, opts) as Promise<ExecutionAccepted>;
  }

  update(jobId: string, req: Omit<UpdateReq, 'clientToken'>, opts: CallOptions = {}): Promise<UpdateAccepted> {
    this.checkJobId(jobId);
    return this.request('update', topics.update(this.o.thingName, jobId, opts.namespace), req, opts) as Promise<UpdateAccepted>;
  }

  onNotify(fn: NotifyFn): () => void {
    this.notifyFns.add(fn);
    return () => this.notifyFns.delete(fn);
  }

  onNotifyNext(fn: NotifyNextFn): () => void {
    this.notifyNextFns.add(fn);
    return () => this.notifyNextFns.delete(fn);
  }

  /** Fails every outstanding request; the transport is the caller's to close. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.o.transport.off('message', this.onMessage);
    for (const [token, p] of this.pending) {
      this.pending.delete(token);
      p.reject(new AbortedError('jobs request', new Error('client closed')));
    }
    return Promise.resolve();
  }

  private checkJobId(jobId: string): void {
    if (!LIMITS.jobId.test(jobId)) throw new InvalidJobsRequestError(`invalid job id ${JSON.stringify(jobId)}`);
  }

  private async request(op: Op, topic: string, body: object, opts: CallOptions): Promise<unknown> {
    if (opts.namespace !== undefined && !LIMITS.namespaceId.test(opts.namespace)) {
      throw new InvalidJobsRequestError(`invalid namespace ${JSON.stringify(opts.namespace)}`);
    }
    if (this.closed) throw new AbortedError('jobs request', new Error('client closed'));
    opts.signal?.throwIfAborted();
    this.seq += 1;
    const clientToken = `${this.tokenPrefix}-${this.seq}`;
    const timeoutMs = opts.timeoutMs ?? this.o.timeoutMs ?? 10_000;
    const done = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => finish(new TimeoutError(`${op} ${topic}`, timeoutMs)), timeoutMs);
      const onAbort = (): void => finish(new AbortedError(`${op} ${topic}`, opts.signal?.reason));
      const finish = (err: Error | undefined, v?: unknown): void => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        this.pending.delete(clientToken);
        if (err) reject(err);
        else resolve(v);
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(clientToken, { op, resolve: (v) => finish(undefined, v), reject: (e) => finish(e) });
    });
    // The timeout bounds the whole request, the PUBACK wait included (a half-open connection never
    // acknowledges): the caller waits on the answer, and a failed publish only ends it sooner.
    let sent: Promise<void>;
    try {
      sent = this.o.transport.publish(topic, JSON.stringify({ ...body, clientToken }), 1);
    } catch (err) {
      sent = Promise.reject(err as Error);
    }
    sent.catch((err: unknown) => this.pending.get(clientToken)?.reject(err instanceof Error ? err : new Error(String(err))));
    return done;
  }

  private handle(m: IncomingMessage): void {
    const t = parseDeviceTopic(m.topic);
    if (!t) return;
    const parsed = parseJsonObject(m.payload);
    if (!parsed.ok) {
      this.log.warn({ topic: m.topic, reason: parsed.reason }, 'dropped malformed jobs message');
      return;
    }
    try {
      this.dispatch(t, parsed.value, m.topic);
    } catch (err) {
      // A listener's bug must not take the transport's message loop down.
      this.log.error({ topic: m.topic, err }, 'jobs message listener failed');
    }
  }

  private dispatch(t: DeviceTopic, v: Record<string, unknown>, topic: string): void {
    switch (t.kind) {
      case 'notify':
        return this.emit(validate.notify(v), topic, (msg) => this.notifyFns.forEach((fn) => fn(msg, t.namespace)));
      case 'notify-next':
        return this.emit(validate.notifyNext(v), topic, (msg) => this.notifyNextFns.forEach((fn) => fn(msg, t.namespace)));
      case 'response':
        return this.response(t.result, t.request.op, v, topic);
    }
  }

  private response(result: 'accepted' | 'rejected', op: Op, v: Record<string, unknown>, topic: string): void {
    const token = typeof v.clientToken === 'string' ? v.clientToken : undefined;
    const p = token === undefined ? undefined : this.pending.get(token);
    if (!p) return; // Not ours, or already answered/timed out: AWS may deliver late or twice.
    if (result === 'rejected') {
      this.emit(validate.rejected(v), topic, (r) => p.reject(new JobsRejectedError(r.code, r.message, r.executionState)));
      return;
    }
    const checked: Checked<unknown> =
      op === 'get' ? validate.getPendingAccepted(v) : op === 'update' ? validate.updateAccepted(v) : validate.executionAccepted(v);
    this.emit(checked, topic, (value) => p.resolve(value));
  }

  private emit<T>(c: Checked<T>, topic: string, fn: (v: T) => void): void {
    if (c.ok) fn(c.value);
    else this.log.warn({ topic, reason: c.reason }, 'dropped invalid jobs message');
  }
}
