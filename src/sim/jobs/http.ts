/**
 * The HTTPS data plane (docs/PROTOCOL.md §6): same operations as MQTT, but documents as JSON text, thingName
 * in executions, no clientToken/timestamp, and errors as restJson1 exceptions (docs/PROTOCOL.md §3.3).
 */
import type { JobExecution, JobExecutionState, JobExecutionSummary } from '../../jobs/types';
import type { Result } from '../types';
import { describe, getPending, startNext, update } from './device';
import type { Ask } from './device';
import { toHttpError } from './options';
import type { DevResult } from './options';
import { badRequest, err } from './jobs';
import { detailRules, isObj, parseStartNext, parseUpdate, validJobId, validNamespace, validThing } from './validate';
import type { Obj } from './validate';
import type { FrontDeps } from './mqtt';

type Deps = Omit<FrontDeps, 'publish'> & { flush: () => void };

function ask(d: Deps, thing: string, namespace?: string): Ask {
  const a: Ask = { thing, docForm: 'string', withThing: true };
  if (namespace !== undefined) a.namespace = namespace;
  const ec = d.consistencyMs(thing);
  if (ec !== undefined) a.consistencyMs = ec;
  return a;
}

/** Common gate: valid thing name, then injected faults, then the operation; notifications flushed. */
function run<T>(d: Deps, thing: string, op: () => DevResult<T>): Result<T> {
  if (typeof thing !== 'string' || !validThing(thing)) return err(badRequest(`thingName ${JSON.stringify(thing)} is invalid`));
  const fault = d.roll(thing);
  if (fault !== undefined) return err(toHttpError(fault, d.world.opts));
  const r = op();
  d.flush();
  return r.ok ? r : err(toHttpError(r.err, d.world.opts));
}

function body(b: unknown): Obj | undefined {
  if (b === undefined || b === null || b === '') return {};
  return isObj(b) ? b : undefined;
}

export function httpGetPending(
  d: Deps,
  thing: string,
  namespaceId?: string,
): Result<{ inProgressJobs: JobExecutionSummary[]; queuedJobs: JobExecutionSummary[] }> {
  if (namespaceId !== undefined && (typeof namespaceId !== 'string' || !validNamespace(namespaceId)))
    return err(badRequest('namespaceId must match [a-zA-Z0-9_-]+'));
  return run(d, thing, () => getPending(d.world, ask(d, thing, namespaceId)));
}

export function httpDescribe(
  d: Deps,
  thing: string,
  jobId: string,
  q: { includeJobDocument?: boolean; executionNumber?: number },
): Result<{ execution?: JobExecution }> {
  if (typeof jobId !== 'string' || (jobId !== '$next' && !validJobId(jobId))) return err(badRequest('jobId is invalid'));
  if (q.executionNumber !== undefined && !Number.isSafeInteger(q.executionNumber))
    return err(badRequest('executionNumber must be an integer'));
  if (q.includeJobDocument !== undefined && typeof q.includeJobDocument !== 'boolean')
    return err(badRequest('includeJobDocument must be true or false'));
  const inp: { includeJobDocument: boolean; executionNumber?: number } = { includeJobDocument: q.includeJobDocument ?? true };
  if (q.executionNumber !== undefined) inp.executionNumber = q.executionNumber;
  return run(d, thing, () => describe(d.world, ask(d, thing), jobId, inp));
}

export function httpStartNext(d: Deps, thing: string, b: unknown): Result<{ execution?: JobExecution }> {
  const o = body(b);
  if (o === undefined) return err(badRequest('request body must be a JSON object'));
  const inp = parseStartNext(o, detailRules(d.world.opts));
  if (!inp.ok) return err(toHttpError(inp.err, d.world.opts));
  return run(d, thing, () => startNext(d.world, ask(d, thing), inp.value));
}

export function httpUpdate(
  d: Deps,
  thing: string,
  jobId: string,
  b: unknown,
): Result<{ executionState?: JobExecutionState; jobDocument?: string }> {
  if (typeof jobId !== 'string' || !validJobId(jobId)) return err(badRequest('jobId is invalid'));
  const o = body(b);
  if (o === undefined) return err(badRequest('request body must be a JSON object'));
  const inp = parseUpdate(o, detailRules(d.world.opts));
  if (!inp.ok) return err(toHttpError(inp.err, d.world.opts));
  return run(d, thing, () => update(d.world, ask(d, thing), jobId, inp.value, d.duplicateNotifyNext(thing))) as Result<{
    executionState?: JobExecutionState;
    jobDocument?: string;
  }>;
}
