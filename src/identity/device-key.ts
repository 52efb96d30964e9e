/**
 * The device's new private key while it is being certified: `pending.key` (0600, in the 0700
 * identity directory) until the identity is installed, then `private.key`. A pending key is reused
 * after a restart, so a resumed provisioning never needs a second key.
 */
import { promises as fsp } from 'node:fs';
import { atomicWriteFile } from '../lib/fsutil';
import { csrFor, generateKeyPem } from './keys';
import type { IdentityPaths } from './layout';
import { ensureIdentityDir, exists, renameDurably } from './layout';

/** The pending key (made now if there is none). */
export async function pendingKey(paths: IdentityPaths, file = paths.pendingKey): Promise<string> {
  await ensureIdentityDir(paths);
  const have = await fsp.readFile(file, 'utf8').catch(() => undefined);
  if (have !== undefined && have.includes('PRIVATE KEY')) return have;
  const pem = await generateKeyPem();
  await atomicWriteFile(file, pem, 0o600);
  return pem;
}

export async function pendingCsr(paths: IdentityPaths, commonName: string, file = paths.pendingKey): Promise<string> {
  return csrFor(await pendingKey(paths, file), commonName);
}

/** A key AWS made (CreateKeysAndCertificate): kept as the pending key until installed. */
export async function storeAwsKey(paths: IdentityPaths, pem: string): Promise<void> {
  await ensureIdentityDir(paths);
  await atomicWriteFile(paths.pendingKey, pem, 0o600);
}

/** pending.key → private.key; already done when only private.key is there (a resumed install). */
export async function installPendingKey(paths: IdentityPaths): Promise<void> {
  if (await exists(paths.pendingKey)) await renameDurably(paths.pendingKey, paths.privateKeyFile);
}
