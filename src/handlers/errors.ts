/**
 * Errors a handler (or the machinery around it) raises on purpose. The agent maps them once:
 * RejectError → REJECTED (the document can never work as given) while the execution is QUEUED, and
 * FAILED with the same reason once it is IN_PROGRESS (the service refuses IN_PROGRESS → REJECTED);
 * HandlerFailure → FAILED.
 */
import { AgentError } from '../lib/errors';

/** The job document (or what it asks for) is unacceptable; running it again would not help. */
export class RejectError extends AgentError {
  constructor(reason: string, opts: { cause?: unknown } = {}) {
    super('Rejected', reason, opts);
  }
}

/** The work was attempted and did not succeed. */
export class HandlerFailure extends AgentError {
  readonly details: Readonly<Record<string, string>> | undefined;
  constructor(message: string, opts: { cause?: unknown; details?: Record<string, string>; retryable?: boolean } = {}) {
    super('HandlerFailure', message, opts);
    this.details = opts.details;
  }
}

export function isRejectError(err: unknown): err is RejectError {
  return err instanceof AgentError && err.code === 'Rejected';
}
