/**
 * Storage trouble as a state: a full flash (ENOSPC, EDQUOT), a file system remounted read-only
 * after an error (EROFS) or a failing medium (EIO) is something the device recovers from — an
 * operator frees space, a remount succeeds — so the store reports it, keeps what it must in memory
 * and retries, instead of failing for good.
 */
import { AgentError, errorMessage } from '../lib/errors';

/** errno codes that mean "the state directory cannot be written now" (and may be writable later). */
const STORAGE_CODES: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO', 'EFBIG', 'ENOMEM', 'EBADF', 'EPERM', 'EACCES']);

const EXPLAIN: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'the file system is read-only',
  EIO: 'input/output error (failing medium?)',
  EFBIG: 'file too large',
};

export function errnoOf(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'EUNKNOWN';
}

/** True for errors a later attempt may not meet (the directory may become writable again). */
export function isStorageError(err: unknown): boolean {
  return STORAGE_CODES.has(errnoOf(err));
}

export interface StorageProblem {
  /** errno code, e.g. ENOSPC. */
  code: string;
  /** What failed and why, for the log and for systemd's STATUS. */
  message: string;
  /** Wall-clock time it started (display only). */
  since: number;
}

export type StoreHealth = { writable: true } | ({ writable: false } & StorageProblem);

export function describeProblem(dir: string, what: string, err: unknown, since: number): StorageProblem {
  const code = errnoOf(err);
  const why = EXPLAIN[code] ?? errorMessage(err);
  return { code, message: `${what} in ${dir} failed: ${code} (${why})`, since };
}

/** A write the journal cannot take now; the caller may try again once the store is writable. */
export class StorageUnavailableError extends AgentError {
  readonly errno: string;
  constructor(problem: StorageProblem) {
    super('StorageUnavailable', `the state directory cannot be written: ${problem.message}`, { retryable: true });
    this.errno = problem.code;
  }
}
