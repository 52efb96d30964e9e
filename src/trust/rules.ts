/**
 * The stateful checks' rules as pure functions (docs/SIGNING.md §11). The agent keeps the
 * state (the jti ledger, seq high-water marks, the time high-water mark) durably; what the state
 * means is decided here, in one tested place.
 */
import { maxAttemptsOf } from './payload';
import type { JobPayload } from './payload';

/** What the ledger remembers of one envelope (keyed by `jti`). */
export interface LedgerEntry {
  jti: string;
  jobId: string;
  /** The execution number of the last execution that used this envelope. */
  executionNumber: number;
  /** Executions of this envelope that started (or were rejected). */
  attempts: number;
  state: 'STARTED' | 'SUCCEEDED' | 'FAILED' | 'REJECTED';
  /** Whether the terminal status of `executionNumber` reached AWS. */
  reported: boolean;
  /** The envelope's `exp`, for pruning. */
  exp: number;
}

export type ReplayDecision =
  /** Run it (first use, or an AWS retry within maxAttempts). Record STARTED before any side effect. */
  | { action: 'run'; attempt: number }
  /** The same execution again after a crash between the outcome and its report: send the stored outcome. */
  | { action: 'report-stored' }
  /** The same execution again after a crash while it ran: it must not run blindly a second time. */
  | { action: 'interrupted' }
  | { action: 'reject'; reason: 'replay'; detail: string };

/**
 * Replay (docs/SIGNING.md): an AWS retry (higher executionNumber after FAILED/TIMED_OUT) runs up to
 * `maxAttempts`; the same envelope under a recreated job (execution number not higher, after a
 * reported outcome) or after success does not; a jti once REJECTED never runs.
 */
export function checkReplay(entry: LedgerEntry | undefined, payload: Pick<JobPayload, 'maxAttempts'>, executionNumber: number): ReplayDecision {
  if (!entry) return { action: 'run', attempt: 1 };
  const reject = (detail: string): ReplayDecision => ({ action: 'reject', reason: 'replay', detail });
  if (entry.state === 'REJECTED') return reject('this envelope was rejected before; it never runs');
  if (executionNumber === entry.executionNumber && !entry.reported) {
    return entry.state === 'STARTED' ? { action: 'interrupted' } : { action: 'report-stored' };
  }
  if (executionNumber <= entry.executionNumber) {
    return reject(`this envelope already ran as execution ${entry.executionNumber} (${entry.state}); a recreated job may not reuse it`);
  }
  if (entry.state === 'SUCCEEDED') return reject(`this envelope already succeeded as execution ${entry.executionNumber}`);
  const max = maxAttemptsOf(payload);
  if (entry.attempts >= max) return reject(`this envelope allows ${max} execution(s); ${entry.attempts} already ran`);
  return { action: 'run', attempt: entry.attempts + 1 };
}

/** The highest `seq.n` applied on a stream, and the envelope that applied it. */
export interface SeqMark {
  n: number;
  jti: string;
}

export type SeqDecision = { ok: true } | { ok: false; reason: 'rollback'; detail: string };

/** Rollback: `seq.n` must rise per stream; equal only for the same envelope (an AWS retry). */
export function checkSeq(mark: SeqMark | undefined, payload: Pick<JobPayload, 'seq' | 'jti'>): SeqDecision {
  const seq = payload.seq;
  if (!seq || !mark) return { ok: true };
  if (seq.n > mark.n || (seq.n === mark.n && payload.jti === mark.jti)) return { ok: true };
  return { ok: false, reason: 'rollback', detail: `seq ${seq.n} on stream ${JSON.stringify(seq.stream)} is not above ${mark.n}, already applied` };
}

/** The mark after an envelope with `seq` succeeded (never lowered). */
export function nextSeqMark(mark: SeqMark | undefined, payload: Pick<JobPayload, 'seq' | 'jti'>): SeqMark | undefined {
  if (!payload.seq) return mark;
  if (mark && mark.n >= payload.seq.n) return mark;
  return { n: payload.seq.n, jti: payload.jti };
}

export type ClockSource = 'system' | 'broker' | 'floor';

export interface TimeInputs {
  /** The agent's build time, seconds since the epoch. */
  buildTime: number;
  /** The persisted high-water mark, seconds (0 when none). */
  highWater: number;
  /** The Jobs response `timestamp` that delivered the execution, seconds or milliseconds. */
  brokerTimestamp?: number;
  /** The system clock, seconds (used only without a broker timestamp). */
  systemNow: number;
}

/** Above this a timestamp is in milliseconds: AWS's docs say seconds but their example is in ms. */
const MS_THRESHOLD = 1e11;

export function toSeconds(ts: number): number {
  return Math.floor(ts > MS_THRESHOLD ? ts / 1000 : ts);
}

/**
 * The effective time validity windows are checked against: the latest of the build time, the
 * high-water mark and the broker's timestamp. A 1970 RTC cannot make an expired envelope valid,
 * and a far-future RTC is not trusted when the broker says otherwise.
 */
export function effectiveTime(t: TimeInputs): { now: number; source: ClockSource } {
  const floor = Math.max(t.buildTime, t.highWater);
  const candidate = t.brokerTimestamp !== undefined ? toSeconds(t.brokerTimestamp) : Math.floor(t.systemNow);
  const source: ClockSource = t.brokerTimestamp !== undefined ? 'broker' : 'system';
  return candidate >= floor ? { now: candidate, source } : { now: floor, source: 'floor' };
}

/** The high-water mark after an accepted envelope: never lowered, never past `now` + skew by a signed `iat`. */
export function nextHighWater(highWater: number, now: number, payload?: Pick<JobPayload, 'iat'>): number {
  return Math.max(highWater, now, payload ? Math.min(payload.iat, now + NBF_SKEW_SECONDS) : 0);
}

/** Clock skew `nbf` (and `iat`) tolerate (docs/SIGNING.md). */
export const NBF_SKEW_SECONDS = 300;
