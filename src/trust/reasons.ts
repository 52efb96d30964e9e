/**
 * The verdict vocabulary of signed job documents (docs/SIGNING.md): the `ija:reason` codes and the
 * typed error every check in this module throws.
 */
import { AgentError } from '../lib/errors';

export const REASONS = [
  'unsigned',
  'malformed-envelope',
  'unsigned-field',
  'bad-signature',
  'unknown-key',
  'key-revoked',
  'threshold-not-met',
  'role-not-permitted',
  'job-id-mismatch',
  'namespace-mismatch',
  'audience-mismatch',
  'not-yet-valid',
  'expired',
  'validity-too-long',
  'replay',
  'rollback',
  'url-mismatch',
  'placeholder-unresolved',
  'artifact-digest-mismatch',
  'trust-store-error',
] as const;

export type Reason = (typeof REASONS)[number];

/**
 * A document, envelope or trust store that must not be acted on. Never retryable: the agent
 * reports it as REJECTED, which AWS does not retry.
 */
export class TrustError extends AgentError {
  readonly reason: Reason;
  constructor(reason: Reason, message: string, opts: { cause?: unknown } = {}) {
    super('TrustError', message, { retryable: false, ...opts });
    this.reason = reason;
  }
}
