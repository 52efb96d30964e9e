/**
 * Job documents in the AWS IoT Device Client's forms, parsed into a plan the `device-client-steps`
 * handler runs: the schema `{version, steps[], finalStep}` with runHandler/runCommand actions, and
 * the legacy `{operation, args, path}`. Where the Device Client trusts the document, this does not:
 * scripts come only from configured script directories, `path` may only name one of those, and a
 * script anyone but root/the agent could have changed is refused.
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import type { JobHandler } from './api';
import { RejectError } from './errors';
import { managedMapping } from './managed';

export const DEVICE_CLIENT_HANDLER = 'device-client-steps';

export type StepAction =
  | { type: 'builtin'; handler: string; document: Record<string, unknown> }
  | { type: 'script'; file: string; args: string[] }
  | { type: 'command'; argv: string[] };

export interface PlanStep {
  name: string;
  action: StepAction;
  runAsUser?: string;
  ignoreStepFailure: boolean;
  /** Lines of stderr tolerated from a process step; undefined = stderr does not decide. */
  allowStdErr?: number;
  includeStdOut: boolean;
}

export interface DeviceClientPlan {
  form: 'steps' | 'legacy';
  steps: PlanStep[];
  /** Runs only after every step succeeded (or failed with ignoreStepFailure). */
  finalStep?: PlanStep;
}

export interface ParseOptions {
  /** `handlers.scriptDirectories`: the only places a runHandler script may come from. */
  scriptDirectories: readonly string[];
  /** Names of the handlers that are loaded (built-ins the managed scripts map to). */
  available: (name: string) => boolean;
  uid?: number;
}

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);
const MAX_STEPS = 64;

/** Splits the Device Client's `command`: comma-separated argv, `\,` for a literal comma. */
export function splitCommand(command: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < command.length; i++) {
    const c = command[i];
    if (c === '\\' && command[i + 1] === ',') {
      cur += ',';
      i++;
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function noPlaceholder(v: string, what: string): string {
  // The service substitutes ${aws:iot:…} before delivery; one left means the job was created wrong.
  if (/\$\{aws:iot:[^}]*\}/.test(v)) throw new RejectError(`${what} contains an unresolved placeholder: ${v}`);
  return v;
}

function optString(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new RejectError(`${what} must be a string`);
  if (v.includes('\0')) throw new RejectError(`${what} must not contain NUL`);
  return v === '' ? undefined : noPlaceholder(v, what);
}

function flag(v: unknown, what: string): boolean {
  if (v === undefined || v === null || v === false || v === 'false' || v === '') return false;
  if (v === true || v === 'true') return true;
  throw new RejectError(`${what} must be "true" or "false"`);
}

function allowStdErr(v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new RejectError('allowStdErr must be a whole number of lines');
  return n;
}

function stringArgs(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((a) => typeof a === 'string')) throw new RejectError(`${what} must be an array of strings`);
  return v.map((a: string, i) => {
    if (a.includes('\0')) throw new RejectError(`${what}[${i}] must not contain NUL`);
    return noPlaceholder(a, `${what}[${i}]`);
  });
}

function checkHandlerName(h: unknown): string {
  if (typeof h !== 'string' || h.length === 0) throw new RejectError('input.handler must name a handler script');
  if (h.includes('/') || h.includes('..') || h.includes('\0')) throw new RejectError(`handler name ${JSON.stringify(h)} must be a plain file name`);
  return noPlaceholder(h, 'input.handler');
}

async function safeScript(file: string, uid: number): Promise<'missing' | string> {
  let st;
  try {
    st = await lstat(file);
  } catch {
    return 'missing';
  }
  if (!st.isFile()) return `${file} is not a regular file`;
  if ((st.mode & 0o022) !== 0) return `${file} is writable by group or others`;
  if (st.uid !== 0 && st.uid !== uid) return `${file} is owned by uid ${st.uid}, not root or the agent`;
  if ((st.mode & 0o111) === 0) return `${file} is not executable`;
  return '';
}

async function resolveScript(handler: string, args: string[], dirPath: string | undefined, opts: ParseOptions): Promise<StepAction> {
  const configured = opts.scriptDirectories.map((d) => path.resolve(d));
  const managed = managedMapping(handler);
  let dirs = configured;
  if (dirPath !== undefined && dirPath !== 'default') {
    const wanted = path.resolve(dirPath);
    if (!configured.includes(wanted)) {
      // A managed script name still means our built-in; the document never picks a directory we did not configure.
      if (managed) return builtinAction(managed.builtin, managed.toDocument(args), opts);
      throw new RejectError(`path ${dirPath} is not a configured script directory`);
    }
    dirs = [wanted];
  }
  const uid = opts.uid ?? process.getuid?.() ?? 0;
  for (const dir of dirs) {
    const file = path.join(dir, handler);
    const problem = await safeScript(file, uid);
    if (problem === '') return { type: 'script', file, args };
    if (problem !== 'missing') throw new RejectError(`handler script refused: ${problem}`);
  }
  if (managed) return builtinAction(managed.builtin, managed.toDocument(args), opts);
  const where = dirs.length > 0 ? dirs.join(', ') : 'none configured';
  throw new RejectError(`handler ${handler} not found in the script directories (${where})`);
}

