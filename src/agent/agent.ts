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
import { isTerminal } from '../jobs/types';
import type { JobExecution, NotifyMsg } from '../jobs/types';
import type { AgentConfig } from '../config/types';
import { sleep } from '../lib/backoff';
import { watchWallClock } from '../lib/clock';
import { errorMessage } from '../lib/errors';
import { directDialer, type Dialer } from '../net';
import { RecentMap } from '../lib/recent';
import type { Logger } from '../lib/log';
import type { ExecRef, StateStore } from '../store/types';
import type { TransportError } from '../transport/errors';
import type { Denial, Transport } from '../transport/types';
import type { CertificateWindow } from './clock-trouble';
import { Conditions } from './conditions';
import { ConnectionTrouble } from './connection-trouble';
import { Coalescer } from './coalesce';
import { Execution } from './execution';
import type { Candidate, ExecutionEnv, ExecutionEvent } from './execution';
import type { TrustGate } from './signed/gate';
import { OutboxSender } from './outbox';
import { ConnectLoop } from './connect-loop';
import { ReadyQueue } from './ready';
import { RefetchTimers } from './refetch';
import { sameExecution } from './incarnation';
import { planReconcile, refKey } from './reconcile';
import type { KnownState, Past } from './reconcile';
import { recoveryPlan } from './recovery';
import type { HandlerRegistry } from './registry';
import { StatusText } from './status-text';

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
}

/**
 * Settled executions remembered for dedupe. Older ones are no longer listed by the service, and the
 * journal keeps its own recent history (REPORTED_KEEP) for a late duplicate.
 */
const DONE_KEEP = 1_000;

export class Agent extends EventEmitter {
  private stateValue: AgentState = 'idle';
  private readonly ready = new ReadyQueue<Candidate>();
  private readonly running = new Map<string, Execution>();
  /**
   * Executions settled by this process, with the queuedAt it knew them by (src/agent/incarnation.ts);
   * the most recent only: memory must not grow per job.
   */
  private readonly done = new RecentMap<string, number | undefined>(DONE_KEEP);
  /** Recreated jobs waiting for the old execution's outcome to leave the outbox. */
  private readonly awaitingReport = new Set<string>();
  /** Running executions whose ref was listed QUEUED meanwhile (maybe a recreated job): fetched again when they end. */
  private readonly recheckAfterRun = new Set<string>();
  private readonly truncated = new Set<string>();
  private readonly queue: PQueue;
  private readonly outbox: OutboxSender;
  private readonly reconciler: Coalescer<string>;
  private readonly confirming = new Set<string>();
  private readonly refetch = new RefetchTimers((ns) => this.trigger(ns));
  private releaseGate!: () => void;
  /** Dispatch waits for the first fetch of every namespace, so start-up order spans namespaces. */
  private readonly gate = new Promise<void>((resolve) => (this.releaseGate = resolve));
  private gateIsOpen = false;
  private readonly stopCtl = new AbortController();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly env: ExecutionEnv;
  private firstFetch = new Set<string>();
  private stopping: Promise<void> | undefined;
  private readonly log: Logger;
  private readonly status: StatusText;
  private readonly conditions: Conditions;
  private readonly trouble: ConnectionTrouble;
  /** Cuts the connect loop's backoff short (the wall clock moved: a certificate may be valid now). */
  private readonly connector: ConnectLoop;
  private stopClockWatch: (() => void) | undefined;

