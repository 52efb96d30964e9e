/** Typed Jobs API failures. The agent decides on the `code` (and executionState), never on message text. */
import { AgentError } from '../lib/errors';
import type { JobExecutionState, RejectCode } from './types';

const RETRYABLE: ReadonlySet<string> = new Set(['RequestThrottled', 'InternalError']);

/** An MQTT `…/rejected` response (docs/PROTOCOL.md §3.1). */
export class JobsRejectedError extends AgentError {
  readonly rejectCode: RejectCode;
  readonly executionState?: JobExecutionState;
  constructor(code: RejectCode, message: string | undefined, executionState?: JobExecutionState) {
    super(code, `${code}${message ? `: ${message}` : ''}`, { retryable: RETRYABLE.has(code) });
    this.rejectCode = code;
    if (executionState !== undefined) this.executionState = executionState;
  }
}

/** The request could not be sent as given (bad thing name, job id, namespace…); nothing was sent. */
export class InvalidJobsRequestError extends AgentError {
  constructor(message: string) {
    super('InvalidRequest', message);
  }
}
