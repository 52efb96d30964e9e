/** Durable file steps on the identity directory (its layout is src/config/identity-paths.ts). */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { identityPaths, parseIdentity } from '../config/identity-paths';
import type { IdentityPaths, IdentityRecord } from '../config/identity-paths';
import { atomicWriteFile, fsyncDir } from '../lib/fsutil';

export { identityPaths, parseIdentity, type IdentityPaths, type IdentityRecord };

/** The complete identity, or undefined (none yet, or unreadable: then provisioning starts again). */
export async function readIdentity(paths: IdentityPaths): Promise<IdentityRecord | undefined> {
  const text = await fsp.readFile(paths.record, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseIdentity(text);
}

/** The identity directory: 0700, since it holds the device's private key. */
export async function ensureIdentityDir(paths: IdentityPaths): Promise<void> {
  await fsp.mkdir(paths.dir, { recursive: true, mode: 0o700 });
  await fsp.chmod(paths.dir, 0o700);
}

export async function writeJson(file: string, value: unknown, mode = 0o600): Promise<void> {
  await atomicWriteFile(file, `${JSON.stringify(value, null, 2)}\n`, mode);
}

export async function readJson(file: string): Promise<unknown> {
  const text = await fsp.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // A torn file cannot exist (atomic writes); an edited one is treated as absent.
    return undefined;
  }
}

export async function removeDurably(...files: string[]): Promise<void> {
  for (const f of files) await fsp.rm(f, { force: true });
  const dirs = new Set(files.map((f) => path.dirname(f)));
  for (const d of dirs) await fsyncDir(d).catch(() => undefined);
}

export async function exists(file: string): Promise<boolean> {
  return fsp.access(file).then(() => true, () => false);
}

/** Durable rename within the identity directory. */
export async function renameDurably(from: string, to: string): Promise<void> {
  await fsp.rename(from, to);
  await fsyncDir(path.dirname(to));
}

/** Durable copy (write, fsync, rename) keeping the source's secrecy. */
export async function copyDurably(from: string, to: string, mode: number): Promise<void> {
  await atomicWriteFile(to, await fsp.readFile(from), mode);
}
