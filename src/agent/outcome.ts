/**
 * The one place that decides what the cloud sees for a handler's ending (STYLE: one mapping from
 * errors to statuses): bad document → REJECTED, handler result/failure → SUCCEEDED/FAILED,
 * timeout → FAILED "timeout", shutdown → per restart policy, cancellation → nothing to report.
 */
import { errorMessage } from '../lib/errors';
import type { HandlerResult, RestartPolicy } from '../handlers/api';
import type { FinalStatus } from '../store/types';

/** Why a running handler's signal fired. */
export type AbortReason = 'timeout' | 'canceled' | 'shutdown';

export class JobAbort extends Error {
  constructor(readonly reason: AbortReason, detail?: string) {
    super(detail ?? reason);
    this.name = 'JobAbort';
  }
}

export type Ending =
  | { kind: 'report'; status: FinalStatus; details: Record<string, string> }
  /** The execution is already terminal in the cloud (canceled, removed, timed out, deleted). */
  | { kind: 'gone' }
  /** Left for recovery on the next start (rerun/resume policies at shutdown). */
  | { kind: 'deferred' };

function isRejectError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'RejectError' || (err as { code?: unknown }).code === 'Rejected');
}

export function endingOf(result: { ok: true; value: HandlerResult } | { ok: false; error: unknown }, abort: AbortReason | undefined, policy: RestartPolicy): Ending {
  if (abort === 'canceled') return { kind: 'gone' };
  if (abort === 'timeout') return { kind: 'report', status: 'FAILED', details: { reason: 'timeout' } };
  if (abort === 'shutdown') {
    return policy === 'fail' ? { kind: 'report', status: 'FAILED', details: { reason: 'interrupted' } } : { kind: 'deferred' };
  }
  if (result.ok) {
    const v = result.value;
    const status: FinalStatus = v?.status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED';
    const details = { ...(v?.details ?? {}) };
    if (v?.status !== 'SUCCEEDED' && v?.status !== 'FAILED') details.reason = 'handler returned no valid status';
    return { kind: 'report', status, details };
  }
  if (isRejectError(result.error)) return { kind: 'report', status: 'REJECTED', details: { reason: errorMessage(result.error) } };
  const extra = (result.error as { details?: unknown }).details;
  const details = typeof extra === 'object' && extra !== null ? { ...(extra as Record<string, string>) } : {};
  return { kind: 'report', status: 'FAILED', details: { ...details, reason: errorMessage(result.error) } };
}
