/**
 * One execution, start to outcome (docs/ARCHITECTURE.md §3): describe → document → handler → validate →
 * journal `started` → IN_PROGRESS (expectedVersion, stepTimeoutInMinutes) → run(ctx) → journal
 * outcome → terminal update through the persisted outbox. The journal comes first so that no
 * execution is IN_PROGRESS in the cloud without a record on the device (docs/RESILIENCE.md §1).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { HandlerContext, IdentityControl, JobHandler, NetworkAccess, ProcessRunner, RestartPolicy } from '../handlers/api';
import { handlerLogger } from '../handlers/logger';
import type { CallOptions, JobsApi } from '../jobs/api';
import { sanitizeDetails } from '../jobs/details';
import { JobsRejectedError } from '../jobs/errors';
import { isTerminal } from '../jobs/types';
import type { Details, ExecutionAccepted, JobExecution } from '../jobs/types';
import { retry } from '../lib/backoff';
import { errorMessage } from '../lib/errors';
import { directDialer } from '../net';
import type { Logger } from '../lib/log';
import type { ExecRef, StateStore } from '../store/types';
import type { Orderable } from './order';
import { endingOf, JobAbort } from './outcome';
import type { AbortReason, Ending } from './outcome';
import { sameExecution } from './incarnation';
import { ProgressReporter } from './progress';
import type { HandlerRegistry, Resolution } from './registry';
import type { Accepted, TrustGate } from './signed/gate';

export type RunMode = 'fresh' | 'rerun' | 'resume';

export interface Candidate extends ExecRef, Omit<Orderable, 'namespace'> {
  mode: RunMode;
  /** A new job behind the id of one this agent already ran: its journal entry is forgotten first (src/agent/incarnation.ts). */
  supersedes?: boolean;
}

export interface ExecutionEvent {
  type: 'started' | 'progress' | 'finished' | 'rejected' | 'gone' | 'deferred';
  ref: ExecRef;
  handler?: string;
  status?: string;
  details?: Record<string, string>;
}

export interface ExecutionEnv {
  thingName: string;
  apiFor(namespace: string): JobsApi;
  store: StateStore;
  registry: HandlerRegistry;
  exec: ProcessRunner;
  log: Logger;
  workRoot: string;
  requestTimeoutMs: number;
  progressIntervalMs: number;
  defaultTimeoutSeconds: number;
  /** Options a handler sees as `ctx.options` (config `handlers.options[name]`, plus `allowShell` for exec). */
  optionsFor(handler: string): Readonly<Record<string, unknown>>;
  /** The identity capability for one job, when the agent manages a provisioned identity. */
  identityFor?(jobId: string): IdentityControl;
  kickOutbox(): void;
  emit(e: ExecutionEvent): void;
  /** The way out for handlers (the proxy configuration); default direct. */
  network?: NetworkAccess;
  /** With `trust` configured: the signed-document checks every execution passes before anything runs. */
  gate?: TrustGate;
  /** Random source of the retry delays; default Math.random. */
  random?: () => number;
}

function callOpts(ns: string, timeoutMs: number): CallOptions {
  return ns === '' ? { timeoutMs } : { namespace: ns, timeoutMs };
}

function effectiveTimeoutSeconds(handler: JobHandler, doc: unknown, fallback: number): number {
  const base = handler.timeoutSeconds ?? fallback;
  const fromDoc = (doc as { timeoutSeconds?: unknown }).timeoutSeconds;
  return typeof fromDoc === 'number' && fromDoc > 0 ? Math.min(base, fromDoc) : base;
}

function parseDocument(e: JobExecution): { ok: true; doc: unknown } | { ok: false; reason: string } {
  const raw = e.jobDocument;
  if (typeof raw !== 'string') return raw === undefined ? { ok: false, reason: 'execution carries no job document' } : { ok: true, doc: raw };
  try {
    return { ok: true, doc: JSON.parse(raw) as unknown };
  } catch (err) {
    return { ok: false, reason: `job document is not JSON: ${errorMessage(err)}` };
  }
}

/** A running execution the agent can abort. */
export class Execution {
  private readonly controller = new AbortController();
  private abortReason: AbortReason | undefined;
  private policy: RestartPolicy = 'fail';
  /** 'settled': an outcome is journaled (or there is none to give); 'retry': nothing durable happened, try again later. */
  readonly done: Promise<'settled' | 'retry'>;
  readonly log: Logger;
  private startedDurably = false;
  /** queuedAt of the execution as the service described it; journaled with the start and the outcome. */
  private queuedAt: number | undefined;
  /** The check stage's statusDetails (`ija:*`), reported with the outcome. */
  private gateDetails: Details = {};
  private accepted: Accepted | undefined;
  /** Removes what the check stage downloaded for this execution (its verified artifacts). */
  private cleanup: (() => Promise<void>) | undefined;