  constructor(private readonly d: AgentDeps) {
    super();
    this.log = d.log;
    this.status = new StatusText((t) => d.notifier?.status(t));
    this.conditions = new Conditions(d.log, this.status, join(d.config.stateDirectory, 'journal'), d.certificate);
    this.trouble = new ConnectionTrouble(d.log, this.status, d.config.stateDirectory, d.config.mqtt.clientId);
    this.connector = new ConnectLoop({
      connect: () => d.transport.connect(),
      onUp: () => this.conditions.connected(),
      onFailure: (err, retryInMs) => this.conditions.connectFailed(err, retryInMs),
      signal: this.stopCtl.signal,
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
        if (this.awaitingReport.delete(refKey(item))) this.trigger(item.namespace);
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
      this.done.set(refKey(f), f.queuedAt);
    }
    for (const c of plan.resume) this.enqueue(c);
    this.d.mqttJobs.onNotify((m, ns) => this.onNotify(ns ?? '', m));
    this.d.mqttJobs.onNotifyNext((m, ns) => this.onNotifyNext(ns ?? '', m.execution));
    this.d.transport.on('connect', () => void this.onConnect());
    this.d.transport.on('disconnect', (err?: Error) => {
      this.log.warn({ err: err ? errorMessage(err) : undefined }, 'disconnected from the broker; reconnecting');
      this.status.setActivity('reconnecting');
      const takeOver = (err as TransportError | undefined)?.takeOver;
      if (takeOver) this.trouble.takenOver(takeOver);
    });
    this.d.transport.on('denied', (denial: Denial) => this.trouble.denied(denial));
    this.d.transport.on('error', (err: Error) => this.conditions.transportError(err));
    this.d.transport.on('settled', () => this.trouble.settled());
    await this.trouble.reset();
    this.d.store.onHealthChange((h) => this.conditions.storage(h));
    if (!this.d.store.health.writable) this.conditions.storage(this.d.store.health);
    this.stopClockWatch = watchWallClock((jump, now) => this.onClockJump(jump, now));
    this.firstFetch = new Set(this.namespaces());
    this.setState('running');
    // Ready means up, not connected: the journal is open and recovered, and offline the agent still
    // keeps outcomes and reconnects by itself. Waiting for the broker would block `systemctl start`
    // and the boot until TimeoutStartSec on a device whose network comes late, then crash-loop it.
    this.d.notifier?.ready();
    this.status.setActivity('connecting');
    this.startTimers();
    // A namespace that cannot be fetched must not hold every other job back for long.
    const gateTimer = setTimeout(() => this.gateOpen(), 2 * this.env.requestTimeoutMs);
    gateTimer.unref();
    this.timers.push(gateTimer);
    void this.connector.run();
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
    return this.gate;
  }

  get outboxSize(): number {
    return this.outbox.size;
  }

  private setState(s: AgentState): void {
    this.stateValue = s;
    this.emit('state', s);
  }

  /** A wall-clock step: every deadline is monotonic, so only what depends on the date itself reacts. */
  private onClockJump(jumpMs: number, nowMs: number): void {
    this.conditions.clockJumped(jumpMs, nowMs);
    // A certificate that looked not yet valid (or expired) may be fine by the new time.
    this.connector.wake();
    this.refetch.fireAll();
  }

  private async onConnect(): Promise<void> {
    if (this.stateValue !== 'running' && this.stateValue !== 'draining') return;
    this.log.info('connected to the broker');
    this.conditions.connected();
    try {
      await this.d.mqttJobs.subscribe();
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'could not subscribe to the jobs topics');
      return;
    }
    this.status.setActivity(this.running.size ? `running job ${[...this.running.values()][0]?.c.jobId ?? ''}` : 'idle');
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
    const startup = this.firstFetch.delete(ns);
    this.log.debug({ namespace: ns || undefined, inProgress: list.inProgressJobs?.length ?? 0, queued: list.queuedJobs?.length ?? 0 }, 'pending executions listed');
    this.refetch.succeeded(ns);
    this.trouble.requestsWork();
    const plan = planReconcile(
      ns,
      list,
      this.known(),
      this.ready.keys(),
      [...this.running.keys()],
      startup,
    );
    if (plan.truncated) this.truncated.add(ns);
    else this.truncated.delete(ns);
    for (const k of plan.dropReady) {
      this.log.info({ jobId: this.ready.get(k)?.jobId }, 'queued job left the pending set before it started');
      this.ready.delete(k);
    }
    for (const k of plan.confirmRunning) void this.confirm(k);
    for (const r of plan.waitForReport) this.awaitingReport.add(refKey(r));
    for (const k of plan.recheckAfterRun) this.recheckAfterRun.add(k);
    for (const c of plan.enqueue) this.enqueue(c);
    if (this.firstFetch.size === 0) this.gateOpen();
  }

