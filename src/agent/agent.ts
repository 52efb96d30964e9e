/**
 * The agent's lifecycle (starting → running → draining → stopped) and the loop around executions:
 * connect, subscribe before any request, reconcile on start / reconnect / notify / safety poll,
 * dispatch in order through p-queue, abort what leaves the pending set, drain on stop.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import PQueue from 'p-queue';
import type { IdentityControl, ProcessRunner } from '../handlers/api';
import { handlerOptions } from '../handlers/registry';
import type { JobsApi } from '../jobs/api';
import type { MqttJobsClient } from '../jobs/mqtt-client';
import type { NotifyMsg } from '../jobs/types';
import type { AgentConfig } from '../config/types';
import { sleep } from '../lib/backoff';
import { errorMessage } from '../lib/errors';
import { directDialer, type Dialer } from '../net';
import type { Logger } from '../lib/log';
import type { StateStore } from '../store/types';
import type { Transport } from '../transport/types';
import { ExecutionBook } from './book';
import type { CertificateWindow } from './clock-trouble';
import { Coalescer } from './coalesce';
import { Execution } from './execution';
import type { Candidate, ExecutionEnv, ExecutionEvent } from './execution';
import type { TrustGate } from './signed/gate';
import { OutboxSender } from './outbox';
import { RefetchTimers } from './refetch';
import { refKey } from './reconcile';
import { recoveryPlan } from './recovery';
import type { HandlerRegistry } from './registry';
import { StatusText } from './status-text';
import { Watch } from './watch';

/** Waits for `p`, but no longer than `ms`; the timer goes with it (a pending one would hold the process up). */
async function atMost(p: Promise<unknown>, ms: number): Promise<void> {
  const ctl = new AbortController();
  try {
    await Promise.race([p, sleep(ms, ctl.signal).catch(() => undefined)]);
  } finally {
    ctl.abort();
  }
}

export type AgentState = 'idle' | 'starting' | 'running' | 'draining' | 'stopped';

export interface Notifier {
  ready(): void;
  stopping(): void;
  status(text: string): void;
  watchdog(): void;
  readonly watchdogIntervalMs?: number | undefined;
}

export interface AgentDeps {
  config: AgentConfig;
  log: Logger;
  transport: Transport;
  mqttJobs: MqttJobsClient;
  httpsJobs?: JobsApi;
  store: StateStore;
  registry: HandlerRegistry;
  exec: ProcessRunner;
  notifier?: Notifier;
  /** This device's certificate validity, to tell a wrong clock from a refused certificate. */
  certificate?: CertificateWindow;
  /** The way out for handlers (the proxy); default direct. */
  network?: Dialer;
  /** The identity capability handlers get (rotate-certificate), with config `provisioning`. */
  identityFor?: (jobId: string) => IdentityControl;
  /** With `trust` configured: the signed-document checks (docs/SIGNING.md). */
  gate?: TrustGate;
  /** A first connection attempt started while the agent was being built (src/agent/create.ts). */
  firstConnect?: Promise<void>;
}

export class Agent extends EventEmitter {
  private stateValue: AgentState = 'idle';
  private readonly book: ExecutionBook;
  private readonly queue: PQueue;
  private readonly outbox: OutboxSender;
  private readonly reconciler: Coalescer<string>;
  private readonly refetch = new RefetchTimers((ns) => this.trigger(ns));
  private readonly stopCtl = new AbortController();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly env: ExecutionEnv;
  private stopping: Promise<void> | undefined;
  private readonly log: Logger;
  private readonly status: StatusText;
  private readonly watch: Watch;