function builtinAction(handler: string, document: Record<string, unknown>, opts: ParseOptions): StepAction {
  if (!opts.available(handler)) throw new RejectError(`built-in handler ${handler} is not available`);
  return { type: 'builtin', handler, document: { operation: handler, ...document } };
}

async function parseAction(action: unknown, where: string, inherited: { includeStdOut: boolean }, opts: ParseOptions): Promise<PlanStep> {
  if (!isRec(action)) throw new RejectError(`${where}.action must be an object`);
  const input = action.input;
  if (!isRec(input)) throw new RejectError(`${where}.action.input must be an object`);
  let act: StepAction;
  if (action.type === 'runHandler') {
    const handler = checkHandlerName(input.handler);
    act = await resolveScript(handler, stringArgs(input.args, `${where}.action.input.args`), optString(input.path, `${where}.action.input.path`), opts);
  } else if (action.type === 'runCommand') {
    const command = optString(input.command, `${where}.action.input.command`);
    if (command === undefined) throw new RejectError(`${where}.action.input.command must be a non-empty string`);
    const argv = splitCommand(command);
    if (!argv[0] || /\s/.test(argv[0])) throw new RejectError(`${where}: the first element of command must be a program name without spaces`);
    act = { type: 'command', argv };
  } else {
    throw new RejectError(`${where}.action.type must be runHandler or runCommand`);
  }
  return {
    name: optString(action.name, `${where}.action.name`) ?? where,
    action: act,
    runAsUser: optString(action.runAsUser, `${where}.action.runAsUser`),
    ignoreStepFailure: flag(action.ignoreStepFailure, `${where}.action.ignoreStepFailure`),
    allowStdErr: allowStdErr(action.allowStdErr),
    includeStdOut: inherited.includeStdOut || flag(action.includeStdOut, `${where}.action.includeStdOut`),
  };
}

async function parseSteps(doc: Rec, opts: ParseOptions): Promise<DeviceClientPlan> {
  if (doc.version !== undefined && (typeof doc.version !== 'string' || !/^1(\.\d+)?$/.test(doc.version))) {
    throw new RejectError(`unsupported Device Client document version ${JSON.stringify(doc.version)} (expected "1.0")`);
  }
  if (!Array.isArray(doc.steps) || doc.steps.length === 0) throw new RejectError('steps must be a non-empty array');
  if (doc.steps.length > MAX_STEPS) throw new RejectError(`at most ${MAX_STEPS} steps`);
  const inherited = { includeStdOut: flag(doc.includeStdOut, 'includeStdOut') };
  const steps: PlanStep[] = [];
  for (const [i, s] of doc.steps.entries()) {
    if (!isRec(s)) throw new RejectError(`steps[${i}] must be an object`);
    steps.push(await parseAction(s.action, `steps[${i}]`, inherited, opts));
  }
  const final = doc.finalStep;
  if (final === undefined || final === null) return { form: 'steps', steps };
  if (!isRec(final)) throw new RejectError('finalStep must be an object');
  return { form: 'steps', steps, finalStep: await parseAction(final.action, 'finalStep', inherited, opts) };
}

async function parseLegacy(doc: Rec, opts: ParseOptions): Promise<DeviceClientPlan> {
  const action = {
    name: doc.operation,
    type: 'runHandler',
    input: { handler: doc.operation, args: doc.args, path: doc.path },
    allowStdErr: doc.allowStdErr,
    runAsUser: doc.runAsUser,
  };
  const step = await parseAction(action, 'operation', { includeStdOut: flag(doc.includeStdOut, 'includeStdOut') }, opts);
  return { form: 'legacy', steps: [step] };
}

/** Parses a Device Client document; RejectError with the reason when it cannot run here. */
export async function parseDeviceClientDocument(doc: unknown, opts: ParseOptions): Promise<DeviceClientPlan> {
  if (!isRec(doc)) throw new RejectError('the job document must be a JSON object');
  if (doc.steps !== undefined || doc.version !== undefined) return parseSteps(doc, opts);
  if (typeof doc.operation === 'string') return parseLegacy(doc, opts);
  throw new RejectError('not a Device Client document: no "steps" and no "operation"');
}

export type HandlerChoice = { handler: string } | { reject: string };

/**
 * Which handler serves a document: `operation` naming a loaded handler; otherwise the Device Client
 * forms (`steps`, or a legacy `operation` naming a script) go to `device-client-steps`.
 */
export function chooseHandler(doc: unknown, handlers: ReadonlyMap<string, JobHandler<never>>): HandlerChoice {
  if (!isRec(doc)) return { reject: 'the job document must be a JSON object' };
  const dc = handlers.has(DEVICE_CLIENT_HANDLER) ? { handler: DEVICE_CLIENT_HANDLER } : { reject: 'Device Client documents are not enabled' };
  if (doc.steps !== undefined || doc.version !== undefined) return dc;
  const op = doc.operation;
  if (typeof op !== 'string' || op.length === 0) return { reject: 'the job document has no "operation" (or Device Client "steps")' };
  if (handlers.has(op)) return { handler: op };
  if (managedMapping(op) || op.endsWith('.sh') || 'args' in doc || 'path' in doc) return dc;
  return { reject: `no handler for operation ${JSON.stringify(op)}` };
}
