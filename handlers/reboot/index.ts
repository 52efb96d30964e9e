/**
 * `reboot`: `{"operation":"reboot"}`. Success can only be known after the reboot, so the boot id is
 * saved first, the reboot command runs, and the handler waits to be stopped. The restarted agent
 * calls `resume`: SUCCEEDED only if the boot id changed. Never reports success before the reboot.
 * Options: `command` (argv, default ["systemctl","reboot"]), `bootIdPath`, `waitSeconds` (default 600).
 */
import type { HandlerContext, HandlerResult, JobHandler } from '../../src/handlers/api';
import { abortError, checkRunAsUser, isRecord, optArgv, optNumber, processDetails, readBootId, runAsUserOf, untilAborted } from '../_shared/util';

export interface RebootDocument {
  operation?: string;
  runAsUser?: string;
}

async function run(ctx: HandlerContext<RebootDocument>): Promise<HandlerResult> {
  const bootId = await readBootId(ctx);
  // Persisted before the command runs: after the reboot this is the only evidence of what to compare.
  await ctx.saveState({ bootId, requestedAt: new Date().toISOString() });
  const r = await ctx.exec.run(optArgv(ctx.options, 'command', ['systemctl', 'reboot']), {
    signal: ctx.signal,
    runAsUser: runAsUserOf(ctx.document as unknown as Record<string, unknown>),
  });
  if (r.aborted) throw abortError(ctx.signal);
  if (r.exitCode !== 0) return { status: 'FAILED', details: processDetails(r, { reason: 'the reboot command failed' }) };
  ctx.progress({ step: 'reboot requested' });
  const waitS = optNumber(ctx.options, 'waitSeconds', 600);
  await untilAborted(ctx.signal, waitS * 1000);
  return { status: 'FAILED', details: { reason: `the device did not reboot within ${waitS} s` } };
}

async function resume(ctx: HandlerContext<RebootDocument>): Promise<HandlerResult> {
  const before = ctx.savedState?.bootId;
  if (typeof before !== 'string') return { status: 'FAILED', details: { reason: 'interrupted before the reboot was requested' } };
  const now = await readBootId(ctx);
  if (now !== before) return { status: 'SUCCEEDED', details: { previousBootId: before, bootId: now } };
  return { status: 'FAILED', details: { reason: 'the boot id did not change: the device did not reboot', bootId: now } };
}

const reboot: JobHandler<RebootDocument> = {
  name: 'reboot',
  restartPolicy: 'resume',
  timeoutSeconds: 900,
  validate: (document: unknown) => (isRecord(document) ? checkRunAsUser(document) : 'the job document must be an object'),
  run,
  resume,
};

export default reboot;