  constructor(private readonly d: AgentDeps) {
    super();
    this.log = d.log;
    this.status = new StatusText((t) => d.notifier?.status(t));
    this.watch = new Watch({
      log: d.log,
      status: this.status,
      transport: d.transport,
      store: d.store,
      stateDirectory: d.config.stateDirectory,
      clientId: d.config.mqtt.clientId,
      certificate: d.certificate,
      signal: this.stopCtl.signal,
      ...(d.firstConnect ? { firstConnect: d.firstConnect } : {}),
      onClockJump: () => this.refetch.fireAll(),
    });
    const cfg = d.config;
    this.queue = new PQueue({ concurrency: cfg.jobs.concurrency });
    this.outbox = new OutboxSender({
      store: d.store,
      apiFor: (ns) => this.apiFor(ns),
      log: d.log,
      isOnline: () => d.transport.connected || (d.httpsJobs !== undefined && this.namespaces().some((n) => n !== '' && this.apiFor(n) === d.httpsJobs)),
      timeoutMs: cfg.jobs.requestTimeoutSeconds * 1000,
      onReported: (item, how) => {
        this.log.info({ jobId: item.jobId, executionNumber: item.executionNumber, namespace: item.namespace || undefined, status: item.status, how }, 'outcome reported');
        this.emit('reported', { ref: item, status: item.status, how });
        if (this.book.reported(item)) this.trigger(item.namespace);
      },
    });
    this.reconciler = new Coalescer(
      (ns) => this.reconcile(ns),
      (ns, err) => {
        this.log.warn({ namespace: ns || undefined, err: errorMessage(err) }, 'could not fetch pending jobs; will retry');
        this.retryLater(ns);
      },
    );
    this.env = {
      thingName: cfg.thingName,
      apiFor: (ns) => this.apiFor(ns),
      store: d.store,
      registry: d.registry,
      exec: d.exec,
      log: d.log,
      workRoot: join(cfg.stateDirectory, 'work'),
      requestTimeoutMs: cfg.jobs.requestTimeoutSeconds * 1000,
      progressIntervalMs: cfg.jobs.progressIntervalSeconds * 1000,
      defaultTimeoutSeconds: cfg.handlers.defaultTimeoutSeconds,
      optionsFor: (name) => handlerOptions(cfg.handlers, name),
      ...(d.identityFor ? { identityFor: d.identityFor } : {}),
      kickOutbox: () => this.outbox.kick(),
      network: d.network ?? directDialer,
      emit: (e: ExecutionEvent) => this.onExecutionEvent(e),
      ...(d.gate ? { gate: d.gate } : {}),
    };
    this.book = new ExecutionBook({
      store: d.store,
      log: d.log,
      apiFor: (ns) => this.apiFor(ns),
      requestTimeoutMs: this.env.requestTimeoutMs,
      namespaces: () => this.namespaces(),
      enqueue: (c) => this.enqueue(c),
      trigger: (ns) => this.trigger(ns),
    });
  }

  get state(): AgentState {
    return this.stateValue;
  }

  /** Namespaces worked: '' is the default one. */
  namespaces(): string[] {
    const j = this.d.config.jobs;
    return [...(j.defaultNamespace ? [''] : []), ...j.namespaces];
  }

  apiFor(ns: string): JobsApi {
    if (ns === '' || this.d.config.jobs.mqttNamespaces.includes(ns) || !this.d.httpsJobs) return this.d.mqttJobs;
    return this.d.httpsJobs;
  }

  async start(): Promise<void> {
    if (this.stateValue !== 'idle') return;
    this.setState('starting');
    const plan = recoveryPlan(this.d.store.entries(), this.d.registry);
    for (const f of plan.fail) {
      this.log.warn({ jobId: f.jobId, executionNumber: f.executionNumber, handler: f.handler }, 'execution was interrupted by a restart; reporting FAILED (restart policy "fail")');
      // Written against the version our IN_PROGRESS gave it: should the job have been deleted and
      // recreated meanwhile, the service's refusal shows it and the outbox drops this (incarnation.ts).
      const update = { status: 'FAILED' as const, statusDetails: { reason: 'interrupted' }, ...(f.versionNumber !== undefined ? { expectedVersion: f.versionNumber } : {}) };
      await this.d.store.markFinished(f, { status: 'FAILED', details: { reason: 'interrupted' } }, update);
      this.book.settled(f, f.queuedAt);
    }
    for (const c of plan.resume) this.enqueue(c);
    this.d.mqttJobs.onNotify((m, ns) => this.onNotify(ns ?? '', m));
    this.d.mqttJobs.onNotifyNext((m, ns) => this.book.notifiedNext(ns ?? '', m.execution));
    this.d.transport.on('connect', () => void this.onConnect());
    await this.watch.begin();
    this.book.expectListings();
    this.setState('running');
    // Ready means up, not connected: the journal is open and recovered, and offline the agent still
    // keeps outcomes and reconnects by itself. Waiting for the broker would block `systemctl start`
    // and the boot until TimeoutStartSec on a device whose network comes late, then crash-loop it.
    this.d.notifier?.ready();
    this.status.setActivity('connecting');
    this.startTimers();
    // A namespace that cannot be fetched must not hold every other job back for long.
    const gateTimer = setTimeout(() => this.book.openGate(), 2 * this.env.requestTimeoutMs);
    gateTimer.unref();
    this.timers.push(gateTimer);
    this.watch.connect();
    // An early first attempt (create.ts) may have connected before the 'connect' listener could act
    // (the agent was not running yet): take the connection up now. Same tick as 'running', so the
    // event cannot also have been handled.
    if (this.d.transport.connected) void this.onConnect();
    // HTTPS namespaces do not need the broker: fetch them right away.
    for (const ns of this.namespaces()) if (this.apiFor(ns) !== this.d.mqttJobs) this.trigger(ns);
    this.outbox.kick();
  }

