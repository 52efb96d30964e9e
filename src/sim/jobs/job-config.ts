/**
 * Validation of the rollout, abort and scheduling configurations of CreateJob / UpdateJob, with
 * AWS's limits (@aws-sdk/client-iot model: RolloutRatePerMinute 1–1000, IncrementFactor 1.1–5 with
 * one decimal, NumberOfThings ≥ 1, AbortThresholdPercentage ≤ 100 with two decimals,
 * MinimumNumberOfExecutedThings ≥ 1; maximumPerMinute 1–1000 per the developer guide). Every
 * refusal is an InvalidRequestException naming the field; a field the service does not know is
 * refused, never ignored.
 */
import type { ServiceError } from '../types';
import { FAILURE_TYPES } from './abort';
import type { AbortCriterion, FailureType } from './abort';
import type { RolloutSpec } from './rollout';
import { checkScheduling } from './schedule';
import type { ScheduleSpec } from './schedule';
import { serviceError } from './options';

type Obj = Record<string, unknown>;
type Checked<T> = { ok: true; value: T } | { ok: false; error: ServiceError };

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (m: string): { ok: false; error: ServiceError } => ({ ok: false, error: serviceError('InvalidRequestException', 400, m) });
const present = (v: unknown): boolean => v !== undefined && v !== null;

function extraKey(o: Obj, known: readonly string[], where: string): { ok: false; error: ServiceError } | undefined {
  const k = Object.keys(o).find((key) => !known.includes(key));
  return k === undefined ? undefined : bad(`${where}.${k} is not a field the local Jobs service supports`);
}

