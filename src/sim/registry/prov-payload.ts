/**
 * Payloads of the provisioning MQTT API: JSON or CBOR by the topic's suffix, the same keys in both
 * (docs/PROVISIONING.md §1), and the error every `…/rejected` answer carries.
 */
import { decodeFirstSync } from 'cbor';
import type { PayloadFormat } from './prov-topics';

/** A refused request: `{statusCode, errorCode, errorMessage}` on the rejected topic. */
export class ProvError extends Error {
  constructor(
    readonly statusCode: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
    this.name = 'ProvError';
  }
}

/**
 * The request as an object. `emptyIsObject`: CreateKeysAndCertificate takes an empty payload as
 * well as `{}` (AWS documents empty; its SDKs send `{}`; embedded-C sends zero bytes).
 */
export function decodePayload(payload: Buffer, format: PayloadFormat, emptyIsObject: boolean): Record<string, unknown> {
  if (payload.length === 0) {
    if (emptyIsObject) return {};
    throw new ProvError(400, 'InvalidPayload', 'the request payload is empty');
  }
  let v: unknown;
  try {
    v = format === 'json' ? JSON.parse(payload.toString('utf8')) : decodeFirstSync(payload);
  } catch (err) {
    throw new ProvError(400, 'InvalidPayload', `the request payload is not valid ${format.toUpperCase()}: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProvError(400, 'InvalidPayload', `the request payload must be a ${format.toUpperCase()} map`);
  return v as Record<string, unknown>;
}
