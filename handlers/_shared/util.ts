/** Small helpers the built-in handlers share (a folder starting with '_' is never loaded as a handler). */
import { readFile } from 'node:fs/promises';
import type { HandlerContext, ProcessResult, StatusDetails } from '../../src/handlers/api';

export const DETAIL_MAX = 1024;
export const DEFAULT_BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The end of an output, without control characters, short enough for a status detail value. */
export function tail(text: string, max = DETAIL_MAX): string {
  const clean = text.replace(/\p{C}+/gu, ' ').trim();
  const chars = Array.from(clean);
  return chars.length > max ? chars.slice(chars.length - max).join('') : clean;
}

/** exitStatus plus the non-empty output tails: what an operator needs to see why a command failed. */
export function processDetails(r: ProcessResult, extra: StatusDetails = {}): StatusDetails {
  const d: StatusDetails = { ...extra, exitStatus: r.timedOut ? `${r.description} (timed out)` : r.description };
  const out = tail(r.stdout);
  const err = tail(r.stderr);
  if (out) d.stdout = out;
  if (err) d.stderr = err;
  return d;
}

/** A list given as a JSON array or as one space-separated string (the AWS managed templates pass the latter). */
export function wordList(v: unknown): string[] | undefined {
  if (typeof v === 'string') return v.split(/\s+/).filter((w) => w.length > 0);
  if (Array.isArray(v) && v.every((w) => typeof w === 'string')) return v.flatMap((w: string) => w.split(/\s+/)).filter((w) => w.length > 0);
  return undefined;
}

export function optString(options: Readonly<Record<string, unknown>>, key: string, fallback: string): string {
  const v = options[key];
  return typeof v === 'string' && v.length > 0 ? v : fallback;
}

export function optNumber(options: Readonly<Record<string, unknown>>, key: string, fallback: number): number {
  const v = options[key];
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fallback;
}

export function optArgv(options: Readonly<Record<string, unknown>>, key: string, fallback: string[]): string[] {
  const v = options[key];
  return Array.isArray(v) && v.length > 0 && v.every((a) => typeof a === 'string') ? (v as string[]) : fallback;
}

/** `runAsUser` as a job document gives it; empty means "not set" (managed templates leave it empty). */
export function runAsUserOf(doc: Record<string, unknown>): string | undefined {
  return typeof doc.runAsUser === 'string' && doc.runAsUser.length > 0 ? doc.runAsUser : undefined;
}

export function checkRunAsUser(doc: Record<string, unknown>): string | undefined {
  if (doc.runAsUser !== undefined && typeof doc.runAsUser !== 'string') return 'runAsUser must be a string';
  return undefined;
}

export function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error(`aborted: ${String(signal.reason)}`);
}

/** Resolves never; rejects when `signal` aborts. Used by handlers whose success is decided after a restart. */
export function untilAborted(signal: AbortSignal, ms: number): Promise<'timeout'> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve('timeout');
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export async function readBootId(ctx: HandlerContext<unknown>): Promise<string> {
  return (await readFile(optString(ctx.options, 'bootIdPath', DEFAULT_BOOT_ID_PATH), 'utf8')).trim();
}
