/**
 * The one child-process helper every handler uses (docs/ARCHITECTURE.md §4). Each rule here is the opposite
 * of a fault in the AWS IoT Device Client's job engine: argv only (a shell only when the handler
 * and the configuration both allow it), `runAsUser` applied by the spawn itself and never silently
 * dropped, a scrubbed environment, no inherited descriptors, stdout and stderr drained at the same
 * time into bounded tails, and the whole process group killed on abort or timeout.
 */
import type * as ChildProcess from 'node:child_process';
import type { StdioOptions } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { monotonicMs } from '../lib/clock';
import { AbortedError } from '../lib/errors';
import type { HandlerLogger, ProcessResult, ProcessRunner, RunProcessOptions } from './api';
import { TailBuffer } from './capture';
import { HandlerFailure, RejectError } from './errors';
import { currentUser, resolveUser, type ResolvedUser, type UserLookupOptions } from './users';

export const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_CAPTURE_BYTES = 64 * 1024;
export const DEFAULT_KILL_GRACE_MS = 5000;
/** After the child exits, how long a background grandchild may keep its pipes open before we stop reading. */
const DRAIN_AFTER_EXIT_MS = 2000;
const GROUP_POLL_MS = 50;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface ProcessRunnerOptions {
  /** `handlers.allowShell`: without it no `shell: true` request is honoured. */
  allowShell: boolean;
  log?: HandlerLogger;
  userLookup?: UserLookupOptions;
}

interface Prepared {
  file: string;
  args: string[];
  uid: number | undefined;
  gid: number | undefined;
  env: Record<string, string>;
}

function checkArgv(argv: readonly string[]): void {
  if (argv.length === 0 || !argv[0]) throw new RejectError('empty command');
  for (const a of argv) {
    if (typeof a !== 'string') throw new RejectError('command arguments must be strings');
    if (a.includes('\0')) throw new RejectError('command arguments must not contain NUL');
  }
}

function buildEnv(user: ResolvedUser, extra: Record<string, string> | undefined): Record<string, string> {
  const env: Record<string, string> = { PATH: SAFE_PATH, HOME: user.home, LANG: 'C.UTF-8' };
  for (const [k, v] of Object.entries(extra ?? {})) {
    if (!ENV_NAME.test(k)) throw new RejectError(`environment variable name ${JSON.stringify(k)} is not valid`);
    if (typeof v !== 'string' || v.includes('\0')) throw new RejectError(`environment variable ${k} must be a string without NUL`);
    env[k] = v;
  }
  return env;
}

async function prepare(argv: readonly string[], o: RunProcessOptions, opts: ProcessRunnerOptions): Promise<Prepared> {
  checkArgv(argv);
  let cmd = [...argv];
  if (o.shell) {
    if (!opts.allowShell) throw new RejectError('shell commands are not allowed by the agent configuration (handlers.allowShell)');
    // Extra argv entries become $1, $2… of the script rather than being pasted into it.
    cmd = ['/bin/sh', '-c', argv[0] ?? '', 'sh', ...argv.slice(1)];
  }
  const self = currentUser();
  const target = o.runAsUser === undefined ? undefined : await resolveUser(o.runAsUser, opts.userLookup);
  if (target && target.uid !== self.uid && self.uid !== 0) {
    throw new RejectError(`cannot run as ${o.runAsUser}: the agent runs as ${self.name} and may not switch users`);
  }
  const switching = target !== undefined && (target.uid !== self.uid || target.gid !== self.gid);
  return {
    file: cmd[0] ?? '',
    args: cmd.slice(1),
    uid: switching ? target.uid : undefined,
    gid: switching ? target.gid : undefined,
    env: buildEnv(target ?? self, o.env),
  };
}

const O_CLOEXEC = 0o2000000;

/**
 * Descriptors this process inherited without close-on-exec (from whoever started the agent).
 * Node closes only its own; these would leak into every child, so each is covered with /dev/null.
 */
export function inheritableFds(): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc/self/fd');
  } catch {
    return []; // no /proc: nothing we can see to cover
  }
  return names.map(Number).filter((fd) => Number.isInteger(fd) && fd >= 3 && !closesOnExec(fd));
}

function closesOnExec(fd: number): boolean {
  try {
    const m = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    return m === null || (parseInt(m[1] ?? '0', 8) & O_CLOEXEC) !== 0;
  } catch {
    return true; // closed while we looked (e.g. the directory handle of the listing itself)
  }
}