  /** Fetch this namespace again after a backoff delay (failed fetch, job that could not start). */
  private retryLater(ns: string): void {
    if (this.stateValue === 'running') this.refetch.later(ns);
  }

  /**
   * A notify carries the pending list itself (up to 10): new executions in it are queued straight
   * away; a fetch is needed only when the list may be cut, or when a queued one is missing from it
   * (notifications can arrive out of order, so a missing one is checked, never just dropped).
   */
  private onNotify(ns: string, m: NotifyMsg): void {
    if (this.stateValue !== 'running' || !this.namespaces().includes(ns)) return;
    const list = { timestamp: m.timestamp, inProgressJobs: m.jobs.IN_PROGRESS ?? [], queuedJobs: m.jobs.QUEUED ?? [] };
    const plan = planReconcile(ns, list, this.known(), this.ready.keys(), [...this.running.keys()], false);
    for (const k of plan.confirmRunning) void this.confirm(k);
    for (const r of plan.waitForReport) this.awaitingReport.add(refKey(r));
    for (const k of plan.recheckAfterRun) this.recheckAfterRun.add(k);
    for (const c of plan.enqueue) this.enqueue(c);
    // A cut list is exactly what GetPendingJobExecutions would return now (same cap, same order), so
    // it needs no fetch either; whatever lies beyond it is fetched when the known ones run out.
    if (plan.dropReady.length > 0 || this.firstFetch.has(ns)) this.trigger(ns);
    else if (plan.truncated) this.truncated.add(ns);
  }

  private onNotifyNext(ns: string, head: JobExecution | undefined): void {
    // A hint only: confirm with the service before aborting (a stray or duplicate notify-next must never kill a healthy job).
    for (const [k, e] of this.running) if (e.c.namespace === ns && e.c.jobId !== head?.jobId) void this.confirm(k);
    if (!head) return;
    const ref = { namespace: ns, jobId: head.jobId, executionNumber: head.executionNumber };
    const key = refKey(ref);
    if (this.running.has(key) && head.status === 'QUEUED') this.recheckAfterRun.add(key);
    if (this.ready.has(key) || this.running.has(key)) return;
    const past = this.past(ref);
    if (past === undefined || !sameExecution(head, past)) this.trigger(ns);
  }

  private known(): KnownState {
    return { isRunning: (k) => this.running.has(k), isReady: (k) => this.ready.has(k), past: (r) => this.past(r) };
  }

  /** What this agent remembers of an execution under `ref` (src/agent/incarnation.ts). */
  private past(ref: ExecRef): Past | undefined {
    const key = refKey(ref);
    const j = this.d.store.get(ref);
    if (j === undefined && !this.done.has(key)) return undefined;
    return { queuedAt: j?.queuedAt ?? this.done.get(key), versionNumber: j?.versionNumber, unreported: j !== undefined && j.state !== 'reported' };
  }

