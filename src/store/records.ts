/**
 * The journal's record format and the pure state it folds into. Replaying the same records onto the
 * same snapshot always yields the same state, which is what makes recovery after a crash trustworthy.
 */
import type { ExecRef, FinalStatus, JournalEntry, OutboxItem } from './types';

/** Reported entries kept for `status` and duplicate detection; older ones are forgotten. */
export const REPORTED_KEEP = 200;

export type StoreRecord =
  | { n: number; op: 'start'; entry: Omit<JournalEntry, 'state'> }
  | { n: number; op: 'state'; ref: ExecRef; handlerState: Record<string, unknown> }
  | { n: number; op: 'finish'; ref: ExecRef; at: number; outcome: NonNullable<JournalEntry['outcome']>; item: OutboxItem; queuedAt?: number }
  | { n: number; op: 'report'; ref: ExecRef; at: number }
  | { n: number; op: 'release'; ref: ExecRef }
  | { n: number; op: 'forget'; ref: ExecRef }
  | { n: number; op: 'ack'; seq: number };

export interface StoreState {
  /** Number of the last record folded in; journal records at or below it are already in the snapshot. */
  lsn: number;
  nextSeq: number;
  /** Entries still `started` or `finished`, keyed by refKey. */
  active: Map<string, JournalEntry>;
  /** Most recent `reported` entries, oldest first, at most REPORTED_KEEP. */
  reported: JournalEntry[];
  /** Outbox items ordered by seq. */
  outbox: OutboxItem[];
}

export interface Snapshot {
  format: 'iot-jobs-agent-state';
  version: 1;
  lsn: number;
  nextSeq: number;
  entries: JournalEntry[];
  outbox: OutboxItem[];
}

export function emptyState(): StoreState {
  return { lsn: 0, nextSeq: 1, active: new Map(), reported: [], outbox: [] };
}

export function refKey(ref: ExecRef): string {
  return `${ref.namespace}\u0000${ref.jobId}\u0000${ref.executionNumber}`;
}

export function sameRef(a: ExecRef, b: ExecRef): boolean {
  return a.namespace === b.namespace && a.jobId === b.jobId && a.executionNumber === b.executionNumber;
}

export function pickRef(ref: ExecRef): ExecRef {
  return { namespace: ref.namespace, jobId: ref.jobId, executionNumber: ref.executionNumber };
}

export function findReported(state: StoreState, ref: ExecRef): JournalEntry | undefined {
  for (let i = state.reported.length - 1; i >= 0; i--) {
    const e = state.reported[i];
    if (e && sameRef(e, ref)) return e;
  }
  return undefined;
}

/** Fold one record into the state (mutates it). */
export function applyRecord(state: StoreState, rec: StoreRecord): void {
  state.lsn = rec.n;
  switch (rec.op) {
    case 'start': {
      state.active.set(refKey(rec.entry), { ...rec.entry, state: 'started', startSeq: rec.n });
      return;
    }
    case 'release': {
      const key = refKey(rec.ref);
      if (state.active.get(key)?.state === 'started') state.active.delete(key);
      return;
    }
    case 'state': {
      const entry = state.active.get(refKey(rec.ref));
      if (entry) entry.handlerState = rec.handlerState;
      return;
    }
    case 'finish': {
      const key = refKey(rec.ref);
      // An execution can finish without having started (a document rejected before IN_PROGRESS).
      const base: JournalEntry = state.active.get(key) ?? { ...pickRef(rec.ref), handler: '', startedAt: rec.at, state: 'started', startSeq: rec.n };
      const finished: JournalEntry = { ...base, state: 'finished', finishedAt: rec.at, finishSeq: rec.n, outcome: rec.outcome };
      if (finished.queuedAt === undefined && rec.queuedAt !== undefined) finished.queuedAt = rec.queuedAt;
      state.active.set(key, finished);
      state.outbox.push(rec.item);
      state.nextSeq = Math.max(state.nextSeq, rec.item.seq + 1);
      return;
    }
    case 'report': {
      const key = refKey(rec.ref);
      const entry = state.active.get(key);
      if (entry) {
        state.active.delete(key);
        state.reported.push({ ...entry, state: 'reported' });
        if (state.reported.length > REPORTED_KEEP) state.reported.splice(0, state.reported.length - REPORTED_KEEP);
      }
      state.outbox = state.outbox.filter((item) => !sameRef(item, rec.ref));
      return;
    }
    case 'ack': {
      state.outbox = state.outbox.filter((item) => item.seq !== rec.seq);
      return;
    }
    case 'forget': {
      state.reported = state.reported.filter((e) => !sameRef(e, rec.ref));
      return;
    }
  }
}