function int(v: unknown, min: number, max: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

/** At most `digits` decimals, judged on the decimal text JSON carried. */
function decimals(v: number, digits: number): boolean {
  const frac = String(v).split('.')[1];
  return frac === undefined || (!/e/i.test(String(v)) && frac.length <= digits);
}

export interface RolloutChecked {
  spec: RolloutSpec;
  echo: Obj;
}

function checkExponential(e: unknown, out: RolloutChecked): { ok: false; error: ServiceError } | undefined {
  const where = 'jobExecutionsRolloutConfig.exponentialRate';
  if (!isObj(e)) return bad(`${where} must be an object`);
  const extra = extraKey(e, ['baseRatePerMinute', 'incrementFactor', 'rateIncreaseCriteria'], where);
  if (extra) return extra;
  if (!int(e.baseRatePerMinute, 1, 1000)) return bad(`${where}.baseRatePerMinute must be an integer from 1 to 1000`);
  const f = e.incrementFactor;
  if (typeof f !== 'number' || !(f >= 1.1 && f <= 5) || !decimals(f, 1))
    return bad(`${where}.incrementFactor must be a number from 1.1 to 5 with at most one digit after the decimal point`);
  const c = e.rateIncreaseCriteria;
  if (!isObj(c)) return bad(`${where}.rateIncreaseCriteria is required`);
  const extraC = extraKey(c, ['numberOfNotifiedThings', 'numberOfSucceededThings'], `${where}.rateIncreaseCriteria`);
  if (extraC) return extraC;
  for (const k of ['numberOfNotifiedThings', 'numberOfSucceededThings'] as const) {
    if (present(c[k]) && !int(c[k], 1, Number.MAX_SAFE_INTEGER)) return bad(`${where}.rateIncreaseCriteria.${k} must be an integer of at least 1`);
  }
  if (!present(c.numberOfNotifiedThings) && !present(c.numberOfSucceededThings))
    return bad(`${where}.rateIncreaseCriteria needs numberOfNotifiedThings or numberOfSucceededThings`);
  const criteria: Obj = {};
  const exp: NonNullable<RolloutSpec['exponentialRate']> = { baseRatePerMinute: e.baseRatePerMinute as number, incrementFactor: f };
  if (present(c.numberOfNotifiedThings)) criteria.numberOfNotifiedThings = exp.numberOfNotifiedThings = c.numberOfNotifiedThings as number;
  if (present(c.numberOfSucceededThings)) criteria.numberOfSucceededThings = exp.numberOfSucceededThings = c.numberOfSucceededThings as number;
  out.spec.exponentialRate = exp;
  out.echo.exponentialRate = { baseRatePerMinute: exp.baseRatePerMinute, incrementFactor: f, rateIncreaseCriteria: criteria };
  return undefined;
}

export function checkRollout(v: unknown): Checked<RolloutChecked> {
  if (!isObj(v)) return bad('jobExecutionsRolloutConfig must be an object');
  const extra = extraKey(v, ['maximumPerMinute', 'exponentialRate'], 'jobExecutionsRolloutConfig');
  if (extra) return extra;
  const out: RolloutChecked = { spec: {}, echo: {} };
  if (present(v.maximumPerMinute)) {
    if (!int(v.maximumPerMinute, 1, 1000)) return bad('jobExecutionsRolloutConfig.maximumPerMinute must be an integer from 1 to 1000');
    out.spec.maximumPerMinute = out.echo.maximumPerMinute = v.maximumPerMinute as number;
  }
  if (present(v.exponentialRate)) {
    const e = checkExponential(v.exponentialRate, out);
    if (e) return e;
  }
  return { ok: true, value: out };
}

export interface AbortChecked {
  criteria: AbortCriterion[];
  echo: Obj;
}

function checkCriterion(c: unknown, where: string): Checked<AbortCriterion> {
  if (!isObj(c)) return bad(`${where} must be an object`);
  const extra = extraKey(c, ['failureType', 'action', 'thresholdPercentage', 'minNumberOfExecutedThings'], where);
  if (extra) return extra;
  if (!FAILURE_TYPES.includes(c.failureType as FailureType)) return bad(`${where}.failureType must be one of ${FAILURE_TYPES.join(', ')}`);
  if (c.action !== 'CANCEL') return bad(`${where}.action must be CANCEL`);
  const p = c.thresholdPercentage;
  if (typeof p !== 'number' || !(p >= 0 && p <= 100) || !decimals(p, 2))
    return bad(`${where}.thresholdPercentage must be a number from 0 to 100 with at most two digits after the decimal point`);
  if (!int(c.minNumberOfExecutedThings, 1, Number.MAX_SAFE_INTEGER)) return bad(`${where}.minNumberOfExecutedThings must be an integer of at least 1`);
  return {
    ok: true,
    value: { failureType: c.failureType as FailureType, action: 'CANCEL', thresholdPercentage: p, minNumberOfExecutedThings: c.minNumberOfExecutedThings as number },
  };
}

export function checkAbort(v: unknown): Checked<AbortChecked> {
  if (!isObj(v)) return bad('abortConfig must be an object');
  const extra = extraKey(v, ['criteriaList'], 'abortConfig');
  if (extra) return extra;
  const list = v.criteriaList;
  if (!Array.isArray(list) || list.length === 0) return bad('abortConfig.criteriaList must be a list of at least one criterion');
  const criteria: AbortCriterion[] = [];
  for (const [i, c] of list.entries()) {
    const r = checkCriterion(c, `abortConfig.criteriaList[${i}]`);
    if (!r.ok) return r;
    criteria.push(r.value);
  }
  return { ok: true, value: { criteria, echo: { criteriaList: criteria.map((c) => ({ ...c })) } } };
}

export function checkSchedule(v: unknown, now: number | undefined): Checked<ScheduleSpec> {
  const r = checkScheduling(v, now);
  return r.ok ? r : bad(r.message);
}

/** The three configurations of one CreateJob, validated; undefined members were not given. */
export interface JobConfigs {
  rollout?: RolloutChecked;
  abort?: AbortChecked;
  schedule?: ScheduleSpec;
}

export function checkJobConfigs(input: Readonly<Record<string, unknown>>, now: number): Checked<JobConfigs> {
  const out: JobConfigs = {};
  if (present(input.jobExecutionsRolloutConfig)) {
    const r = checkRollout(input.jobExecutionsRolloutConfig);
    if (!r.ok) return r;
    out.rollout = r.value;
  }
  if (present(input.abortConfig)) {
    const r = checkAbort(input.abortConfig);
    if (!r.ok) return r;
    out.abort = r.value;
  }
  if (present(input.schedulingConfig)) {
    const r = checkSchedule(input.schedulingConfig, now);
    if (!r.ok) return r;
    out.schedule = r.value;
  }
  return { ok: true, value: out };
}

/** The same checks as members of the request shapes (state/fields.ts): the first problem, or undefined. */
export const rolloutMember = (v: unknown): string | undefined => problem(checkRollout(v));
export const abortMember = (v: unknown): string | undefined => problem(checkAbort(v));
/** Shape only: the rules relative to the current time are CreateJob's (checkJobConfigs). */
export const schedulingMember = (v: unknown): string | undefined => problem(checkSchedule(v, undefined));

function problem(r: Checked<unknown>): string | undefined {
  return r.ok ? undefined : r.error.message;
}
