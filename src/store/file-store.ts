/**
 * The durable StateStore: an append-only journal of JSON lines, fsynced per write batch, folded
 * periodically into an atomically written snapshot.
 *
 * - How records reach stable storage — group commit, a failed append cut off again, compaction —
 *   is journal-writer.ts's. Each write's promise resolves only once its record is durable.
 * - Memory follows disk: a record changes the in-memory view only after it is on stable storage, so
 *   nothing the agent reads can vanish in a crash.
 * - Storage trouble (ENOSPC, EROFS, EIO…) is a state, not a failure (docs/RESILIENCE.md): the batch
 *   that failed is cut off the journal again; a start (or handler state) is refused with
 *   StorageUnavailableError, so no job starts without a record; an outcome, a report, an ack or a
 *   release is applied to memory anyway, so the outcome is still reported. A retry with backoff
 *   writes the whole in-memory state as a snapshot; once that works the store is writable again.
 *   Memory is ahead of disk only while `health.writable` is false.
 * - Outbox limit: terminal outcomes are never dropped. When the outbox holds `outboxLimit` items,
 *   `outboxFull` turns true (the agent stops taking jobs) and a further outcome is still enqueued
 *   beyond the limit, with a warning; the overflow is bounded by the jobs already running.
 */
import { Backoff } from '../lib/backoff';
import { systemClock, type Clock } from '../lib/clock';
import { AgentError, errorMessage } from '../lib/errors';
import { describeProblem, isStorageError, StorageUnavailableError, type StorageProblem, type StoreHealth } from './health';
import { loadState } from './journal-file';
import { JournalWriter, type Queued } from './journal-writer';
import { openIo, type Io } from './io';
import { StoreLockedError } from './lock';
import { applyRecord, findReported, pickRef, refKey, type StoreRecord, type StoreState } from './records';
import type { ExecRef, JournalEntry, OutboxItem, StateStore } from './types';

export interface StateStoreOptions {
  /** Outbox size at which `outboxFull` turns true (default 1000). */
  outboxLimit?: number;
  clock?: Clock;
  onWarn?: (msg: string) => void;
  /** Journal records between compactions (default 1000). */
  compactEvery?: number;
  /** Retry delays while the state directory cannot be written (default 1 s doubling to 15 s, full jitter). */
  retry?: { baseMs: number; maxMs: number };
  /**
   * Called once this process holds the journal's lock, before the journal is read and compacted:
   * work that must not run while another agent owns the directory can start here.
   */
  onLocked?: () => void;
}

type RecordBody = StoreRecord extends infer R ? (R extends StoreRecord ? Omit<R, 'n'> : never) : never;

/** A write that contradicts the journal (e.g. starting an execution that was already reported). */
export class StoreConflictError extends AgentError {
  constructor(message: string) {
    super('StoreConflict', message);
  }
}

function describe(ref: ExecRef): string {
  return `${ref.namespace === '' ? '' : `${ref.namespace}/`}${ref.jobId}#${ref.executionNumber}`;
}

/** Records the agent may not lose even when the journal cannot take them: they go to memory first. */
const DEFERRABLE: ReadonlySet<StoreRecord['op']> = new Set<StoreRecord['op']>(['finish', 'report', 'ack', 'release']);

class FileStateStore implements StateStore {
  private readonly journal: JournalWriter;
  private closing: Promise<void> | undefined;
  private lastLsn: number;
  private nextSeq: number;
  private readonly finishing = new Map<string, Promise<OutboxItem>>();
  private readonly limit: number;
  private readonly clock: Clock;
  private readonly warn: (msg: string) => void;
  private problem: StorageProblem | undefined;
  /** Records applied to memory that no file holds yet (only while `problem` is set). */
  private unjournaled = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private recovering: Promise<void> | undefined;
  private readonly backoff: Backoff;
  private readonly listeners: ((h: StoreHealth) => void)[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly dir: string,
    io: Io | undefined,
    private readonly state: StoreState,
    opts: StateStoreOptions,
  ) {
    this.lastLsn = state.lsn;
    this.nextSeq = state.nextSeq;
    this.limit = opts.outboxLimit ?? 1000;
    this.clock = opts.clock ?? systemClock;
    this.warn = opts.onWarn ?? (() => undefined);
    this.backoff = new Backoff(opts.retry ?? { baseMs: 1000, maxMs: 15_000 });
    this.journal = new JournalWriter(dir, io, state, {
      compactEvery: opts.compactEvery ?? 1000,
      warn: this.warn,
      writable: () => this.problem === undefined,
      onAppendFailed: (err, failed) => {
        const problem = describeProblem(this.dir, 'appending to the journal', err, this.clock.now());
        this.enterProblem(problem);
        for (const q of failed) this.settleUnwritable(q, problem);
      },
    });
  }

  get outboxFull(): boolean {
    return this.state.outbox.length >= this.limit;
  }