/** Journal order of an entry's start; entries written before record numbers were kept fall back to wall time. */
export function startOrder(e: JournalEntry): number {
  return e.startSeq ?? e.startedAt;
}

export function finishOrder(e: JournalEntry): number {
  return e.finishSeq ?? e.finishedAt ?? 0;
}

export function toSnapshot(state: StoreState): Snapshot {
  return {
    format: 'iot-jobs-agent-state',
    version: 1,
    lsn: state.lsn,
    nextSeq: state.nextSeq,
    entries: [...state.active.values(), ...state.reported],
    outbox: state.outbox,
  };
}

export function fromSnapshot(snap: Snapshot): StoreState {
  const state = emptyState();
  state.lsn = snap.lsn;
  state.nextSeq = snap.nextSeq;
  for (const e of snap.entries) {
    if (e.state === 'reported') state.reported.push(e);
    else state.active.set(refKey(e), e);
  }
  state.outbox = [...snap.outbox].sort((a, b) => a.seq - b.seq);
  return state;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const FINAL: readonly string[] = ['SUCCEEDED', 'FAILED', 'REJECTED'] satisfies FinalStatus[];

function isRef(v: unknown): v is ExecRef {
  return isObj(v) && typeof v.namespace === 'string' && typeof v.jobId === 'string' && isInt(v.executionNumber);
}

function isOutcome(v: unknown): boolean {
  return isObj(v) && typeof v.status === 'string' && FINAL.includes(v.status) && (v.details === undefined || isObj(v.details));
}

function isItem(v: unknown): v is OutboxItem {
  return isRef(v) && isInt((v as unknown as Record<string, unknown>).seq) && typeof (v as unknown as Record<string, unknown>).status === 'string';
}

/** Shape check of one decoded line; anything else is treated as damage, never trusted. */
export function isStoreRecord(v: unknown): v is StoreRecord {
  if (!isObj(v) || !isInt(v.n) || v.n < 1) return false;
  switch (v.op) {
    case 'start':
      return isRef(v.entry) && typeof (v.entry as unknown as Record<string, unknown>).handler === 'string';
    case 'state':
      return isRef(v.ref) && isObj(v.handlerState);
    case 'finish':
      return isRef(v.ref) && isNum(v.at) && isOutcome(v.outcome) && isItem(v.item) && (v.queuedAt === undefined || isNum(v.queuedAt));
    case 'report':
      return isRef(v.ref) && isNum(v.at);
    case 'release':
    case 'forget':
      return isRef(v.ref);
    case 'ack':
      return isInt(v.seq);
    default:
      return false;
  }
}

export function isSnapshot(v: unknown): v is Snapshot {
  return (
    isObj(v) &&
    v.format === 'iot-jobs-agent-state' &&
    v.version === 1 &&
    isInt(v.lsn) &&
    isInt(v.nextSeq) &&
    Array.isArray(v.entries) &&
    v.entries.every((e) => isRef(e) && typeof (e as unknown as Record<string, unknown>).state === 'string') &&
    Array.isArray(v.outbox) &&
    v.outbox.every(isItem)
  );
}