  constructor(readonly c: Candidate, private readonly env: ExecutionEnv) {
    this.log = env.log.child({ jobId: c.jobId, executionNumber: c.executionNumber, ...(c.namespace ? { namespace: c.namespace } : {}) });
    this.done = this.run().then(
      () => 'settled' as const,
      (err: unknown) => {
        if (!this.startedDurably) {
          this.log.warn({ err: errorMessage(err) }, 'could not start the job; will try again');
          return 'retry' as const;
        }
        this.log.error({ err: errorMessage(err) }, 'execution failed unexpectedly; its state stays in the journal for recovery');
        return 'settled' as const;
      },
    );
  }

  /** Service calls before the handler runs: transient failures (throttling, internal errors, timeouts) are retried. */
  private withRetry<T>(fn: () => Promise<T>): Promise<T> {
    return retry(fn, {
      baseMs: 200,
      maxMs: 5000,
      maxAttempts: 6,
      ...(this.env.random ? { random: this.env.random } : {}),
      isRetryable: (err) => (err as { retryable?: unknown }).retryable === true && !this.controller.signal.aborted,
      signal: this.controller.signal,
    });
  }

  get restartPolicy(): RestartPolicy {
    return this.policy;
  }

  abort(reason: AbortReason, detail?: string): void {
    if (this.controller.signal.aborted) return;
    this.abortReason = reason;
    this.log.info({ reason, detail }, 'aborting job');
    this.controller.abort(new JobAbort(reason, detail));
  }

  private get api(): JobsApi {
    return this.env.apiFor(this.c.namespace);
  }

