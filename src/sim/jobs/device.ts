/**
 * The four device-plane operations (docs/PROTOCOL.md §2.2–§2.5), transport-neutral. The MQTT and HTTPS paths
 * differ only in how they render (document form, thingName) and how they report errors.
 */
import { isTerminal } from '../../jobs/types';
import type { ExecStatus, JobExecution, JobExecutionState, JobExecutionSummary } from '../../jobs/types';
import { fail, ok } from './options';
import type { DevErr, DevResult } from './options';
import type { ExecRecord } from '../model';
import { deviceExecution, executionState, summary } from './render';
import type { DocForm } from './render';
import type { DescribeIn, StartNextIn, UpdateIn } from './validate';
import type { World } from './world';

/** Who asks, about which pending order, and how the answer is rendered. */
export interface Ask {
  thing: string;
  /** Namespace named by the request (topic or query); by-jobId lookups must match it when set. */
  namespace?: string;
  /** Transport flavour: MQTT sends documents as objects, HTTPS as strings and adds thingName. */
  docForm: Exclude<DocForm, 'none'>;
  withThing: boolean;
  /** `$next` reads ignore QUEUED executions younger than this (docs/PROTOCOL.md §1.6 fault), ms. */
  consistencyMs?: number;
}

function cutoff(w: World, a: Ask): number | undefined {
  return a.consistencyMs !== undefined && a.consistencyMs > 0 ? w.now() - a.consistencyMs : undefined;
}

function render(w: World, rec: ExecRecord, a: Ask, withDoc: boolean): JobExecution {
  return deviceExecution(rec, w.jobOf(rec), w.renderCtx(a.withThing), withDoc ? a.docForm : 'none');
}

function notFound(a: Ask, jobId: string): { ok: false; err: DevErr } {
  return fail('ResourceNotFound', `No job execution found for thing ${a.thing} and job ${jobId}`);
}

function lookup(w: World, a: Ask, jobId: string, executionNumber?: number): ExecRecord | undefined {
  const rec = w.findExecution(a.thing, jobId, executionNumber);
  if (rec === undefined) return undefined;
  if (a.namespace !== undefined && rec.namespace !== a.namespace) return undefined;
  return rec;
}

export function getPending(
  w: World,
  a: Ask,
): DevResult<{ inProgressJobs: JobExecutionSummary[]; queuedJobs: JobExecutionSummary[] }> {
  if (!w.things.has(a.thing) && w.opts.unknownThingGetPending === 'ResourceNotFound')
    return fail('ResourceNotFound', `Thing ${a.thing} does not exist`);
  const order = w.peekOrder(a.thing, a.namespace);
  const listed = order?.listed(w.opts.maxPendingListed) ?? { inProgress: [], queued: [] };
  return ok({ inProgressJobs: listed.inProgress.map(summary), queuedJobs: listed.queued.map(summary) });
}

export function startNext(w: World, a: Ask, inp: StartNextIn): DevResult<{ execution?: JobExecution }> {
  const head = w.peekOrder(a.thing, a.namespace)?.visibleHead(cutoff(w, a));
  if (head === undefined) return ok({});
  if (head.status === 'QUEUED') {
    const t: Parameters<World['transition']>[2] = { by: 'device', bumpVersion: true };
    if (inp.statusDetails !== undefined) t.details = inp.statusDetails;
    w.transition(head, 'IN_PROGRESS', t);
    if (inp.stepTimeoutInMinutes !== undefined) w.setStepTimer(head, inp.stepTimeoutInMinutes);
  } else if (w.opts.stepTimeoutOnRestart && inp.stepTimeoutInMinutes !== undefined) {
    w.setStepTimer(head, inp.stepTimeoutInMinutes);
  }
  return ok({ execution: render(w, head, a, true) });
}

