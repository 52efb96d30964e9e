/**
 * Validators for every payload the device receives. Pure: each returns the typed value or a reason.
 * Nothing received from the network reaches the agent without passing one of these.
 */
import { EXEC_STATUSES, REJECT_CODES } from './types';
import type {
  ExecutionAccepted,
  ExecStatus,
  GetPendingAccepted,
  JobExecution,
  JobExecutionState,
  JobExecutionSummary,
  NotifyMsg,
  NotifyNextMsg,
  Rejected,
  UpdateAccepted,
} from './types';

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStatus = (v: unknown): v is ExecStatus => typeof v === 'string' && (EXEC_STATUSES as readonly string[]).includes(v);

class Invalid extends Error {}
function need(cond: boolean, reason: string): asserts cond {
  if (!cond) throw new Invalid(reason);
}

function check<T>(fn: () => T): Checked<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, reason: err.message };
    throw err;
  }
}

/** JSON text → object, or a reason. Zero-length and non-object payloads are refused. */
export function parseJsonObject(payload: Buffer | string): Checked<Obj> {
  const text = typeof payload === 'string' ? payload : payload.toString('utf8');
  if (text.length === 0) return { ok: false, reason: 'empty payload' };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  return isObj(v) ? { ok: true, value: v } : { ok: false, reason: 'payload is not a JSON object' };
}

function details(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  need(isObj(v) && Object.values(v).every((x) => typeof x === 'string'), `${where}.statusDetails must map strings to strings`);
  return v as Record<string, string>;
}

function summary(v: unknown, where: string): JobExecutionSummary {
  need(isObj(v), `${where} must be an object`);
  need(typeof v.jobId === 'string' && v.jobId.length > 0, `${where}.jobId must be a non-empty string`);
  for (const k of ['queuedAt', 'lastUpdatedAt', 'versionNumber', 'executionNumber'] as const) {
    need(isInt(v[k]), `${where}.${k} must be a number`);
  }
  need(v.startedAt === undefined || isInt(v.startedAt), `${where}.startedAt must be a number`);
  return v as unknown as JobExecutionSummary;
}

function execution(v: unknown, where: string): JobExecution {
  summary(v, where);
  const e = v as Obj;
  need(isStatus(e.status), `${where}.status is not a job execution status`);
  details(e.statusDetails, where);
  return e as unknown as JobExecution;
}

function state(v: unknown, where: string): JobExecutionState {
  need(isObj(v), `${where} must be an object`);
  need(isStatus(v.status), `${where}.status is not a job execution status`);
  need(isInt(v.versionNumber), `${where}.versionNumber must be a number`);
  details(v.statusDetails, where);
  return v as unknown as JobExecutionState;
}

function list(v: unknown, where: string): JobExecutionSummary[] {
  need(Array.isArray(v), `${where} must be an array`);
  return v.map((x, i) => summary(x, `${where}[${i}]`));
}

function token(v: Obj): void {
  need(v.clientToken === undefined || typeof v.clientToken === 'string', 'clientToken must be a string');
}

export const validate = {
  getPendingAccepted: (v: Obj): Checked<GetPendingAccepted> =>
    check(() => {
      token(v);
      // Tolerate an absent list (an empty one is always sent by AWS, docs/PROTOCOL.md §2.2).
      return { ...v, inProgressJobs: list(v.inProgressJobs ?? [], 'inProgressJobs'), queuedJobs: list(v.queuedJobs ?? [], 'queuedJobs') } as GetPendingAccepted;
    }),
  executionAccepted: (v: Obj): Checked<ExecutionAccepted> =>
    check(() => {
      token(v);
      if (v.execution !== undefined) execution(v.execution, 'execution');
      return v as unknown as ExecutionAccepted;
    }),
  updateAccepted: (v: Obj): Checked<UpdateAccepted> =>
    check(() => {
      token(v);
      if (v.executionState !== undefined) state(v.executionState, 'executionState');
      return v as unknown as UpdateAccepted;
    }),
  rejected: (v: Obj): Checked<Rejected> =>
    check(() => {
      token(v);
      need(typeof v.code === 'string' && (REJECT_CODES as readonly string[]).includes(v.code), `unknown rejection code ${JSON.stringify(v.code)}`);
      need(v.message === undefined || typeof v.message === 'string', 'message must be a string');
      if (v.executionState !== undefined) state(v.executionState, 'executionState');
      return v as unknown as Rejected;
    }),
  notify: (v: Obj): Checked<NotifyMsg> =>
    check(() => {
      need(isObj(v.jobs), 'jobs must be an object');
      for (const [k, l] of Object.entries(v.jobs)) {
        need(k === 'QUEUED' || k === 'IN_PROGRESS', `jobs.${k} is not a pending status`);
        list(l, `jobs.${k}`);
      }
      return v as unknown as NotifyMsg;
    }),
  notifyNext: (v: Obj): Checked<NotifyNextMsg> =>
    check(() => {
      if (v.execution !== undefined) execution(v.execution, 'execution');
      return v as unknown as NotifyNextMsg;
    }),
};
