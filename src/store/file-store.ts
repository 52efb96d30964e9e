/**
 * The durable StateStore: an append-only journal of JSON lines, fsynced per write batch, folded
 * periodically into an atomically written snapshot.
 *
 * - Group commit: writes issued while an fsync is in flight are appended and synced together, so N
 *   concurrent writers pay for one fsync, and each promise resolves only once its record is durable.
 * - Memory follows disk: a record changes the in-memory view only after it is on stable storage, so
 *   nothing the agent reads can vanish in a crash.
 * - Compaction writes the snapshot (tmp + fsync + rename + fsync dir) and then truncates the journal;
 *   records carry a sequence number `n`, so a crash between the two replays nothing twice.
 * - Outbox limit: terminal outcomes are never dropped. When the outbox holds `outboxLimit` items,
 *   `outboxFull` turns true (the agent stops taking jobs) and a further outcome is still enqueued
 *   beyond the limit, with a warning; the overflow is bounded by the jobs already running.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { systemClock, type Clock } from '../lib/clock';
import { AgentError, errorMessage } from '../lib/errors';
import { appendDurable, atomicWriteFile, fsyncDir, removeStaleTemps } from '../lib/fsutil';
import { JOURNAL_FILE, SNAPSHOT_FILE, loadState } from './journal-file';
import { acquireLock } from './lock';
import { applyRecord, findReported, pickRef, refKey, toSnapshot, type StoreRecord, type StoreState } from './records';
import type { ExecRef, JournalEntry, OutboxItem, StateStore } from './types';

export interface StateStoreOptions {
  /** Outbox size at which `outboxFull` turns true (default 1000). */
  outboxLimit?: number;
  clock?: Clock;
  onWarn?: (msg: string) => void;
  /** Journal records between compactions (default 1000). */
  compactEvery?: number;
}

type RecordBody = StoreRecord extends infer R ? (R extends StoreRecord ? Omit<R, 'n'> : never) : never;

interface Queued {
  rec: StoreRecord;
  line: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** A write that contradicts the journal (e.g. starting an execution that was already reported). */
export class StoreConflictError extends AgentError {
  constructor(message: string) {
    super('StoreConflict', message);
  }
}

function describe(ref: ExecRef): string {
  return `${ref.namespace === '' ? '' : `${ref.namespace}/`}${ref.jobId}#${ref.executionNumber}`;
}

class FileStateStore implements StateStore {
  private readonly queue: Queued[] = [];
  private loop: Promise<void> = Promise.resolve();
  private flushing = false;
  private failure: unknown;
  private closing: Promise<void> | undefined;
  private sinceSnapshot = 0;
  private lastLsn: number;
  private nextSeq: number;
  private readonly finishing = new Map<string, Promise<OutboxItem>>();
  private readonly limit: number;
  private readonly clock: Clock;
  private readonly warn: (msg: string) => void;
  private readonly compactEvery: number;

  constructor(
    private readonly dir: string,
    private readonly handle: fsp.FileHandle,
    private readonly state: StoreState,
    private readonly release: () => Promise<void>,
    opts: StateStoreOptions,
  ) {
    this.lastLsn = state.lsn;
    this.nextSeq = state.nextSeq;
    this.limit = opts.outboxLimit ?? 1000;
    this.clock = opts.clock ?? systemClock;
    this.warn = opts.onWarn ?? (() => undefined);
    this.compactEvery = opts.compactEvery ?? 1000;
  }

  get outboxFull(): boolean {
    return this.state.outbox.length >= this.limit;
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
    // Callers may hand in a full JournalEntry; its `state` is the store's to decide.
    const copy: Record<string, unknown> = { ...entry };
    delete copy.state;
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
    const promise = this.finish(ref, outcome, update).finally(() => this.finishing.delete(key));
    this.finishing.set(key, promise);
    return promise;
  }

  private async finish(
    ref: ExecRef,
    outcome: NonNullable<JournalEntry['outcome']>,
    update: Omit<OutboxItem, 'seq' | 'enqueuedAt' | keyof ExecRef>,
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
    await this.write({ op: 'finish', ref: pickRef(ref), at: now, outcome, item });
    return structuredClone(item);
  }

