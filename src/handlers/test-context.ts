/**
 * A HandlerContext for tests: no MQTT, no agent. It records what the handler reports so a test
 * can assert on it, and runs child processes with the real process helper.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { directDialer } from '../net';
import type { HandlerContext, HandlerLogger, HandlerResult, IdentityControl, JobHandler, JobInfo, NetworkAccess, ProcessRunner, StatusDetails } from './api';
import { createProcessRunner } from './process';

export interface TestContextOptions<Doc> {
  document: Doc;
  /** `handlers.options[name]` as the agent would pass it. */
  options?: Record<string, unknown>;
  /** What an earlier run saved (to test `resume`). */
  savedState?: Record<string, unknown>;
  /** Defaults to a fresh AbortController's signal; see `abort()`. */
  signal?: AbortSignal;
  workDir?: string;
  job?: Partial<JobInfo>;
  /** Let the process helper honour `shell: true` (the agent's `handlers.allowShell`). */
  allowShell?: boolean;
  exec?: ProcessRunner;
  /** How the handler reaches the network (default: directly). */
  network?: NetworkAccess;
  /** The identity capability (`ctx.identity`), for handlers that use it. */
  identity?: IdentityControl;
}

export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields?: Record<string, unknown>;
}

export interface TestContext<Doc> extends HandlerContext<Doc> {
  /** Every `progress()` call, in order. */
  readonly progressCalls: StatusDetails[];
  /** Every `saveState()` call, in order; the last one is what a restarted agent would see. */
  readonly savedStates: Record<string, unknown>[];
  readonly logs: LogRecord[];
  /** Fires `signal` (only when the test did not pass its own). */
  abort(reason?: unknown): void;
}

function recordingLogger(logs: LogRecord[]): HandlerLogger {
  const at = (level: LogRecord['level']) => (msg: string, fields?: Record<string, unknown>) => void logs.push({ level, msg, fields });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export function createTestContext<Doc = unknown>(opts: TestContextOptions<Doc>): TestContext<Doc> {
  const controller = new AbortController();
  const progressCalls: StatusDetails[] = [];
  const savedStates: Record<string, unknown>[] = [];
  const logs: LogRecord[] = [];
  const job: JobInfo = { jobId: 'test-job', executionNumber: 1, versionNumber: 1, queuedAt: 0, thingName: 'test-thing', ...opts.job };
  const ctx: TestContext<Doc> = {
    signal: opts.signal ?? controller.signal,
    log: recordingLogger(logs),
    progress: (details) => void progressCalls.push({ ...details }),
    job,
    document: opts.document,
    workDir: opts.workDir ?? mkdtempSync(path.join(os.tmpdir(), 'handler-test-')),
    exec: opts.exec ?? createProcessRunner({ allowShell: opts.allowShell ?? false }),
    saveState: (state) => {
      // A deep copy, as a durable store would hand back after a restart.
      const copy = JSON.parse(JSON.stringify(state)) as Record<string, unknown>;
      savedStates.push(copy);
      return Promise.resolve();
    },
    savedState: opts.savedState,
    options: Object.freeze({ ...opts.options }),
    network: opts.network ?? directDialer,
    ...(opts.identity ? { identity: opts.identity } : {}),
    progressCalls,
    savedStates,
    logs,
    abort: (reason?: unknown) => controller.abort(reason),
  };
  return ctx;
}

export type TestOutcome = { rejected: string } | { result: HandlerResult };

/** validate → run, as the agent does: a validation reason (or a throw from validate) is a rejection. */
export async function runTestJob<Doc>(handler: JobHandler<Doc>, ctx: HandlerContext<Doc>): Promise<TestOutcome> {
  try {
    const reason = await handler.validate?.(ctx.document);
    if (typeof reason === 'string') return { rejected: reason };
  } catch (err) {
    return { rejected: err instanceof Error ? err.message : String(err) };
  }
  return { result: await handler.run(ctx) };
}
