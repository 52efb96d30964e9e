/**
 * Typed failures of the HTTPS data plane (docs/PROTOCOL.md §6.4). An error is recognised by its NAME, found the
 * way AWS SDKs find it (header `x-amzn-ErrorType`, else body `code`, else body `__type`; cut at the
 * first ':' and after the last '#'), never by its status: ThrottlingException is 429 in every SDK
 * model but 400 in the API reference pages, and both must decode the same.
 *
 * Every class extends JobsRejectedError with the MQTT reject code of the same meaning, so the agent
 * handles a refusal identically whichever transport carried it (`code`, `retryable`,
 * `executionState`).
 */
import { AgentError } from '../lib/errors';
import { JobsRejectedError } from './errors';
import { EXEC_STATUSES } from './types';
import type { JobExecutionState, RejectCode } from './types';

export interface HttpsErrorInit {
  /** The exception name as sent (`ThrottlingException`), or `Http<status>` when none was sent. */
  errorName: string;
  status: number;
  message: string;
  requestId?: string;
  executionState?: JobExecutionState;
  /** From a `retry-after` header (seconds), when the service sent one. */
  retryAfterMs?: number;
}

/** A refusal from the data plane. `errorName` is the wire name; `code` the transport-neutral one. */
export class JobsHttpsError extends JobsRejectedError {
  readonly errorName: string;
  readonly status: number;
  readonly requestId?: string;
  readonly retryAfterMs?: number;
  constructor(code: RejectCode, init: HttpsErrorInit) {
    super(code, init.message, init.executionState);
    // JobsRejectedError's message leads with the transport-neutral code; show the wire name instead.
    this.message = `${init.errorName} (HTTP ${init.status})${init.message ? `: ${init.message}` : ''}`;
    this.errorName = init.errorName;
    this.status = init.status;
    if (init.requestId !== undefined) this.requestId = init.requestId;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
  }
}

export class InvalidRequestError extends JobsHttpsError {
  constructor(init: HttpsErrorInit) {
    super('InvalidRequest', init);
  }
}
export class ResourceNotFoundError extends JobsHttpsError {
  constructor(init: HttpsErrorInit) {
    super('ResourceNotFound', init);
  }
}
/** The device certificate was refused at the HTTP level (permanent until the certificate changes). */
export class CertificateValidationError extends JobsHttpsError {
  constructor(init: HttpsErrorInit) {
    super('InvalidRequest', init);
  }
}
/** Also how HTTPS reports a version mismatch (docs/PROTOCOL.md §3.3): look at `executionState`. */
export class InvalidStateTransitionError extends JobsHttpsError {
  constructor(init: HttpsErrorInit) {
    super('InvalidStateTransition', init);
  }
}
export class TerminalStateError extends JobsHttpsError {
  constructor(init: HttpsErrorInit) {
    super('TerminalStateReached', init);
  }
}
/** Retryable: the HTTPS face of MQTT's InternalError. */
export class ServiceUnavailableError extends JobsHttpsError {
  constructor(init: HttpsErrorInit) {
    super('InternalError', init);
  }
}
/** Retryable. */
export class ThrottlingError extends JobsHttpsError {
  constructor(init: HttpsErrorInit) {
    super('RequestThrottled', init);
  }
}
/** The certificate is valid but not allowed to act for the thing in the path. */
export class ForbiddenError extends JobsHttpsError {
  constructor(init: HttpsErrorInit) {
    super('InvalidRequest', init);
  }
}

type Ctor = new (init: HttpsErrorInit) => JobsHttpsError;

const BY_NAME: Readonly<Record<string, Ctor>> = {
  InvalidRequestException: InvalidRequestError,
  ValidationException: InvalidRequestError,
  ResourceNotFoundException: ResourceNotFoundError,
  CertificateValidationException: CertificateValidationError,
  InvalidStateTransitionException: InvalidStateTransitionError,
  ConflictException: InvalidStateTransitionError,
  TerminalStateException: TerminalStateError,
  ServiceUnavailableException: ServiceUnavailableError,
  InternalServerException: ServiceUnavailableError,
  InternalFailureException: ServiceUnavailableError,
  ThrottlingException: ThrottlingError,
  ForbiddenException: ForbiddenError,
  AccessDeniedException: ForbiddenError,
};

/** The connection failed (refused, reset, dropped response). Retryable: the request may not have arrived. */
export class JobsNetworkError extends AgentError {
  constructor(message: string, cause: unknown) {
    super('Network', message, { retryable: true, cause });
  }
}

/** The TLS handshake failed (untrusted server, client certificate refused). Not retryable. */
export class JobsTlsError extends AgentError {
  constructor(message: string, cause: unknown) {
    super('Tls', message, { cause });
  }
}

/** A 2xx answer whose body is not what the operation returns. */
export class JobsProtocolError extends AgentError {
  constructor(message: string) {
    super('Protocol', message);
  }
}

/** `ns#Name:extra` → `Name` (docs/PROTOCOL.md §6.4 steps 2–3). */
export function sanitizeErrorCode(raw: string): string {
  let s = raw;
  const colon = s.indexOf(':');
  if (colon >= 0) s = s.slice(0, colon);
  const hash = s.lastIndexOf('#');
  if (hash >= 0) s = s.slice(hash + 1);
  return s.trim();
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function parseBody(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function executionStateOf(v: unknown): JobExecutionState | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const ok = (EXEC_STATUSES as readonly unknown[]).includes(o.status) && typeof o.versionNumber === 'number';
  return ok ? (o as unknown as JobExecutionState) : undefined;
}

/** Header lookup over node's lower-cased header map. */
export type Headers = Record<string, string | string[] | undefined>;

function header(h: Headers, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Decodes a non-2xx restJson1 response into its typed error. */
export function decodeHttpsError(status: number, headers: Headers, bodyText: string): JobsHttpsError {
  const body = parseBody(bodyText);
  const rawName = str(header(headers, 'x-amzn-errortype')) ?? str(body.code) ?? str(body.__type);
  const name = rawName === undefined ? '' : sanitizeErrorCode(rawName);
  const init: HttpsErrorInit = {
    errorName: name || `Http${status}`,
    status,
    message: str(body.message) ?? str(body.Message) ?? '',
  };
  const requestId = header(headers, 'x-amzn-requestid') ?? header(headers, 'x-amzn-request-id');
  if (requestId !== undefined) init.requestId = requestId;
  const retryAfter = Number(header(headers, 'retry-after'));
  if (Number.isFinite(retryAfter) && retryAfter >= 0 && retryAfter <= 300) init.retryAfterMs = retryAfter * 1000;
  const state = executionStateOf(body.executionState);
  if (state !== undefined) init.executionState = state;
  const Known = BY_NAME[name];
  if (Known !== undefined) return new Known(init);
  // Unknown or missing name: fall back on the status class. 5xx is a server fault and worth a retry.
  if (status >= 500) return new JobsHttpsError('InternalError', init);
  if (status === 429) return new JobsHttpsError('RequestThrottled', init);
  return new JobsHttpsError('InvalidRequest', init);
}

/** Node TLS failures carry an ERR_SSL_* / ERR_TLS_* / certificate verification code. */
export function isTlsFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return /^(ERR_SSL_|ERR_TLS_|EPROTO$)/.test(code) || /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME/.test(code);
}
