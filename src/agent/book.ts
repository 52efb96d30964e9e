/**
 * The agent's book of executions between listings: which wait (the ready queue), which run, which
 * this process settled, and what a listing leaves to do later (a new job waiting for the old one's
 * outcome to be reported, a running one to fetch again when it ends, a namespace whose list was
 * cut), and whether every namespace has been listed once (dispatch waits for that, so the start-up
 * order spans namespaces). Listings, notify and notify-next are merged into it through
 * `planReconcile` (src/agent/reconcile.ts). Fetching, dispatch and the lifecycle stay with the agent,
 * which the book reaches through `BookDeps`.
 */
import type { JobsApi } from '../jobs/api';
import { isTerminal } from '../jobs/types';
import type { GetPendingAccepted, JobExecution, NotifyMsg } from '../jobs/types';
import { errorMessage } from '../lib/errors';
import type { Logger } from '../lib/log';
import { RecentMap } from '../lib/recent';
import type { ExecRef, StateStore } from '../store/types';
import type { Candidate, Execution } from './execution';
import { sameExecution } from './incarnation';
import { planReconcile, refKey } from './reconcile';
import type { KnownState, Past, ReconcilePlan } from './reconcile';
import { ReadyQueue } from './ready';

/**
 * Settled executions remembered for dedupe. Older ones are no longer listed by the service, and the
 * journal keeps its own recent history (REPORTED_KEEP) for a late duplicate.
 */
const DONE_KEEP = 1_000;

export interface BookDeps {
  store: StateStore;
  log: Logger;
  apiFor(ns: string): JobsApi;
  requestTimeoutMs: number;
  /** The namespaces worked, in the configuration's order. */
  namespaces(): string[];
  /** Hands a new candidate to dispatch (the agent admits it here first, see `admit`). */
  enqueue(c: Candidate): void;
  /** Fetches a namespace's pending list again (coalesced; only while the agent runs). */
  trigger(ns: string): void;
}

export class ExecutionBook {
  readonly ready = new ReadyQueue<Candidate>();
  readonly running = new Map<string, Execution>();
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
  private readonly confirming = new Set<string>();
  private releaseGate!: () => void;
  /** Dispatch waits for the first fetch of every namespace, so start-up order spans namespaces. */
  readonly gate = new Promise<void>((resolve) => (this.releaseGate = resolve));
  private gateIsOpen = false;
  private firstFetch = new Set<string>();

  constructor(private readonly d: BookDeps) {}

  /** Start-up: the gate opens once every namespace has answered its first fetch. */
  expectListings(): void {
    this.firstFetch = new Set(this.d.namespaces());
  }

  /** Dispatch begins: ties between namespaces found so far follow the configuration's order. */
  openGate(): void {
    if (this.gateIsOpen) return;
    this.gateIsOpen = true;
    this.ready.resequence(this.d.namespaces());
    this.releaseGate();
  }

  /** A GetPendingJobExecutions answer for `ns`; the namespace's first is the start-up listing. */
  listed(ns: string, list: GetPendingAccepted): void {
    const plan = this.plan(ns, list, this.firstFetch.delete(ns));
    if (plan.truncated) this.truncated.add(ns);
    else this.truncated.delete(ns);
    for (const k of plan.dropReady) {
      this.d.log.info({ jobId: this.ready.get(k)?.jobId }, 'queued job left the pending set before it started');
      this.ready.delete(k);
    }
    this.follow(plan);
    if (this.firstFetch.size === 0) this.openGate();
  }

  /**
   * A notify carries the pending list itself (up to 10): new executions in it are queued straight
   * away; a fetch is needed only when the list may be cut, or when a queued one is missing from it
   * (notifications can arrive out of order, so a missing one is checked, never just dropped).
   */
  notified(ns: string, m: NotifyMsg): void {
    const list = { timestamp: m.timestamp, inProgressJobs: m.jobs.IN_PROGRESS ?? [], queuedJobs: m.jobs.QUEUED ?? [] };
    const plan = this.plan(ns, list, false);
    this.follow(plan);
    // A cut list is exactly what GetPendingJobExecutions would return now (same cap, same order), so
    // it needs no fetch either; whatever lies beyond it is fetched when the known ones run out.
    if (plan.dropReady.length > 0 || this.firstFetch.has(ns)) this.d.trigger(ns);
    else if (plan.truncated) this.truncated.add(ns);
  }

