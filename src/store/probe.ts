/**
 * What `status` can tell about the state directory from outside the agent: whether it can be
 * written and how much room is left. The agent's own view of it is in its log and systemd's STATUS;
 * on a full or read-only directory no file could carry it, so `status` looks for itself.
 */
import { constants, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { errnoOf } from './health';

export interface StorageView {
  writable: boolean;
  /** errno-style code of the problem: ENOSPC, EROFS, EACCES… */
  code?: string;
  freeBytes?: number;
  totalBytes?: number;
  summary: string;
}

/** Below one block of room the next journal record cannot be written. */
const MIN_FREE_BYTES = 4096;

async function nearestExisting(dir: string): Promise<string> {
  let probe = dir;
  for (;;) {
    if (await fsp.stat(probe).then(() => true, () => false)) return probe;
    const parent = path.dirname(probe);
    if (parent === probe) return probe;
    probe = parent;
  }
}

export async function probeStorage(dir: string): Promise<StorageView> {
  const where = await nearestExisting(dir);
  let freeBytes: number | undefined;
  let totalBytes: number | undefined;
  try {
    const st = await fsp.statfs(where);
    freeBytes = st.bavail * st.bsize;
    totalBytes = st.blocks * st.bsize;
  } catch {
    // statfs unavailable: the access check below still tells read-only from writable.
  }
  const room = freeBytes === undefined ? '' : ` (${Math.floor(freeBytes / 1024)} KiB free of ${Math.floor((totalBytes ?? 0) / 1024)} KiB)`;
  try {
    await fsp.access(where, constants.W_OK);
  } catch (err) {
    const code = errnoOf(err);
    const why = code === 'EROFS' ? 'read-only file system' : 'not writable by this user';
    return { writable: false, code, ...(freeBytes === undefined ? {} : { freeBytes, totalBytes }), summary: `${code}: ${where}: ${why}${room}` };
  }
  if (freeBytes !== undefined && freeBytes < MIN_FREE_BYTES) {
    return { writable: false, code: 'ENOSPC', freeBytes, ...(totalBytes === undefined ? {} : { totalBytes }), summary: `ENOSPC: no space left for ${dir}${room}` };
  }
  return { writable: true, ...(freeBytes === undefined ? {} : { freeBytes, totalBytes }), summary: `ok${room}` };
}