  private async describe(): Promise<ExecutionAccepted | undefined> {
    try {
      return await this.withRetry(() => this.api.describe(this.c.jobId, { executionNumber: this.c.executionNumber, includeJobDocument: true }, callOpts(this.c.namespace, this.env.requestTimeoutMs)));
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 'ResourceNotFound' || code === 'TerminalStateReached' || code === 'TerminalState') return undefined;
      throw err;
    }
  }

  private async run(): Promise<void> {
    try {
      await this.runChecked();
    } finally {
      await this.cleanup?.();
    }
  }

  private async runChecked(): Promise<void> {
    // The old execution's reported entry would stand in for this one's (same ref): it goes first.
    if (this.c.supersedes) await this.env.store.forget(this.ref());
    const described = await this.describe();
    const ex = described?.execution;
    const journaled = this.env.store.get(this.ref());
    if (ex && this.c.mode !== 'fresh' && journaled && !sameExecution(ex, { queuedAt: journaled.queuedAt })) {
      // Recovered, but the job was deleted and recreated meanwhile: close the old entry, never run the new one as the old.
      this.log.warn({ queuedAt: ex.queuedAt, journaledQueuedAt: journaled.queuedAt }, 'the recovered execution was deleted and its job recreated; the new one runs as a new job');
      return this.finish({ kind: 'gone' }, 0, undefined);
    }
    if (ex) this.queuedAt = ex.queuedAt;
    if (!ex || isTerminal(ex.status)) {
      // A recovered execution that ended meanwhile: close its journal entry so it is not recovered again.
      if (this.env.store.get(this.ref())?.state === 'started') return this.finish({ kind: 'gone' }, 0, undefined);
      return this.env.emit({ type: 'gone', ref: this.c });
    }
    const parsed = parseDocument(ex);
    if (!parsed.ok) return this.reject(parsed.reason, ex.versionNumber);
    const res = this.env.gate ? await this.checkSigned(this.env.gate, parsed.doc, ex, described?.timestamp) : this.env.registry.resolve(parsed.doc);
    if (res === undefined) return;
    if (!res.ok) return this.reject(res.reason, ex.versionNumber);
    const handler = res.handler;
    this.policy = handler.restartPolicy ?? 'fail';
    if (this.c.mode === 'fresh') {
      let reason: string | void;
      try {
        reason = await handler.validate?.(res.document);
      } catch (err) {
        reason = errorMessage(err);
      }
      if (typeof reason === 'string') return this.reject(reason, ex.versionNumber);
    }
    const timeoutS = effectiveTimeoutSeconds(handler, res.document, this.env.defaultTimeoutSeconds);
    const version = await this.claim(ex, handler.name, timeoutS);
    if (version === undefined) return;
    this.startedDurably = true;
    this.env.emit({ type: 'started', ref: this.c, handler: handler.name });
    const ending = await this.runHandler(handler, res.document, ex, version, timeoutS);
    await this.finish(ending.ending, ending.version, handler.name);
  }

  /**
   * Journal `started`, then IN_PROGRESS — in that order, so the service never shows IN_PROGRESS for
   * an execution the journal has no record of (a full or read-only state directory refuses the
   * start, and the job stays QUEUED until the journal can take it). A fresh start whose IN_PROGRESS
   * update does not get through is released again: its handler never ran, so no restart may report
   * it "interrupted". Resolves to the version to run with, or undefined when the execution is over.
   */
  private async claim(ex: JobExecution, handler: string, timeoutS: number): Promise<number | undefined> {
    // A resumed or rerun execution is started again: keep what its handler saved before the restart.
    const saved = this.env.store.get(this.ref())?.handlerState;
    const expected = this.c.mode === 'resume' ? ex.versionNumber : ex.versionNumber + 1;
    await this.env.store.markStarted({ ...this.ref(), handler, startedAt: Date.now(), versionNumber: expected, queuedAt: ex.queuedAt, ...(saved ? { handlerState: saved } : {}) });
    if (this.c.mode === 'resume') return ex.versionNumber;
    let version: number | undefined;
    try {
      version = await this.moveInProgress(ex, timeoutS);
    } catch (err) {
      if (this.c.mode === 'fresh') await this.env.store.release(this.ref());
      throw err;
    }
    if (version !== undefined) return version;
    if (this.c.mode === 'fresh') {
      await this.env.store.release(this.ref());
      this.env.emit({ type: 'gone', ref: this.c });
    } else await this.finish({ kind: 'gone' }, 0, undefined);
    return undefined;
  }

  private ref(): ExecRef {
    return { namespace: this.c.namespace, jobId: this.c.jobId, executionNumber: this.c.executionNumber };
  }

  /** UpdateJobExecution IN_PROGRESS; the new version, or undefined when the execution is over. */
  private async moveInProgress(ex: JobExecution, timeoutS: number): Promise<number | undefined> {
    const stepTimeoutInMinutes = Math.min(10080, Math.ceil(timeoutS / 60) + 1);
    const opts = callOpts(this.c.namespace, this.env.requestTimeoutMs);
    try {
      await this.withRetry(() =>
        this.api.update(this.c.jobId, { status: 'IN_PROGRESS', expectedVersion: ex.versionNumber, executionNumber: this.c.executionNumber, stepTimeoutInMinutes }, opts),
      );
      return ex.versionNumber + 1;
    } catch (err) {
      const st = err instanceof JobsRejectedError ? err.executionState : (err as { executionState?: JobExecution }).executionState;
      if (st && st.status === 'IN_PROGRESS') return st.versionNumber; // our own earlier update got there
      if (st && isTerminal(st.status)) return undefined;
      const code = (err as { code?: unknown }).code;
      if (code === 'ResourceNotFound' || code === 'InvalidStateTransition' || code === 'TerminalStateReached') return undefined;
      throw err;
    }
  }

  private async runHandler(handler: JobHandler, document: unknown, ex: JobExecution, version: number, timeoutS: number): Promise<{ ending: Ending; version: number }> {
    const signal = this.controller.signal;
    const timer = setTimeout(() => this.abort('timeout', `no result within ${timeoutS} s`), timeoutS * 1000);
    const progress = new ProgressReporter({
      api: this.api,
      jobId: this.c.jobId,
      executionNumber: this.c.executionNumber,
      callOptions: callOpts(this.c.namespace, this.env.requestTimeoutMs),
      intervalMs: this.env.progressIntervalMs,
      version,
      log: this.log,
      onTerminal: (status) => this.abort('canceled', `service reports ${status}`),
    });
    const workDir = join(this.env.workRoot, this.c.namespace || '_', `${this.c.jobId}-${this.c.executionNumber}`);
    // Made on first use: most handlers never touch it, and a mkdir + rm per job is measurable while draining.
    let made = existsSync(workDir);
    const ensureWorkDir = (): string => {
      if (!made) mkdirSync(workDir, { recursive: true, mode: 0o700 });
      made = true;
      return workDir;
    };
    const ctx: HandlerContext = {
      signal,
      log: handlerLogger(this.log),
      progress: (d) => {
        progress.report(d);
        this.env.emit({ type: 'progress', ref: this.c, details: d });
      },
      job: { jobId: this.c.jobId, executionNumber: this.c.executionNumber, versionNumber: version, queuedAt: ex.queuedAt, thingName: this.env.thingName, ...(this.c.namespace ? { namespace: this.c.namespace } : {}) },
      document,
      get workDir(): string {
        return ensureWorkDir();
      },
      exec: this.env.exec,
      saveState: (s) => this.env.store.saveHandlerState(this.ref(), s),
      savedState: this.env.store.get(this.ref())?.handlerState,
      options: this.env.optionsFor(handler.name),
      network: this.env.network ?? directDialer,
      ...(this.env.identityFor ? { identity: this.env.identityFor(this.c.jobId) } : {}),
    };
    let result: Parameters<typeof endingOf>[0];
    try {
      const fn = this.c.mode === 'resume' && handler.resume ? handler.resume.bind(handler) : handler.run.bind(handler);
      result = { ok: true, value: await raceAbort(fn(ctx), signal) };
    } catch (err) {
      result = { ok: false, error: err };
    } finally {
      clearTimeout(timer);
    }
    await progress.close();
    let ending = endingOf(result, this.abortReason, this.policy);
    // A RejectError from run() comes after IN_PROGRESS, and the service refuses IN_PROGRESS → REJECTED
    // (an update it would refuse forever blocks the outbox): report FAILED with the handler's reason.
    if (ending.kind === 'report' && ending.status === 'REJECTED') ending = { ...ending, status: 'FAILED' };
    if (made && ending.kind !== 'deferred') await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
    return { ending, version: progress.currentVersion };
  }

  /**
   * The signed-document checks (docs/SIGNING.md), before a handler is even chosen: the handler sees
   * only the signed `doc`. Resolves to the handler to run, or undefined when the verdict is out.
   */
  private async checkSigned(gate: TrustGate, doc: unknown, ex: JobExecution, timestamp: number | undefined): Promise<Resolution | undefined> {
    const handlerOf = (d: unknown): string | undefined => {
      const r = this.env.registry.resolve(d);
      return r.ok ? r.handler.name : undefined;
    };
    const g = await gate.check({ document: doc, namespace: this.c.namespace, jobId: this.c.jobId, executionNumber: this.c.executionNumber, responseTimestamp: timestamp, handlerOf, signal: this.controller.signal });
    this.gateDetails = g.details;
    if (!g.run) {
      this.startedDurably = true;
      if (g.status === 'REJECTED') this.log.warn({ reason: g.details['ija:reason'], detail: g.details['ija:detail'] }, 'job rejected: signature checks');
      // A restarted execution is IN_PROGRESS already, and the service refuses IN_PROGRESS → REJECTED.
      const status = g.status === 'REJECTED' && this.c.mode !== 'fresh' ? 'FAILED' : g.status;
      await this.finish({ kind: 'report', status, details: {} }, ex.versionNumber, undefined);
      return undefined;
    }
    this.accepted = g.accepted;
    this.cleanup = g.cleanup;
    return g.handler ? { ok: true, handler: g.handler, document: g.document } : this.env.registry.resolve(g.document);
  }

  private async reject(reason: string, version: number): Promise<void> {
    this.startedDurably = true; // the outcome is decided; a failure below must not run the job
    this.log.warn({ reason }, 'job rejected');
    await this.finish({ kind: 'report', status: 'REJECTED', details: { reason } }, version, undefined);
  }

  private async finish(ending: Ending, version: number, handler: string | undefined): Promise<void> {
    const ref = this.ref();
    switch (ending.kind) {
      case 'deferred':
        this.env.emit({ type: 'deferred', ref });
        return;
      case 'gone': {
        await this.env.store.markFinished(ref, { status: 'FAILED', details: { reason: 'canceled' } }, { status: 'FAILED' }, this.queuedAt);
        // Nothing to send: `reported` also takes the execution's update out of the outbox.
        await this.env.store.markReported(ref);
        this.env.emit({ type: 'gone', ref });
        return;
      }
      case 'report': {
        // The check stage's keys first: the service keeps at most 10 entries.
        const details = sanitizeDetails({ ...this.gateDetails, ...ending.details }) ?? {};
        const update = Object.keys(details).length > 0 ? { status: ending.status, statusDetails: details, expectedVersion: version } : { status: ending.status, expectedVersion: version };
        await this.env.store.markFinished(ref, { status: ending.status, details }, update, this.queuedAt);
        this.env.emit({ type: ending.status === 'REJECTED' ? 'rejected' : 'finished', ref, status: ending.status, details, ...(handler ? { handler } : {}) });
        this.env.kickOutbox();
        if (this.accepted !== undefined && this.env.gate) {
          await this.env.gate.outcome(this.accepted, ending.status).catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'could not record the outcome in the replay ledger'));
        }
      }
    }
  }
}

/** A handler that ignores its signal still loses the race: the agent moves on at once. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}