  private async confirm(key: string): Promise<void> {
    const e = this.running.get(key);
    if (!e || this.confirming.has(key)) return;
    this.confirming.add(key);
    try {
      const r = await this.apiFor(e.c.namespace).describe(e.c.jobId, { executionNumber: e.c.executionNumber, includeJobDocument: false }, { ...(e.c.namespace ? { namespace: e.c.namespace } : {}), timeoutMs: this.env.requestTimeoutMs });
      if (!r.execution) e.abort('canceled', 'execution no longer exists');
      else if (isTerminal(r.execution.status)) e.abort('canceled', `service reports ${r.execution.status}`);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 'ResourceNotFound' || code === 'TerminalStateReached' || code === 'TerminalState') e.abort('canceled', String(code));
      else this.log.debug({ err: errorMessage(err) }, 'could not confirm a running job; keeping it');
    } finally {
      this.confirming.delete(key);
    }
  }

  private enqueue(c: Candidate): void {
    const key = refKey(c);
    if (this.running.has(key) || (this.done.has(key) && !c.supersedes) || !this.ready.add(c)) return;
    if (c.supersedes) this.log.info({ jobId: c.jobId, executionNumber: c.executionNumber, queuedAt: c.queuedAt }, 'a new job stands behind the id of one already run; it runs as a new job');
    this.done.delete(key);
    this.log.debug({ jobId: c.jobId, executionNumber: c.executionNumber, namespace: c.namespace || undefined, queuedAt: c.queuedAt }, 'job queued');
    this.emit('queued', { ref: c });
    // One slot per candidate; the slot runs whichever candidate is first in order when it starts.
    void this.queue.add(() => this.runNext());
  }

  /** Dispatch begins: ties between namespaces found so far follow the configuration's order. */
  private gateOpen(): void {
    if (this.gateIsOpen) return;
    this.gateIsOpen = true;
    this.ready.resequence(this.namespaces());
    this.releaseGate();
  }

  private async runNext(): Promise<void> {
    await this.gate;
    if (this.stateValue !== 'running') return;
    if (this.d.store.outboxFull) this.log.warn('status outbox is full: starting no new job until it drains');
    while (this.d.store.outboxFull && this.stateValue === 'running') await sleep(1000, this.stopCtl.signal).catch(() => undefined);
    // No start without a record: while the journal cannot take one, every job waits QUEUED.
    await this.d.store.whenWritable(this.stopCtl.signal).catch(() => undefined);
    if (this.stateValue !== 'running') return;
    const c = this.ready.takeNext();
    if (!c) return;
    this.log.debug({ jobId: c.jobId, executionNumber: c.executionNumber, namespace: c.namespace || undefined }, 'job dispatched');
    this.emit('dispatched', { ref: c });
    const key = refKey(c);
    const e = new Execution(c, this.env);
    this.running.set(key, e);
    this.status.setActivity(`running job ${c.jobId}`);
    const how = await e.done;
    this.running.delete(key);
    if (how === 'settled') this.done.set(key, c.mode === 'fresh' ? c.queuedAt : undefined);
    else this.retryLater(c.namespace);
    if (this.recheckAfterRun.delete(key)) this.trigger(c.namespace);
    if (this.running.size === 0) this.status.setActivity('idle');
    // More may be pending beyond the last (cut) list: fetch when the known ones of this namespace run out.
    if (this.truncated.has(c.namespace) && !this.ready.hasNamespace(c.namespace)) this.trigger(c.namespace);
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
      this.setState('stopped');
      return;
    }
    this.setState('draining');
    this.d.notifier?.stopping();
    this.log.info({ running: this.running.size, queued: this.ready.size }, 'stopping: no new jobs');
    this.ready.clear();
    this.queue.clear();
    for (const t of this.timers) clearInterval(t);
    this.stopClockWatch?.();
    this.refetch.cancelAll();
    this.gateOpen();
    const grace = opts.immediate ? 0 : (opts.graceMs ?? this.d.config.jobs.drainGraceSeconds * 1000);
    const all = Promise.allSettled([...this.running.values()].map((e) => e.done));
    if (this.running.size > 0 && grace > 0) await atMost(all, grace);
    for (const e of this.running.values()) e.abort('shutdown', 'agent stopping');
    await atMost(all, opts.immediate ? 1000 : 10_000);
    if (!opts.immediate) await this.outbox.flush(Math.min(10_000, this.env.requestTimeoutMs));
    this.stopCtl.abort();
    this.outbox.stop();
    await this.reconciler.idle();
    await this.d.mqttJobs.close();
    await this.d.httpsJobs?.close();
    await this.d.transport.close();
    await this.trouble.idle();
    await this.d.store.close();
    this.setState('stopped');
  }
}
