/**
 * The project's small error taxonomy. Every error we raise on purpose is an AgentError with a stable
 * `code` and a `retryable` flag; one place (agent/outcome) maps them to job statuses.
 */
export class AgentError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  constructor(code: string, message: string, opts: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = opts.retryable ?? false;
  }
}

/** An operation did not complete within its bound. */
export class TimeoutError extends AgentError {
  constructor(what: string, ms: number) {
    super('Timeout', `${what} timed out after ${ms} ms`, { retryable: true });
  }
}

/** The operation was given up because its AbortSignal fired. */
export class AbortedError extends AgentError {
  constructor(what: string, reason?: unknown) {
    super('Aborted', `${what} aborted${reason instanceof Error ? `: ${reason.message}` : ''}`);
  }
}

/** Configuration or input that can never work as given (exit code 2 at the CLI). */
export class ConfigError extends AgentError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('ConfigError', problems.join('\n'));
    this.problems = problems;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : JSON.stringify(err);
}
