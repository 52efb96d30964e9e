/**
 * Durable file primitives. A rename is only durable once the directory entry is on disk, and the
 * data is only durable once the file itself was fsynced *before* the rename — otherwise a power cut
 * can leave the new name pointing at an empty or partial file (ext4 delayed allocation).
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

/** fsync a directory so that entries created, renamed or removed in it survive power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replace `file` with `data` atomically: readers see the old content or the new one, never a mix,
 * even after kill -9 or power loss at any point.
 */
export async function atomicWriteFile(file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = path.dirname(file);
  // A unique temporary name in the same directory: rename(2) is atomic only within one filesystem.
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fsp.open(tmp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/** Append `data` to an open file and wait until it is on stable storage. */
export async function appendDurable(handle: fsp.FileHandle, data: string | Uint8Array): Promise<void> {
  await handle.appendFile(data);
  await handle.datasync();
}

/** Remove temporary files an interrupted atomicWriteFile left behind in `dir`. */
export async function removeStaleTemps(dir: string, base: string): Promise<void> {
  const names = await fsp.readdir(dir);
  const prefix = `.${base}.`;
  await Promise.all(
    names.filter((n) => n.startsWith(prefix) && n.endsWith('.tmp')).map((n) => fsp.rm(path.join(dir, n), { force: true })),
  );
}