  get health(): StoreHealth {
    return this.problem === undefined ? { writable: true } : { writable: false, ...this.problem };
  }

  /** Records held in memory only (for `status`-like reporting and tests). */
  get unjournaledRecords(): number {
    return this.unjournaled;
  }

  onHealthChange(listener: (h: StoreHealth) => void): void {
    this.listeners.push(listener);
  }

  whenWritable(signal?: AbortSignal): Promise<void> {
    if (this.problem === undefined) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        signal?.removeEventListener('abort', onAbort);
        this.waiters.delete(done);
        resolve();
      };
      const onAbort = (): void => {
        this.waiters.delete(done);
        reject(new AgentError('Aborted', 'stopped waiting for the state directory'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(done);
    });
  }

  get(ref: ExecRef): JournalEntry | undefined {
    const entry = this.state.active.get(refKey(ref)) ?? findReported(this.state, ref);
    return entry === undefined ? undefined : structuredClone(entry);
  }

  entries(): JournalEntry[] {
    return structuredClone([...this.state.active.values(), ...this.state.reported]);
  }

  pending(): OutboxItem[] {
    return structuredClone(this.state.outbox);
  }

  async markStarted(entry: Omit<JournalEntry, 'state'>): Promise<void> {
    const existing = this.get(entry);
    if (existing !== undefined && existing.state !== 'started') {
      throw new StoreConflictError(`${describe(entry)} is already ${existing.state}; it cannot start again`);
    }
    // Callers may hand in a full JournalEntry; its `state` (and journal order) is the store's to decide.
    const copy: Record<string, unknown> = { ...entry };
    delete copy.state;
    delete copy.startSeq;
    delete copy.finishSeq;
    await this.write({ op: 'start', entry: copy as Omit<JournalEntry, 'state'> });
  }

  async saveHandlerState(ref: ExecRef, handlerState: Record<string, unknown>): Promise<void> {
    const existing = this.state.active.get(refKey(ref));
    if (existing?.state !== 'started') {
      throw new StoreConflictError(`${describe(ref)} is not running (${existing?.state ?? 'unknown'}); its handler state cannot change`);
    }
    await this.write({ op: 'state', ref: pickRef(ref), handlerState });
  }

  markFinished(
    ref: ExecRef,
    outcome: NonNullable<JournalEntry['outcome']>,
    update: Omit<OutboxItem, 'seq' | 'enqueuedAt' | keyof ExecRef>,
    queuedAt?: number,
  ): Promise<OutboxItem> {
    const key = refKey(ref);
    // Idempotent: a second finish of the same execution returns the first outcome's update.
    const inFlight = this.finishing.get(key);
    if (inFlight !== undefined) return inFlight;
    const existing = this.get(ref);
    if (existing?.state === 'reported') {
      return Promise.reject(new StoreConflictError(`${describe(ref)} was already reported; its outcome cannot change`));
    }
    const queued = this.state.outbox.find((item) => refKey(item) === key);
    if (existing?.state === 'finished' && queued !== undefined) return Promise.resolve(structuredClone(queued));
    const promise = this.finish(ref, outcome, update, queuedAt).finally(() => this.finishing.delete(key));
    this.finishing.set(key, promise);
    return promise;
  }

  private async finish(
    ref: ExecRef,
    outcome: NonNullable<JournalEntry['outcome']>,
    update: Omit<OutboxItem, 'seq' | 'enqueuedAt' | keyof ExecRef>,
    queuedAt: number | undefined,
  ): Promise<OutboxItem> {
    const now = this.clock.now();
    const item: OutboxItem = { ...pickRef(ref), seq: this.nextSeq++, status: update.status, enqueuedAt: now };
    if (update.statusDetails !== undefined) item.statusDetails = update.statusDetails;
    if (update.expectedVersion !== undefined) item.expectedVersion = update.expectedVersion;
    const size = this.state.outbox.length + this.finishing.size;
    if (size >= this.limit) {
      this.warn(
        `status outbox is full (${size} of ${this.limit} updates waiting): the outcome of ${describe(ref)} is kept beyond the limit; no new jobs should start until the service accepts updates`,
      );
    }
    await this.write({ op: 'finish', ref: pickRef(ref), at: now, outcome, item, ...(queuedAt !== undefined ? { queuedAt } : {}) });
    return structuredClone(item);
  }

  async markReported(ref: ExecRef): Promise<void> {
    const key = refKey(ref);
    const known = this.state.active.has(key) || this.state.outbox.some((item) => refKey(item) === key);
    if (!known) return; // already reported, or never journaled: nothing to record
    await this.write({ op: 'report', ref: pickRef(ref), at: this.clock.now() });
  }

  async release(ref: ExecRef): Promise<void> {
    if (this.state.active.get(refKey(ref))?.state !== 'started') return;
    await this.write({ op: 'release', ref: pickRef(ref) });
  }