  notifiedNext(ns: string, head: JobExecution | undefined): void {
    // A hint only: confirm with the service before aborting (a stray or duplicate notify-next must never kill a healthy job).
    for (const [k, e] of this.running) if (e.c.namespace === ns && e.c.jobId !== head?.jobId) void this.confirm(k);
    if (!head) return;
    const ref = { namespace: ns, jobId: head.jobId, executionNumber: head.executionNumber };
    const key = refKey(ref);
    if (this.running.has(key) && head.status === 'QUEUED') this.recheckAfterRun.add(key);
    if (this.ready.has(key) || this.running.has(key)) return;
    const past = this.past(ref);
    if (past === undefined || !sameExecution(head, past)) this.d.trigger(ns);
  }

  /** Takes `c` into the ready queue unless it runs, was settled here (and is not a new job behind its id), or waits already. */
  admit(c: Candidate): boolean {
    const key = refKey(c);
    if (this.running.has(key) || (this.done.has(key) && !c.supersedes) || !this.ready.add(c)) return false;
    if (c.supersedes) this.d.log.info({ jobId: c.jobId, executionNumber: c.executionNumber, queuedAt: c.queuedAt }, 'a new job stands behind the id of one already run; it runs as a new job');
    this.done.delete(key);
    return true;
  }

  /** Remembers an execution settled by this process, with the queuedAt it was known by. */
  settled(ref: ExecRef, queuedAt: number | undefined): void {
    this.done.set(refKey(ref), queuedAt);
  }

  /** An outcome left the outbox; true when a new job behind its id was waiting for it. */
  reported(ref: ExecRef): boolean {
    return this.awaitingReport.delete(refKey(ref));
  }

  /** True (once) when the namespace must be fetched again now that this run ended. */
  takeRecheck(key: string): boolean {
    return this.recheckAfterRun.delete(key);
  }

  /** More may be pending beyond the last (cut) list of `ns`, and none of its known ones waits any more. */
  mayHoldMore(ns: string): boolean {
    return this.truncated.has(ns) && !this.ready.hasNamespace(ns);
  }

  private plan(ns: string, list: GetPendingAccepted, startup: boolean): ReconcilePlan {
    return planReconcile(ns, list, this.known(), this.ready.keys(), [...this.running.keys()], startup);
  }

  /** What a listing and a notify both do with their plan, in this order. */
  private follow(plan: ReconcilePlan): void {
    for (const k of plan.confirmRunning) void this.confirm(k);
    for (const r of plan.waitForReport) this.awaitingReport.add(refKey(r));
    for (const k of plan.recheckAfterRun) this.recheckAfterRun.add(k);
    for (const c of plan.enqueue) this.d.enqueue(c);
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

  /** A running execution missing from a listing, or passed over by notify-next: aborted only once the service confirms it ended. */
  private async confirm(key: string): Promise<void> {
    const e = this.running.get(key);
    if (!e || this.confirming.has(key)) return;
    this.confirming.add(key);
    try {
      const r = await this.d.apiFor(e.c.namespace).describe(e.c.jobId, { executionNumber: e.c.executionNumber, includeJobDocument: false }, { ...(e.c.namespace ? { namespace: e.c.namespace } : {}), timeoutMs: this.d.requestTimeoutMs });
      if (!r.execution) e.abort('canceled', 'execution no longer exists');
      else if (isTerminal(r.execution.status)) e.abort('canceled', `service reports ${r.execution.status}`);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 'ResourceNotFound' || code === 'TerminalStateReached' || code === 'TerminalState') e.abort('canceled', String(code));
      else this.d.log.debug({ err: errorMessage(err) }, 'could not confirm a running job; keeping it');
    } finally {
      this.confirming.delete(key);
    }
  }
}
