/**
 * One writer per state directory: two agents appending to one journal would interleave records
 * and each would believe its own view. A lock file holds the owner's pid; a lock whose owner is
 * gone (kill -9) or that was taken before the last reboot (power loss) is taken over.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { AgentError } from '../lib/errors';
import { fsyncDir } from '../lib/fsutil';

export const LOCK_FILE = 'agent.lock';

export class StoreLockedError extends AgentError {
  constructor(dir: string, pid: number) {
    super('StoreLocked', `state directory ${dir} is in use by process ${pid}`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Differs after every reboot: a pid recorded before a power cut says nothing about today's pids. */
async function bootId(): Promise<string> {
  return (await fsp.readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
}

async function readOwner(file: string, boot: string): Promise<number | undefined> {
  try {
    const [pidText, ownerBoot] = (await fsp.readFile(file, 'utf8')).trim().split(/\s+/);
    const pid = Number.parseInt(pidText ?? '', 10);
    // Embedded boots are deterministic enough that our old pid may now belong to another process.
    if (ownerBoot !== undefined && ownerBoot !== boot) return undefined;
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Take the directory's lock; resolves to a release function. */
export async function acquireLock(dir: string): Promise<() => Promise<void>> {
  const file = path.join(dir, LOCK_FILE);
  const boot = await bootId();
  for (let attempt = 0; attempt < 3; attempt++) {
    let created = false;
    try {
      const handle = await fsp.open(file, 'wx', 0o600);
      created = true;
      try {
        await handle.writeFile(`${process.pid} ${boot}\n`);
      } finally {
        await handle.close();
      }
      await fsyncDir(dir);
      return async () => {
        await fsp.rm(file, { force: true });
      };
    } catch (err) {
      // A full disk creates the file but not its content: an empty lock would look stale to the next taker.
      if (created) await fsp.rm(file, { force: true }).catch(() => undefined);
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readOwner(file, boot);
    // Our own pid: this process already opened the store (a second writer here is just as wrong).
    if (owner !== undefined && (owner === process.pid || alive(owner))) throw new StoreLockedError(dir, owner);
    // Stale (owner died) or unreadable (died while writing it): remove and try again.
    await fsp.rm(file, { force: true });
  }
  throw new AgentError('StoreLocked', `could not take the lock on ${dir}`);
}
