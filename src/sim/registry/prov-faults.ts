/**
 * Faults on the fleet provisioning MQTT API, set on the control plane (`PUT /sim/provisioning-faults`):
 * the next requests of the chosen operations are refused with the given `statusCode` and `errorCode`
 * before anything is minted or registered — AWS's throttling (429 `ThrottlingException`) and 5xx
 * (`InternalFailure`, `ServiceUnavailable`) that a device must ride out with backoff, or a 4xx (e.g.
 * `InvalidCSRException`) it must not retry fast.
 */
import type { Result, ServiceError } from '../types';

export const PROVISIONING_OPS = ['CreateKeysAndCertificate', 'CreateCertificateFromCsr', 'RegisterThing'] as const;
export type ProvisioningOp = (typeof PROVISIONING_OPS)[number];

export interface ProvFailure {
  statusCode: number;
  errorCode: string;
}

export interface ProvFaultSpec {
  /** Refused in this order, one request each. */
  failures: ProvFailure[];
  operations: ProvisioningOp[];
}

const DEFAULT_CODES: Record<number, string> = { 429: 'ThrottlingException', 500: 'InternalFailure', 503: 'ServiceUnavailable' };
const MAX_FAILURES = 1000;

const bad = (message: string): Result<never> => ({ ok: false, error: { name: 'InvalidRequestException', status: 400, message } satisfies ServiceError });
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `{"failures": [{"statusCode": 429, "errorCode"?: "…", "count"?: N}, …], "operations"?: [...]}`, every key checked. */
export function checkProvFaults(b: Record<string, unknown>): Result<ProvFaultSpec> {
  const unknown = Object.keys(b).find((k) => k !== 'failures' && k !== 'operations');
  if (unknown !== undefined) return bad(`unknown provisioning fault key ${JSON.stringify(unknown)} (failures, operations)`);
  if (!Array.isArray(b.failures)) return bad('failures must be a list of {"statusCode": 400..599, "errorCode"?: string, "count"?: N}');
  const failures: ProvFailure[] = [];
  for (const f of b.failures) {
    if (!isObj(f) || Object.keys(f).some((k) => !['statusCode', 'errorCode', 'count'].includes(k))) return bad('each failure is {"statusCode", "errorCode"?, "count"?}');
    const { statusCode, errorCode, count = 1 } = f;
    if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 400 || statusCode > 599) return bad('statusCode must be an integer 400..599');
    if (errorCode !== undefined && (typeof errorCode !== 'string' || !/^[A-Za-z][A-Za-z0-9]{0,127}$/.test(errorCode))) return bad('errorCode must be a word such as ThrottlingException');
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_FAILURES) return bad(`count must be 1..${MAX_FAILURES}`);
    const code = errorCode ?? DEFAULT_CODES[statusCode] ?? (statusCode >= 500 ? 'InternalFailure' : 'InvalidRequestException');
    for (let i = 0; i < count; i++) failures.push({ statusCode, errorCode: code });
  }
  if (failures.length > MAX_FAILURES) return bad(`at most ${MAX_FAILURES} failures`);
  const ops = b.operations ?? [...PROVISIONING_OPS];
  if (!Array.isArray(ops) || ops.length === 0 || !ops.every((o): o is ProvisioningOp => (PROVISIONING_OPS as readonly unknown[]).includes(o))) {
    return bad(`operations must be a non-empty list of ${PROVISIONING_OPS.join(', ')}`);
  }
  return { ok: true, value: { failures, operations: ops } };
}

export class ProvisioningFaults {
  private spec: ProvFaultSpec = { failures: [], operations: [] };

  /** Replaces the faults in effect. */
  set(spec: ProvFaultSpec): void {
    this.spec = { failures: [...spec.failures], operations: [...spec.operations] };
  }

  /** What is left to fail. */
  state(): { remaining: ProvFailure[]; operations: ProvisioningOp[] } {
    return { remaining: [...this.spec.failures], operations: [...this.spec.operations] };
  }

  /** The failure this request gets, if any (used up by it). */
  take(op: string): ProvFailure | undefined {
    if (!(this.spec.operations as string[]).includes(op)) return undefined;
    return this.spec.failures.shift();
  }
}