function stdioFor(input: boolean, nullFd: number | undefined, leaked: number[]): StdioOptions {
  const stdio: Array<'pipe' | 'ignore' | number> = [input ? 'pipe' : 'ignore', 'pipe', 'pipe'];
  if (nullFd === undefined) return stdio;
  for (const fd of leaked) {
    while (stdio.length < fd) stdio.push('ignore');
    stdio[fd] = nullFd;
  }
  return stdio;
}

function signalGroup(pgid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to the group, then SIGKILL to whatever of it is still there after the grace period. */
export async function terminateGroup(pgid: number, graceMs: number): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  const deadline = monotonicMs() + graceMs;
  while (monotonicMs() < deadline) {
    await delay(Math.min(GROUP_POLL_MS, Math.max(1, deadline - monotonicMs())));
    if (!signalGroup(pgid, 0)) return;
  }
  signalGroup(pgid, 'SIGKILL');
}

export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `killed by ${signal}`;
  return `exit ${code ?? 'unknown'}`;
}

function spawnAndCollect(argv0: string, p: Prepared, o: RunProcessOptions): Promise<ProcessResult> {
  const max = o.maxCaptureBytes ?? DEFAULT_CAPTURE_BYTES;
  const grace = o.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const leaked = inheritableFds();
  const nullFd = leaked.length > 0 ? openSync('/dev/null', 'r+') : undefined;
  return new Promise<ProcessResult>((resolve, reject) => {
    // node:child_process loads with the first handler process, not at start-up.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy loading is the point
    const child = (require('node:child_process') as typeof ChildProcess).spawn(p.file, p.args, {
      cwd: o.cwd,
      env: p.env,
      uid: p.uid,
      gid: p.gid,
      detached: true,
      stdio: stdioFor(o.input !== undefined, nullFd, leaked),
    });
    if (nullFd !== undefined) closeSync(nullFd);
    const out = new TailBuffer(max);
    const err = new TailBuffer(max);
    let timedOut = false;
    let aborted = false;
    let settled = false;
    let killing: Promise<void> | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    const kill = (): void => {
      if (child.pid !== undefined) killing ??= terminateGroup(child.pid, grace);
    };
    const timer = o.timeoutMs === undefined ? undefined : setTimeout(() => ((timedOut = true), kill()), o.timeoutMs);
    const onAbort = (): void => {
      aborted = true;
      kill();
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = (): void => {
      settled = true;
      if (timer) clearTimeout(timer);
      if (drainTimer) clearTimeout(drainTimer);
      o.signal?.removeEventListener('abort', onAbort);
    };
    child.stdout?.on('data', (c: Buffer) => (out.push(c), o.onOutput?.('stdout', c)));
    child.stderr?.on('data', (c: Buffer) => (err.push(c), o.onOutput?.('stderr', c)));
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // a child that ignores its input closes the pipe early
      child.stdin.end(o.input);
    }
    child.on('error', (e) => {
      if (settled) return;
      cleanup();
      if (child.pid !== undefined) kill();
      reject(new HandlerFailure(`cannot start ${argv0}: ${e.message}`, { cause: e }));
    });
    child.on('exit', () => {
      drainTimer = setTimeout(() => (child.stdout?.destroy(), child.stderr?.destroy()), DRAIN_AFTER_EXIT_MS);
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      cleanup();
      void (killing ?? Promise.resolve()).then(() =>
        resolve({
          exitCode: signal ? null : code,
          signal,
          description: describeExit(code, signal),
          stdout: out.text(),
          stderr: err.text(),
          truncated: out.truncated || err.truncated,
          timedOut,
          aborted,
        }),
      );
    });
  });
}

/** The safe process helper (`ctx.exec`). */
export function createProcessRunner(opts: ProcessRunnerOptions): ProcessRunner {
  return {
    async run(argv: readonly string[], o: RunProcessOptions = {}): Promise<ProcessResult> {
      const p = await prepare(argv, o, opts);
      if (o.signal?.aborted) throw new AbortedError(`running ${argv[0] ?? ''}`, o.signal.reason);
      opts.log?.debug('spawning process', { argv0: p.file, args: p.args.length, uid: p.uid });
      const result = await spawnAndCollect(argv[0] ?? '', p, o);
      opts.log?.debug('process finished', { argv0: p.file, result: result.description, timedOut: result.timedOut });
      return result;
    },
  };
}