  async markReported(ref: ExecRef): Promise<void> {
    const key = refKey(ref);
    const known = this.state.active.has(key) || this.state.outbox.some((item) => refKey(item) === key);
    if (!known) return; // already reported, or never journaled: nothing to record
    await this.write({ op: 'report', ref: pickRef(ref), at: this.clock.now() });
  }

  async ack(seq: number): Promise<void> {
    if (!this.state.outbox.some((item) => item.seq === seq)) return;
    await this.write({ op: 'ack', seq });
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Fold the journal into a fresh snapshot. Only called while no batch is being appended. */
  async compact(): Promise<void> {
    await atomicWriteFile(path.join(this.dir, SNAPSHOT_FILE), `${JSON.stringify(toSnapshot(this.state))}\n`, 0o600);
    await this.handle.truncate(0);
    await this.handle.datasync();
    this.sinceSnapshot = 0;
  }

  private async shutdown(): Promise<void> {
    while (this.flushing) await this.loop;
    try {
      if (this.failure === undefined) await this.compact();
    } catch (err) {
      this.warn(`could not compact the journal on close: ${errorMessage(err)}`);
    } finally {
      await this.handle.close();
      await this.release();
    }
  }

  private write(body: RecordBody): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new AgentError('StoreClosed', 'the state store is closed'));
    if (this.failure !== undefined) {
      return Promise.reject(new AgentError('StoreFailed', `the state store failed earlier: ${errorMessage(this.failure)}`));
    }
    const line = JSON.stringify({ n: ++this.lastLsn, ...body });
    // Memory applies the decoded line, so it holds exactly what a replay after a crash would.
    const rec = JSON.parse(line) as StoreRecord;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ rec, line, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        this.loop = this.flushLoop();
      }
    });
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0 && this.failure === undefined) await this.flushBatch(this.queue.splice(0));
    } finally {
      // Runs in the same tick the queue was seen empty, so no write can be left unflushed.
      this.flushing = false;
    }
  }

  private async flushBatch(batch: Queued[]): Promise<void> {
    try {
      await appendDurable(this.handle, batch.map((q) => `${q.line}\n`).join(''));
    } catch (err) {
      // The file may now end in a partial record; stop writing and let a reopen repair it.
      this.failure = err;
      for (const q of [...batch, ...this.queue.splice(0)]) q.reject(err);
      return;
    }
    for (const q of batch) applyRecord(this.state, q.rec);
    for (const q of batch) q.resolve();
    this.sinceSnapshot += batch.length;
    if (this.sinceSnapshot >= this.compactEvery) await this.compactQuietly();
  }

  private async compactQuietly(): Promise<void> {
    try {
      await this.compact();
    } catch (err) {
      // The journal is still complete, so a failed compaction costs disk space, not data.
      this.warn(`could not compact the journal: ${errorMessage(err)}`);
    }
  }
}

/** Open (or create) the store in `dir`, repairing a torn journal tail left by a crash. */
export async function openStateStore(dir: string, opts: StateStoreOptions = {}): Promise<StateStore> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const release = await acquireLock(dir);
  try {
    await removeStaleTemps(dir, SNAPSHOT_FILE);
    const loaded = await loadState(dir);
    for (const w of loaded.warnings) opts.onWarn?.(w);
    const handle = await fsp.open(path.join(dir, JOURNAL_FILE), 'a', 0o600);
    try {
      // Cut a torn tail before appending, or new records would sit behind garbage.
      if (loaded.goodSize < loaded.size) await handle.truncate(loaded.goodSize);
      await handle.datasync();
      await fsyncDir(dir);
      const store = new FileStateStore(dir, handle, loaded.state, release, opts);
      if (loaded.size > 0) await store.compact();
      return store;
    } catch (err) {
      await handle.close();
      throw err;
    }
  } catch (err) {
    await release();
    throw err;
  }
}

export { readJournal, type JournalView, type OutcomeView } from './read';