  /** Idempotent: stop taking jobs, give running ones the grace period, abort per policy, flush. */
  stop(opts: { graceMs?: number; immediate?: boolean } = {}): Promise<void> {
    this.stopping ??= this.doStop(opts);
    return this.stopping;
  }

  /** For tests and the demo: resolves when nothing is queued or running. */
  async whenIdle(): Promise<void> {
    await this.reconciler.idle();
    await this.queue.onIdle();
  }

  /** Resolves once the first listing of every namespace is in and dispatch has begun. */
  whenListed(): Promise<void> {
    return this.book.gate;
  }

  get outboxSize(): number {
    return this.outbox.size;
  }

  private setState(s: AgentState): void {
    this.stateValue = s;
    this.emit('state', s);
  }

  private async onConnect(): Promise<void> {
    if (this.stateValue !== 'running' && this.stateValue !== 'draining') return;
    this.log.info('connected to the broker');
    this.watch.connected();
    try {
      await this.d.mqttJobs.subscribe();
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'could not subscribe to the jobs topics');
      return;
    }
    const running = this.book.running;
    this.status.setActivity(running.size ? `running job ${[...running.values()][0]?.c.jobId ?? ''}` : 'idle');
    this.outbox.kick();
    if (this.stateValue === 'running') for (const ns of this.namespaces()) this.trigger(ns);
  }

  private startTimers(): void {
    const poll = setInterval(() => {
      for (const ns of this.namespaces()) this.trigger(ns);
    }, this.d.config.jobs.safetyPollSeconds * 1000);
    poll.unref();
    this.timers.push(poll);
    const wd = this.d.notifier?.watchdogIntervalMs;
    if (wd) {
      const t = setInterval(() => this.d.notifier?.watchdog(), Math.max(100, Math.floor(wd / 2)));
      t.unref();
      this.timers.push(t);
    }
  }

  private trigger(ns: string): void {
    if (this.stateValue !== 'running' || !this.namespaces().includes(ns)) return;
    if (this.apiFor(ns) === this.d.mqttJobs && !this.d.transport.connected) return; // reconnect will fetch
    void this.reconciler.trigger(ns);
  }

  private async reconcile(ns: string): Promise<void> {
    const list = await this.apiFor(ns).getPending({ ...(ns ? { namespace: ns } : {}), timeoutMs: this.env.requestTimeoutMs });
    this.log.debug({ namespace: ns || undefined, inProgress: list.inProgressJobs?.length ?? 0, queued: list.queuedJobs?.length ?? 0 }, 'pending executions listed');
    this.refetch.succeeded(ns);
    this.watch.requestsWork();
    this.book.listed(ns, list);
  }

  /** Fetch this namespace again after a backoff delay (failed fetch, job that could not start). */
  private retryLater(ns: string): void {
    if (this.stateValue === 'running') this.refetch.later(ns);
  }

  private onNotify(ns: string, m: NotifyMsg): void {
    if (this.stateValue !== 'running' || !this.namespaces().includes(ns)) return;
    this.book.notified(ns, m);
  }

  private enqueue(c: Candidate): void {
    if (!this.book.admit(c)) return;
    this.log.debug({ jobId: c.jobId, executionNumber: c.executionNumber, namespace: c.namespace || undefined, queuedAt: c.queuedAt }, 'job queued');
    this.emit('queued', { ref: c });
    // One slot per candidate; the slot runs whichever candidate is first in order when it starts.
    void this.queue.add(() => this.runNext());
  }

  private async runNext(): Promise<void> {
    await this.book.gate;
    if (this.stateValue !== 'running') return;
    if (this.d.store.outboxFull) this.log.warn('status outbox is full: starting no new job until it drains');
    while (this.d.store.outboxFull && this.stateValue === 'running') await sleep(1000, this.stopCtl.signal).catch(() => undefined);
    // No start without a record: while the journal cannot take one, every job waits QUEUED.
    await this.d.store.whenWritable(this.stopCtl.signal).catch(() => undefined);
    if (this.stateValue !== 'running') return;
    const c = this.book.ready.takeNext();
    if (!c) return;
    this.log.debug({ jobId: c.jobId, executionNumber: c.executionNumber, namespace: c.namespace || undefined }, 'job dispatched');
    this.emit('dispatched', { ref: c });
    const key = refKey(c);
    const e = new Execution(c, this.env);
    this.book.running.set(key, e);
    this.status.setActivity(`running job ${c.jobId}`);
    const how = await e.done;
    this.book.running.delete(key);
    if (how === 'settled') this.book.settled(c, c.mode === 'fresh' ? c.queuedAt : undefined);
    else this.retryLater(c.namespace);
    if (this.book.takeRecheck(key)) this.trigger(c.namespace);
    if (this.book.running.size === 0) this.status.setActivity('idle');
    // More may be pending beyond the last (cut) list: fetch when the known ones of this namespace run out.
    if (this.book.mayHoldMore(c.namespace)) this.trigger(c.namespace);
  }

  private onExecutionEvent(e: ExecutionEvent): void {
    const where = { jobId: e.ref.jobId, executionNumber: e.ref.executionNumber, namespace: e.ref.namespace || undefined };
    if (e.type === 'started') this.log.info({ ...where, handler: e.handler }, 'job started');
    else if (e.type === 'finished' || e.type === 'rejected') this.log.info({ ...where, status: e.status, details: e.details }, 'job finished');
    else if (e.type === 'gone') this.log.info(where, 'job ended in the cloud; nothing to report');
    else if (e.type === 'deferred') this.log.info(where, 'job left for recovery at the next start');
    this.emit('execution', e);
  }

  private async doStop(opts: { graceMs?: number; immediate?: boolean }): Promise<void> {
    if (this.stateValue === 'idle' || this.stateValue === 'stopped') {
      // Built but never started: the transport may still be connected by createAgent's early attempt.
      if (this.stateValue === 'idle') {
        this.stopCtl.abort();
        await this.d.transport.close();
        await this.d.store.close();
      }
      this.setState('stopped');
      return;
    }
    this.setState('draining');
    this.d.notifier?.stopping();
    const { running, ready } = this.book;
    this.log.info({ running: running.size, queued: ready.size }, 'stopping: no new jobs');
    ready.clear();
    this.queue.clear();
    for (const t of this.timers) clearInterval(t);
    this.watch.stopClock();
    this.refetch.cancelAll();
    this.book.openGate();
    const grace = opts.immediate ? 0 : (opts.graceMs ?? this.d.config.jobs.drainGraceSeconds * 1000);
    const all = Promise.allSettled([...running.values()].map((e) => e.done));
    if (running.size > 0 && grace > 0) await atMost(all, grace);
    for (const e of running.values()) e.abort('shutdown', 'agent stopping');
    await atMost(all, opts.immediate ? 1000 : 10_000);
    if (!opts.immediate) await this.outbox.flush(Math.min(10_000, this.env.requestTimeoutMs));
    this.stopCtl.abort();
    this.outbox.stop();
    await this.reconciler.idle();
    await this.d.mqttJobs.close();
    await this.d.httpsJobs?.close();
    await this.d.transport.close();
    await this.watch.idle();
    await this.d.store.close();
    this.setState('stopped');
  }
}