  async forget(ref: ExecRef): Promise<void> {
    if (findReported(this.state, ref) === undefined) return;
    await this.write({ op: 'forget', ref: pickRef(ref) });
  }

  async ack(seq: number): Promise<void> {
    if (!this.state.outbox.some((item) => item.seq === seq)) return;
    await this.write({ op: 'ack', seq });
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** At open: cut a torn tail, then prove the directory writable by writing the snapshot. */
  async init(goodSize: number, size: number): Promise<void> {
    try {
      await this.journal.repair(goodSize, size);
    } catch (err) {
      if (!isStorageError(err)) throw err;
      this.enterProblem(describeProblem(this.dir, 'writing the state snapshot', err, this.clock.now()));
    }
  }

  /** Start-up found the directory unwritable before the journal could even be opened. */
  startDegraded(problem: StorageProblem): void {
    this.enterProblem(problem);
  }

  private async shutdown(): Promise<void> {
    await this.journal.drained();
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.recovering;
    for (const w of [...this.waiters]) w();
    try {
      await this.journal.open();
      await this.journal.compact();
    } catch (err) {
      const lost = this.unjournaled > 0 ? `; ${this.unjournaled} record(s) held only in memory are lost (the restart policy decides for their executions)` : '';
      this.warn(`could not compact the journal on close: ${errorMessage(err)}${lost}`);
    } finally {
      await this.journal.close();
    }
  }

  private write(body: RecordBody): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new AgentError('StoreClosed', 'the state store is closed'));
    const line = JSON.stringify({ n: ++this.lastLsn, ...body });
    // Memory applies the decoded line, so it holds exactly what a replay after a crash would.
    const rec = JSON.parse(line) as StoreRecord;
    return new Promise<void>((resolve, reject) => {
      const q = { rec, line, resolve, reject };
      if (this.problem !== undefined) return this.settleUnwritable(q, this.problem);
      this.journal.append(q);
    });
  }

  /** The journal cannot take `q`: keep it in memory if it must not be lost, refuse it otherwise. */
  private settleUnwritable(q: Queued, problem: StorageProblem): void {
    if (!DEFERRABLE.has(q.rec.op)) {
      q.reject(new StorageUnavailableError(problem));
      return;
    }
    applyRecord(this.state, q.rec);
    this.unjournaled++;
    q.resolve();
  }

  private enterProblem(problem: StorageProblem): void {
    const first = this.problem === undefined;
    this.problem = first ? problem : { ...problem, since: this.problem?.since ?? problem.since };
    if (first) for (const l of this.listeners) l(this.health);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== undefined || this.closing !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.recover();
    }, this.backoff.next());
    this.retryTimer.unref();
  }

  /** One retry: take the lock and open the journal if need be, then write everything memory holds. */
  private recover(): Promise<void> {
    this.recovering ??= (async () => {
      let step = 'opening the journal';
      try {
        await this.journal.open();
        step = 'writing the state snapshot';
        await this.journal.compact();
      } catch (err) {
        if (!isStorageError(err) && !(err instanceof StoreLockedError)) this.warn(`state directory still unusable: ${errorMessage(err)}`);
        this.enterProblem(describeProblem(this.dir, step, err, this.clock.now()));
        return;
      }
      this.problem = undefined;
      this.unjournaled = 0;
      this.backoff.reset();
      for (const l of this.listeners) l(this.health);
      for (const w of [...this.waiters]) w();
    })().finally(() => {
      this.recovering = undefined;
    });
    return this.recovering;
  }
}

/**
 * Open (or create) the store in `dir`, repairing a torn journal tail left by a crash. A directory
 * that cannot be written (full, read-only, failing) still opens, unwritable, and retries by itself;
 * only a state that cannot be read or trusted (or another live writer) is an error.
 */
export async function openStateStore(dir: string, opts: StateStoreOptions = {}): Promise<StateStore & { readonly unjournaledRecords: number }> {
  const clock = opts.clock ?? systemClock;
  let io: Io | undefined;
  let problem: StorageProblem | undefined;
  try {
    io = await openIo(dir);
    opts.onLocked?.();
  } catch (err) {
    if (!isStorageError(err)) throw err;
    problem = describeProblem(dir, 'opening the journal', err, clock.now());
  }
  try {
    const loaded = await loadState(dir);
    for (const w of loaded.warnings) opts.onWarn?.(w);
    const store = new FileStateStore(dir, io, loaded.state, opts);
    if (problem !== undefined) store.startDegraded(problem);
    else await store.init(loaded.goodSize, loaded.size);
    return store;
  } catch (err) {
    await io?.handle.close().catch(() => undefined);
    await io?.release().catch(() => undefined);
    throw err;
  }
}

export { readJournal, type JournalView, type OutcomeView } from './read';
