/** What the agent asks of durable storage (journal + status outbox). Implementations are crash-safe. */
import type { StoreHealth } from './health';

export type FinalStatus = 'SUCCEEDED' | 'FAILED' | 'REJECTED';

/** Identity of one execution: namespace ('' = default), jobId, executionNumber. */
export interface ExecRef {
  namespace: string;
  jobId: string;
  executionNumber: number;
}

export interface JournalEntry extends ExecRef {
  handler: string;
  /** started: handler began; finished: outcome produced (queued in outbox); reported: cloud accepted it. */
  state: 'started' | 'finished' | 'reported';
  startedAt: number;
  finishedAt?: number;
  outcome?: { status: FinalStatus; details?: Record<string, string> };
  /** Durable handler state (`ctx.saveState`), for resume. */
  handlerState?: Record<string, unknown>;
  /** versionNumber after our IN_PROGRESS update, for expectedVersion chaining. */
  versionNumber?: number;
  /** queuedAt the service gave the execution: tells a recreated job from this one (src/agent/incarnation.ts). */
  queuedAt?: number;
  /**
   * Journal order of the start and of the outcome (record numbers). Wall-clock times can jump both
   * ways on a device without RTC; anything that orders entries uses these.
   */
  startSeq?: number;
  finishSeq?: number;
}

export interface OutboxItem extends ExecRef {
  /** Monotonic id, assigned by the outbox. */
  seq: number;
  status: FinalStatus | 'IN_PROGRESS';
  statusDetails?: Record<string, string>;
  expectedVersion?: number;
  enqueuedAt: number;
}

export interface StateStore {
  get(ref: ExecRef): JournalEntry | undefined;
  entries(): JournalEntry[];
  markStarted(entry: Omit<JournalEntry, 'state'>): Promise<void>;
  saveHandlerState(ref: ExecRef, state: Record<string, unknown>): Promise<void>;
  /** Records the outcome and enqueues its terminal update in one durable write. */
  markFinished(
    ref: ExecRef,
    outcome: NonNullable<JournalEntry['outcome']>,
    update: Omit<OutboxItem, 'seq' | 'enqueuedAt' | keyof ExecRef>,
    queuedAt?: number,
  ): Promise<OutboxItem>;
  markReported(ref: ExecRef): Promise<void>;
  /** Forget a start whose IN_PROGRESS update never got through (the handler did not run). */
  release(ref: ExecRef): Promise<void>;
  /**
   * Forget a reported execution: a new job now stands behind its (namespace, jobId, executionNumber)
   * (src/agent/incarnation.ts). Nothing else is forgotten.
   */
  forget(ref: ExecRef): Promise<void>;
  /** Outbox items in order. */
  pending(): OutboxItem[];
  ack(seq: number): Promise<void>;
  readonly outboxFull: boolean;
  /** Whether the journal can record a start now; while not, outcomes are kept in memory. */
  readonly health: StoreHealth;
  onHealthChange(listener: (h: StoreHealth) => void): void;
  /** Resolves once the journal can record a start (at once when it can); rejects when `signal` fires. */
  whenWritable(signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
