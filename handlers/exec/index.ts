/**
 * `exec`: run one command. `{"operation":"exec","command":["systemctl","is-active","nginx"]}`.
 * argv only; a shell string (`"command":"df -h | tail -1","shell":true`) runs only when the agent's
 * configuration allows shells (`handlers.allowShell`, passed as this handler's `allowShell` option).
 */
import type { HandlerContext, HandlerResult, JobHandler } from '../../src/handlers/api';
import { RejectError } from '../../src/index';
import { abortError, checkRunAsUser, isRecord, processDetails, runAsUserOf } from '../_shared/util';

export interface ExecDocument {
  operation?: string;
  /** argv, or (with `shell: true`) one shell script string. */
  command: string[] | string;
  shell?: boolean;
  runAsUser?: string;
  cwd?: string;
  env?: Record<string, string>;
  /** Lowers the handler's time limit for this command. */
  timeoutSeconds?: number;
  /** Written to the command's stdin. */
  input?: string;
}

function checkCommand(doc: Record<string, unknown>): string | undefined {
  const c = doc.command;
  if (doc.shell !== undefined && typeof doc.shell !== 'boolean') return 'shell must be true or false';
  if (typeof c === 'string') return doc.shell === true ? (c.trim() ? undefined : 'command is empty') : 'command must be an array of strings (argv) unless "shell": true';
  if (!Array.isArray(c) || c.length === 0) return 'command must be a non-empty array of strings';
  if (!c.every((a) => typeof a === 'string')) return 'command must contain only strings';
  if (!c[0]) return 'command[0] must name a program';
  return undefined;
}

function checkRest(doc: Record<string, unknown>): string | undefined {
  if (doc.cwd !== undefined && (typeof doc.cwd !== 'string' || !doc.cwd.startsWith('/'))) return 'cwd must be an absolute path';
  if (doc.env !== undefined && (!isRecord(doc.env) || !Object.values(doc.env).every((v) => typeof v === 'string'))) return 'env must map names to strings';
  const t = doc.timeoutSeconds;
  if (t !== undefined && !(typeof t === 'number' && t > 0)) return 'timeoutSeconds must be a positive number';
  if (doc.input !== undefined && typeof doc.input !== 'string') return 'input must be a string';
  return checkRunAsUser(doc);
}

async function run(ctx: HandlerContext<ExecDocument>): Promise<HandlerResult> {
  const doc = ctx.document;
  if (doc.shell === true && ctx.options.allowShell !== true) {
    throw new RejectError('shell commands are not allowed by the agent configuration (handlers.allowShell)');
  }
  const argv = typeof doc.command === 'string' ? [doc.command] : doc.command;
  ctx.progress({ step: 'running', command: argv[0] ?? '' });
  const r = await ctx.exec.run(argv, {
    shell: doc.shell === true,
    runAsUser: runAsUserOf(doc as unknown as Record<string, unknown>),
    cwd: doc.cwd,
    env: doc.env,
    input: doc.input,
    timeoutMs: doc.timeoutSeconds === undefined ? undefined : doc.timeoutSeconds * 1000,
    signal: ctx.signal,
  });
  if (r.aborted) throw abortError(ctx.signal);
  const details = processDetails(r);
  if (r.timedOut) details.reason = `timed out after ${doc.timeoutSeconds ?? 0} s`;
  return { status: r.exitCode === 0 ? 'SUCCEEDED' : 'FAILED', details };
}

const exec: JobHandler<ExecDocument> = {
  name: 'exec',
  restartPolicy: 'fail',
  timeoutSeconds: 3600,
  validate(document: unknown): string | undefined {
    if (!isRecord(document)) return 'the job document must be an object';
    return checkCommand(document) ?? checkRest(document);
  },
  run,
};

export default exec;
