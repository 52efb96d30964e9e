/**
 * `shutdown`: `{"operation":"shutdown","delayMinutes":1}`. Like the Device Client's shutdown.sh it
 * schedules the power-off (default in one minute) and reports SUCCEEDED while the device can still
 * say so. The boot id is saved first: if the agent is interrupted before reporting, `resume` on the
 * next boot knows whether the shutdown happened — it is never scheduled a second time.
 * Options: `command` (argv before the time argument, default ["shutdown","-h"]), `bootIdPath`.
 */
import type { HandlerContext, HandlerResult, JobHandler } from '../../src/handlers/api';
import { abortError, checkRunAsUser, isRecord, optArgv, processDetails, readBootId, runAsUserOf } from '../_shared/util';

export interface ShutdownDocument {
  operation?: string;
  /** 0 = now; at most one day. */
  delayMinutes?: number;
  runAsUser?: string;
}

function validate(document: unknown): string | undefined {
  if (!isRecord(document)) return 'the job document must be an object';
  const d = document.delayMinutes;
  if (d !== undefined && !(typeof d === 'number' && Number.isInteger(d) && d >= 0 && d <= 1440)) return 'delayMinutes must be a whole number from 0 to 1440';
  return checkRunAsUser(document);
}

async function run(ctx: HandlerContext<ShutdownDocument>): Promise<HandlerResult> {
  const delay = ctx.document.delayMinutes ?? 1;
  await ctx.saveState({ bootId: await readBootId(ctx) });
  const argv = [...optArgv(ctx.options, 'command', ['shutdown', '-h']), delay === 0 ? 'now' : `+${delay}`];
  const r = await ctx.exec.run(argv, { signal: ctx.signal, runAsUser: runAsUserOf(ctx.document as unknown as Record<string, unknown>) });
  if (r.aborted) throw abortError(ctx.signal);
  if (r.exitCode !== 0) return { status: 'FAILED', details: processDetails(r, { reason: 'the shutdown command failed' }) };
  return { status: 'SUCCEEDED', details: { scheduled: delay === 0 ? 'now' : `in ${delay} min` } };
}

async function resume(ctx: HandlerContext<ShutdownDocument>): Promise<HandlerResult> {
  const before = ctx.savedState?.bootId;
  if (typeof before !== 'string') return { status: 'FAILED', details: { reason: 'interrupted before the shutdown was scheduled' } };
  if ((await readBootId(ctx)) !== before) return { status: 'SUCCEEDED', details: { shutdown: 'the device shut down and has started again' } };
  return { status: 'FAILED', details: { reason: 'interrupted after scheduling the shutdown, and the device did not shut down' } };
}

const shutdown: JobHandler<ShutdownDocument> = { name: 'shutdown', restartPolicy: 'resume', timeoutSeconds: 300, validate, run, resume };

export default shutdown;
