/** The writer's hold on a state directory: its lock, and the journal open for appending. */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { removeStaleTemps } from '../lib/fsutil';
import { JOURNAL_FILE, SNAPSHOT_FILE } from './journal-file';
import { acquireLock } from './lock';

export interface Io {
  handle: fsp.FileHandle;
  release: () => Promise<void>;
}

/** Lock the directory and open its journal for appending. */
export async function openIo(dir: string): Promise<Io> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const release = await acquireLock(dir);
  try {
    await removeStaleTemps(dir, SNAPSHOT_FILE);
    return { handle: await fsp.open(path.join(dir, JOURNAL_FILE), 'a', 0o600), release };
  } catch (err) {
    await release().catch(() => undefined);
    throw err;
  }
}
