/**
 * The writing side of the on-disk state: the journal open for appending, group commit onto it, and
 * compaction into the snapshot. The store (file-store.ts) decides what is written and what happens
 * when the directory cannot be written; this module decides how it reaches stable storage.
 *
 * - Group commit: records queued while an append is in flight are appended and fsynced together as
 *   one batch, so N concurrent writers pay for one fsync; each record's promise resolves only once
 *   it is durable.
 * - Memory follows disk: a batch is folded into the in-memory state only after its fsync.
 * - A failed append may leave a partial record at the end of the file: it is cut off again (a reopen
 *   would, too) before the failure is handed to the store.
 * - Compaction writes the snapshot (tmp + fsync + rename + fsync dir) and only then truncates the
 *   journal; records carry a sequence number `n`, so a crash between the two replays nothing twice.
 */
import * as path from 'node:path';
import { AgentError, errorMessage } from '../lib/errors';
import { appendDurable, atomicWriteFile, fsyncDir } from '../lib/fsutil';
import { SNAPSHOT_FILE } from './journal-file';
import { openIo, type Io } from './io';
import { applyRecord, toSnapshot, type StoreRecord, type StoreState } from './records';

/** One record waiting for its batch, with the promise of the write that asked for it. */
export interface Queued {
  rec: StoreRecord;
  line: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface JournalWriterOptions {
  /** Journal records between compactions. */
  compactEvery: number;
  warn: (msg: string) => void;
  /** False while the store is degraded: queued records then stay for the store to settle. */
  writable: () => boolean;
  /** An append failed (the file is already cut back): `failed` are the batch and everything queued behind it. */
  onAppendFailed: (err: unknown, failed: Queued[]) => void;
}

export class JournalWriter {
  private readonly queue: Queued[] = [];
  private loop: Promise<void> = Promise.resolve();
  private flushing = false;
  private sinceSnapshot = 0;
  /** Bytes of the journal that hold complete, durable records. */
  private goodSize = 0;

  constructor(
    private readonly dir: string,
    private io: Io | undefined,
    private readonly state: StoreState,
    private readonly o: JournalWriterOptions,
  ) {}

  /** Queues a record for the next batch; its promise settles once the batch is durable (or failed). */
  append(q: Queued): void {
    this.queue.push(q);
    if (!this.flushing) {
      this.flushing = true;
      this.loop = this.flushLoop();
    }
  }

  /** Resolves once no batch is in flight. */
  async drained(): Promise<void> {
    while (this.flushing) await this.loop;
  }

  /** Takes the lock and opens the journal, unless it is open already. */
  async open(): Promise<void> {
    this.io ??= await openIo(this.dir);
  }

  /** At open: cut a torn tail, then prove the directory writable by writing the snapshot. */
  async repair(goodSize: number, size: number): Promise<void> {
    this.goodSize = goodSize;
    const io = this.io;
    if (io === undefined) return;
    // Cut a torn tail before appending, or new records would sit behind garbage.
    if (goodSize < size) await io.handle.truncate(goodSize);
    await io.handle.datasync();
    await fsyncDir(this.dir);
    await this.compact();
  }

  /** Fold the journal (and whatever memory holds beyond it) into a fresh snapshot. Never during an append. */
  async compact(): Promise<void> {
    const io = this.io;
    if (io === undefined) throw new AgentError('StoreClosed', 'the journal is not open');
    await atomicWriteFile(path.join(this.dir, SNAPSHOT_FILE), `${JSON.stringify(toSnapshot(this.state))}\n`, 0o600);
    await io.handle.truncate(0);
    await io.handle.datasync();
    this.goodSize = 0;
    this.sinceSnapshot = 0;
  }

  /** Closes the journal and gives up the lock. */
  async close(): Promise<void> {
    await this.io?.handle.close();
    await this.io?.release();
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0 && this.o.writable()) await this.flushBatch(this.queue.splice(0));
    } finally {
      // Runs in the same tick the queue was seen empty, so no write can be left unflushed.
      this.flushing = false;
    }
  }

  private async flushBatch(batch: Queued[]): Promise<void> {
    const data = batch.map((q) => `${q.line}\n`).join('');
    const io = this.io;
    try {
      if (io === undefined) throw new AgentError('StoreClosed', 'the journal is not open');
      await appendDurable(io.handle, data);
    } catch (err) {
      // The file may now end in a partial record: cut it off (a reopen would, too), then go degraded.
      await io?.handle.truncate(this.goodSize).catch(() => undefined);
      this.o.onAppendFailed(err, [...batch, ...this.queue.splice(0)]);
      return;
    }
    this.goodSize += Buffer.byteLength(data);
    for (const q of batch) applyRecord(this.state, q.rec);
    for (const q of batch) q.resolve();
    this.sinceSnapshot += batch.length;
    if (this.sinceSnapshot >= this.o.compactEvery) await this.compactQuietly();
  }

  private async compactQuietly(): Promise<void> {
    try {
      await this.compact();
    } catch (err) {
      // The journal is still complete, so a failed compaction costs disk space, not data; try again
      // after another compactEvery records rather than after every batch.
      this.sinceSnapshot = 0;
      this.o.warn(`could not compact the journal: ${errorMessage(err)}`);
    }
  }
}
