/**
 * start-services / stop-services / restart-services over systemctl.
 * Options: `systemctl` (program path; tests use a fake), `selfService` (the agent's own unit,
 * default iot-jobs-agent.service), `selfRestartWaitSeconds` (default 120).
 *
 * Restarting the agent's own service cannot be reported by the process being restarted, so it is a
 * resumable step: the state is saved, the restart is queued (`--no-block`), and the new agent
 * process decides in `resume` — SUCCEEDED only if it really is a different process.
 */
import type { HandlerContext, HandlerResult, JobHandler } from '../../src/handlers/api';
import { RejectError } from '../../src/index';
import { abortError, checkRunAsUser, isRecord, optNumber, optString, processDetails, runAsUserOf, tail, untilAborted, wordList } from './util';

export type ServiceAction = 'start' | 'stop' | 'restart';

export interface ServicesDocument {
  operation?: string;
  /** Unit names; an array or one space-separated string. */
  services: string[] | string;
  runAsUser?: string;
}

const UNIT = /^[A-Za-z0-9:_.@\\-]+$/;

const DONE: Record<ServiceAction, string> = { start: 'started', stop: 'stopped', restart: 'restarted' };

function unitName(s: string): string {
  return s.endsWith('.service') ? s.slice(0, -'.service'.length) : s;
}

export function validateServices(document: unknown): string | undefined {
  if (!isRecord(document)) return 'the job document must be an object';
  const list = wordList(document.services);
  if (!list || list.length === 0) return 'services must list at least one service (array or space-separated string)';
  const bad = list.find((s) => !UNIT.test(s) || s.startsWith('-'));
  if (bad !== undefined) return `not a valid service name: ${JSON.stringify(bad)}`;
  return checkRunAsUser(document);
}

/** The agent process's identity across a restart: pid plus start time (pids are reused). */
function selfIdentity(): { pid: number; startedAt: number } {
  return { pid: process.pid, startedAt: Math.round(Date.now() - process.uptime() * 1000) };
}

async function systemctl(ctx: HandlerContext<ServicesDocument>, args: string[]): Promise<HandlerResult | undefined> {
  const r = await ctx.exec.run([optString(ctx.options, 'systemctl', 'systemctl'), ...args], {
    signal: ctx.signal,
    runAsUser: runAsUserOf(ctx.document as unknown as Record<string, unknown>),
  });
  if (r.aborted) throw abortError(ctx.signal);
  return r.exitCode === 0 ? undefined : { status: 'FAILED', details: processDetails(r, { reason: tail(`systemctl ${args.join(' ')} failed`) }) };
}

async function restartSelf(ctx: HandlerContext<ServicesDocument>, self: string): Promise<HandlerResult> {
  await ctx.saveState({ selfRestart: selfIdentity() });
  const failed = await systemctl(ctx, ['restart', '--no-block', self]);
  if (failed) return failed;
  ctx.progress({ step: `restart of ${self} (the agent itself) queued` });
  const waitS = optNumber(ctx.options, 'selfRestartWaitSeconds', 120);
  await untilAborted(ctx.signal, waitS * 1000);
  return { status: 'FAILED', details: { reason: `the agent was not restarted within ${waitS} s` } };
}

async function run(ctx: HandlerContext<ServicesDocument>, name: string, action: ServiceAction): Promise<HandlerResult> {
  const services = wordList(ctx.document.services) ?? [];
  const self = unitName(optString(ctx.options, 'selfService', 'iot-jobs-agent.service'));
  const includesSelf = services.some((s) => unitName(s) === self);
  if (includesSelf && action === 'stop') throw new RejectError(`${name}: stopping the agent's own service (${self}) would leave this job unreported`);
  const others = services.filter((s) => unitName(s) !== self);
  for (const s of others) {
    ctx.progress({ step: `${action} ${s}` });
    const failed = await systemctl(ctx, [action, s]);
    if (failed) return failed;
  }
  // Starting the agent's service is a no-op: it is running, or this job would not be.
  if (includesSelf && action === 'restart') return restartSelf(ctx, self);
  return { status: 'SUCCEEDED', details: { [DONE[action]]: tail(services.join(' ')) } };
}

async function resume(ctx: HandlerContext<ServicesDocument>, name: string, action: ServiceAction): Promise<HandlerResult> {
  const saved = ctx.savedState?.selfRestart;
  if (!isRecord(saved)) return run(ctx, name, action); // interrupted before the self-restart: do it all again
  const now = selfIdentity();
  const restarted = saved.pid !== now.pid || Math.abs(Number(saved.startedAt) - now.startedAt) > 2000;
  if (restarted) return { status: 'SUCCEEDED', details: { restarted: tail(wordList(ctx.document.services)?.join(' ') ?? '') } };
  return { status: 'FAILED', details: { reason: 'the agent process did not change: its service was not restarted' } };
}

export function serviceHandler(name: string, action: ServiceAction): JobHandler<ServicesDocument> {
  return {
    name,
    // start/stop are idempotent; restart may have restarted the agent itself and decides on resume.
    restartPolicy: action === 'restart' ? 'resume' : 'rerun',
    timeoutSeconds: 600,
    validate: validateServices,
    run: (ctx) => run(ctx, name, action),
    ...(action === 'restart' ? { resume: (ctx: HandlerContext<ServicesDocument>) => resume(ctx, name, action) } : {}),
  };
}
