/**
 * What can go wrong while a device gets or renews its identity, told apart the way the fleet
 * provisioning API allows: by `statusCode` alone (docs/PROTOCOL.md, "Fleet provisioning"). A 4xx
 * other than 429 is a configuration or template problem (retried slowly, and said in STATUS);
 * 429, 5xx and timeouts are passing trouble (retried with backoff).
 */
import { AgentError } from '../lib/errors';

export class ProvisioningRejectedError extends AgentError {
  readonly statusCode: number;
  readonly errorCode: string;
  constructor(readonly operation: string, statusCode: number, errorCode: string, errorMessage: string) {
    super('ProvisioningRejected', `${operation} rejected: ${statusCode} ${errorCode}${errorMessage ? `: ${errorMessage}` : ''}`, {
      retryable: statusCode === 429 || statusCode >= 500,
    });
    this.statusCode = statusCode;
    this.errorCode = errorCode;
  }

  /** The ownership token is unknown, used or expired: start again from the certificate. */
  get tokenInvalid(): boolean {
    return this.errorCode === 'InvalidCertificateOwnershipToken';
  }
}

/** Something on the device is wrong (key material, files, a parameter source): not worth a fast retry. */
export class IdentityError extends AgentError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super('IdentityError', message, opts);
  }
}

/** Permanent means "a person must change something": the config, the template, the claim policy. */
export function isPermanent(err: unknown): boolean {
  if (err instanceof ProvisioningRejectedError) return !err.retryable;
  return err instanceof IdentityError;
}
