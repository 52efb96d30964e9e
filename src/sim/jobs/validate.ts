/**
 * Request validation of docs/PROTOCOL.md §6.3 / §7, shared by the MQTT and HTTPS paths. Only own properties
 * are read, so a payload such as `{"__proto__": …}` can never smuggle values in.
 */
import { DEVICE_STATUSES, EXEC_STATUSES, LIMITS } from '../../jobs/types';
import type { Details, DeviceStatus, ExecStatus } from '../../jobs/types';
import { fail, ok } from './options';
import type { DevResult } from './options';
import type { SimOptions } from '../types';

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An own field; JSON null counts as absent (omit-don't-null works both ways). */
export function field(o: Obj, k: string): unknown {
  if (!Object.hasOwn(o, k)) return undefined;
  const v = o[k];
  return v === null ? undefined : v;
}

/** A `long`: an integer or its decimal string form (docs/PROTOCOL.md §8 case 15). */
export function parseLong(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v === 'string' && /^-?\d{1,16}$/.test(v)) {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

function optLong(o: Obj, k: string): DevResult<number | undefined> {
  const v = field(o, k);
  if (v === undefined) return ok(undefined);
  const n = parseLong(v);
  return n === undefined ? fail('InvalidRequest', `${k} must be an integer`) : ok(n);
}

function optBool(o: Obj, k: string): DevResult<boolean | undefined> {
  const v = field(o, k);
  if (v === undefined || typeof v === 'boolean') return ok(v);
  return fail('InvalidRequest', `${k} must be a boolean`);
}

/** What a statusDetails map must satisfy (docs/PROTOCOL.md §6.3, §10.8, §10.23). */
export interface DetailRules {
  maxEntries: number;
  controlChars: SimOptions['statusDetailsControlChars'];
}

export function detailRules(opts: SimOptions): DetailRules {
  return { maxEntries: opts.maxStatusDetailsEntries, controlChars: opts.statusDetailsControlChars };
}

const CONTROL = /\p{C}/u;
// Every \p{C} but line feed, carriage return and tab: what AWS accepts from the Device Client (§10.23).
const CONTROL_BUT_WHITESPACE = /(?![\n\r\t])\p{C}/u;

export function validateDetails(v: unknown, rules: DetailRules): DevResult<Details> {
  if (!isObj(v)) return fail('InvalidRequest', 'statusDetails must be an object of strings');
  const entries = Object.entries(v);
  const { maxEntries } = rules;
  const control = rules.controlChars === 'strict' ? CONTROL : CONTROL_BUT_WHITESPACE;
  if (entries.length > maxEntries) return fail('InvalidRequest', `statusDetails has more than ${maxEntries} entries`);
  for (const [k, val] of entries) {
    if (!LIMITS.detailKey.test(k)) return fail('InvalidRequest', `statusDetails key ${JSON.stringify(k)} is invalid`);
    if (typeof val !== 'string') return fail('InvalidRequest', `statusDetails.${k} must be a string`);
    if (val.length === 0) return fail('InvalidRequest', `statusDetails.${k} must not be empty`);
    if (Array.from(val).length > LIMITS.detailValueMax)
      return fail('InvalidRequest', `statusDetails.${k} is longer than ${LIMITS.detailValueMax} characters`);
    if (control.test(val)) return fail('InvalidRequest', `statusDetails.${k} contains control characters`);
  }
  return ok(Object.fromEntries(entries) as Details);
}

function optDetails(o: Obj, rules: DetailRules): DevResult<Details | undefined> {
  const v = field(o, 'statusDetails');
  return v === undefined ? ok(undefined) : validateDetails(v, rules);
}

function optStepTimeout(o: Obj, allowCancel: boolean): DevResult<number | undefined> {
  const r = optLong(o, 'stepTimeoutInMinutes');
  if (!r.ok || r.value === undefined) return r;
  const n = r.value;
  if ((n >= LIMITS.stepTimeoutMin && n <= LIMITS.stepTimeoutMax) || (allowCancel && n === -1)) return r;
  return fail('InvalidRequest', `stepTimeoutInMinutes must be between 1 and 10080${allowCancel ? ' or -1' : ''}`);
}

export interface StartNextIn {
  statusDetails?: Details;
  stepTimeoutInMinutes?: number;
}

export function parseStartNext(o: Obj, rules: DetailRules): DevResult<StartNextIn> {
  const d = optDetails(o, rules);
  if (!d.ok) return d;
  const s = optStepTimeout(o, false);
  if (!s.ok) return s;
  const out: StartNextIn = {};
  if (d.value !== undefined) out.statusDetails = d.value;
  if (s.value !== undefined) out.stepTimeoutInMinutes = s.value;
  return ok(out);
}

export interface DescribeIn {
  executionNumber?: number;
  includeJobDocument: boolean;
}

export function parseDescribe(o: Obj): DevResult<DescribeIn> {
  const n = optLong(o, 'executionNumber');
  if (!n.ok) return n;
  const inc = optBool(o, 'includeJobDocument');
  if (!inc.ok) return inc;
  const out: DescribeIn = { includeJobDocument: inc.value ?? true };
  if (n.value !== undefined) out.executionNumber = n.value;
  return ok(out);
}

export interface UpdateIn {
  status: DeviceStatus | 'QUEUED';
  statusDetails?: Details;
  expectedVersion?: number;
  executionNumber?: number;
  includeJobExecutionState: boolean;
  includeJobDocument: boolean;
  stepTimeoutInMinutes?: number;
}

/** Device-settable statuses, plus QUEUED which is refused later as a transition (docs/PROTOCOL.md §4.2 split). */
function parseStatus(v: unknown): DevResult<DeviceStatus | 'QUEUED'> {
  if (v === undefined) return fail('InvalidRequest', 'status is required');
  if (typeof v !== 'string' || !(EXEC_STATUSES as readonly string[]).includes(v))
    return fail('InvalidRequest', `status ${JSON.stringify(v)} is not a job execution status`);
  if (v === 'QUEUED' || (DEVICE_STATUSES as readonly string[]).includes(v)) return ok(v as DeviceStatus | 'QUEUED');
  return fail('InvalidRequest', `status ${v as ExecStatus} cannot be set by a device`);
}

export function parseUpdate(o: Obj, rules: DetailRules): DevResult<UpdateIn> {
  const status = parseStatus(field(o, 'status'));
  if (!status.ok) return status;
  const details = optDetails(o, rules);
  if (!details.ok) return details;
  const ev = optLong(o, 'expectedVersion');
  if (!ev.ok) return ev;
  const en = optLong(o, 'executionNumber');
  if (!en.ok) return en;
  const ies = optBool(o, 'includeJobExecutionState');
  if (!ies.ok) return ies;
  const ijd = optBool(o, 'includeJobDocument');
  if (!ijd.ok) return ijd;
  const st = optStepTimeout(o, true);
  if (!st.ok) return st;
  const out: UpdateIn = {
    status: status.value,
    includeJobExecutionState: ies.value ?? false,
    includeJobDocument: ijd.value ?? false,
  };
  if (details.value !== undefined) out.statusDetails = details.value;
  if (ev.value !== undefined) out.expectedVersion = ev.value;
  if (en.value !== undefined) out.executionNumber = en.value;
  if (st.value !== undefined) out.stepTimeoutInMinutes = st.value;
  return ok(out);
}

export function validThing(name: string): boolean {
  return LIMITS.thingName.test(name);
}

export function validJobId(id: string): boolean {
  return LIMITS.jobId.test(id);
}

export function validNamespace(ns: string): boolean {
  return LIMITS.namespaceId.test(ns);
}