export function describe(w: World, a: Ask, jobId: string, inp: DescribeIn): DevResult<{ execution?: JobExecution }> {
  if (jobId === '$next') {
    const head = w.peekOrder(a.thing, a.namespace)?.visibleHead(cutoff(w, a));
    return ok(head === undefined ? {} : { execution: render(w, head, a, inp.includeJobDocument) });
  }
  const rec = lookup(w, a, jobId, inp.executionNumber);
  if (rec === undefined) return notFound(a, jobId);
  if (isTerminal(rec.status) && w.opts.describeTerminal === 'TerminalStateReached')
    return fail('TerminalStateReached', `Job execution ${jobId} on ${a.thing} is already ${rec.status}`);
  return ok({ execution: render(w, rec, a, inp.includeJobDocument) });
}

function transitionAllowed(w: World, from: ExecStatus, to: UpdateIn['status']): boolean {
  if (to === 'QUEUED') return false;
  if (from === 'QUEUED') return to === 'IN_PROGRESS' || to === 'REJECTED' || w.opts.allowTerminalFromQueued;
  if (from === 'IN_PROGRESS') return to !== 'REJECTED' || w.opts.allowRejectFromInProgress;
  return false;
}

/** Version and terminal checks, in the configured order (docs/PROTOCOL.md §8 case 1). */
function preconditions(w: World, rec: ExecRecord, inp: UpdateIn): DevResult<void> {
  const state = executionState(rec);
  const version = (): DevResult<void> | undefined =>
    inp.expectedVersion !== undefined && inp.expectedVersion !== rec.versionNumber
      ? fail('VersionMismatch', `Expected version ${inp.expectedVersion} but found version ${rec.versionNumber}`, state)
      : undefined;
  const terminal = (): DevResult<void> | undefined => {
    if (!isTerminal(rec.status)) return undefined;
    const code = w.opts.terminalUpdateCode;
    const msg = `Job execution ${rec.jobId} on ${rec.thing} is already in terminal state ${rec.status}`;
    return code === 'InvalidStateTransition' ? fail(code, msg, state) : fail(code, msg);
  };
  const checks = w.opts.duplicateTerminalCheck === 'version-first' ? [version, terminal] : [terminal, version];
  for (const c of checks) {
    const r = c();
    if (r !== undefined) return r;
  }
  if (!transitionAllowed(w, rec.status, inp.status))
    return fail('InvalidStateTransition', `Cannot change status from ${rec.status} to ${inp.status}`, state);
  return ok(undefined);
}

export interface UpdateOut {
  executionState?: JobExecutionState;
  jobDocument?: unknown;
}

export function update(w: World, a: Ask, jobId: string, inp: UpdateIn, duplicateNotifyNext = false): DevResult<UpdateOut> {
  if (jobId === '$next') return fail('InvalidRequest', '$next is not a valid job id for UpdateJobExecution');
  const rec = lookup(w, a, jobId, inp.executionNumber);
  if (rec === undefined) return notFound(a, jobId);
  const pre = preconditions(w, rec, inp);
  if (!pre.ok) return pre;
  const order = w.order(rec.thing, rec.namespace);
  const wasHead = order.head() === rec;
  const to = inp.status as ExecStatus;
  const t: Parameters<World['transition']>[2] = { by: 'device', bumpVersion: true };
  if (inp.statusDetails !== undefined) t.details = inp.statusDetails;
  w.transition(rec, to, t);
  if (to === 'IN_PROGRESS' && inp.stepTimeoutInMinutes !== undefined) w.setStepTimer(rec, inp.stepTimeoutInMinutes);
  // rustot#95: a notify-next re-announcing the head right after its own update (fault injection).
  if (duplicateNotifyNext && wasHead && order.head() !== undefined) w.emitNotifyNext(rec.thing, rec.namespace, order);
  const out: UpdateOut = {};
  if (inp.includeJobExecutionState) out.executionState = executionState(rec);
  if (inp.includeJobDocument) {
    const ctx = w.renderCtx(false);
    out.jobDocument = a.docForm === 'object' ? ctx.documentObject(w.jobOf(rec)) : ctx.documentText(w.jobOf(rec));
  }
  return ok(out);
}
