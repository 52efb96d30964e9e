/**
 * The on-disk side of a certificate rotation (docs/ARCHITECTURE.md §8) and its recovery. The
 * identity files are switched only after copies of the old ones are on disk, and identity.json
 * naming the new certificate is the one commit point, so a kill -9 anywhere leaves either the old
 * identity (restored from its copies at the next start) or the new, committed one.
 *
 * The key is a file (private.key) or, with pkcs11, a key object in the token named by its label;
 * then the files switched are key-label (what the transport connects with) and its copies, and the
 * token objects are destroyed only when no file can point at them any more: the new one on roll
 * back, the old one after the commit.
 */
import { atomicWriteFile } from '../lib/fsutil';
import type { IdentityPaths, IdentityRecord } from './layout';
import { copyDurably, exists, readIdentity, readJson, removeDurably, renameDurably, writeJson } from './layout';

export interface RotationRecord {
  /** requested: new key, nothing issued; registered: new certificate on disk; switching: files being swapped. */
  phase: 'requested' | 'registered' | 'switching';
  jobId: string;
  templateName: string;
  oldCertificateId: string;
  newCertificateId?: string;
  startedAt: string;
  /** With pkcs11: the token key labels, old (in use) and new (made for this rotation). */
  token?: { oldLabel: string; newLabel: string };
}

/** The three places a key lives during a rotation: in use, being certified, the old one kept. */
interface KeySlot {
  current: string;
  next: string;
  previous: string;
}

/** Destroys a token key by label (pkcs11); given to the steps that may end a key's life. */
export type TokenKeyRemover = (label: string) => Promise<void>;

function slotOf(paths: IdentityPaths, r: RotationRecord | undefined): KeySlot {
  return r?.token !== undefined
    ? { current: paths.keyLabel, next: paths.nextKeyLabel, previous: paths.previousKeyLabel }
    : { current: paths.privateKeyFile, next: paths.nextKey, previous: paths.previousKey };
}

const everyTemp = (paths: IdentityPaths): string[] => [
  paths.previousKey,
  paths.previousCertificate,
  paths.nextKey,
  paths.nextCertificate,
  paths.previousKeyLabel,
  paths.nextKeyLabel,
  paths.rotation,
];

export async function readRotation(paths: IdentityPaths): Promise<RotationRecord | undefined> {
  const v = (await readJson(paths.rotation)) as RotationRecord | undefined;
  return v && typeof v === 'object' && typeof v.phase === 'string' ? v : undefined;
}

export async function writeRotation(paths: IdentityPaths, r: RotationRecord): Promise<void> {
  await writeJson(paths.rotation, r);
}

/** Copies of the identity in use, then the new files in its place (each step durable). */
export async function switchToNext(paths: IdentityPaths, r: RotationRecord): Promise<void> {
  const slot = slotOf(paths, r);
  await copyDurably(paths.certificateFile, paths.previousCertificate, 0o644);
  // Before any rotation the label in use is only in the configuration: write it down to copy it.
  if (r.token !== undefined && !(await exists(slot.current))) await atomicWriteFile(slot.current, `${r.token.oldLabel}\n`, 0o600);
  await copyDurably(slot.current, slot.previous, 0o600);
  await writeRotation(paths, { ...r, phase: 'switching' });
  await renameDurably(slot.next, slot.current);
  await renameDurably(paths.nextCertificate, paths.certificateFile);
}

/** The old identity back in place (from its copies), the new token key destroyed, the rotation forgotten. */
export async function restorePrevious(paths: IdentityPaths, r: RotationRecord | undefined, remove?: TokenKeyRemover): Promise<void> {
  const slot = slotOf(paths, r);
  if (await exists(slot.previous)) await renameDurably(slot.previous, slot.current);
  if (await exists(paths.previousCertificate)) await renameDurably(paths.previousCertificate, paths.certificateFile);
  if (r?.token !== undefined && remove !== undefined) await remove(r.token.newLabel);
  await removeDurably(...everyTemp(paths));
}

/** Commit: identity.json names the new certificate; then the old key is destroyed. */
export async function commitNext(paths: IdentityPaths, identity: IdentityRecord, r: RotationRecord, remove?: TokenKeyRemover): Promise<IdentityRecord> {
  const next: IdentityRecord = {
    ...identity,
    certificateId: r.newCertificateId ?? '',
    previousCertificateId: identity.certificateId,
    provisionedAt: new Date().toISOString(),
    ...(r.token !== undefined ? { keyLabel: r.token.newLabel } : {}),
  };
  await writeJson(paths.record, next, 0o644);
  await finishCommitted(paths, r, remove);
  return next;
}

async function finishCommitted(paths: IdentityPaths, r: RotationRecord, remove?: TokenKeyRemover): Promise<void> {
  if (r.token !== undefined && remove !== undefined) await remove(r.token.oldLabel);
  await removeDurably(...everyTemp(paths));
}

export type RecoveryOutcome = 'committed' | 'rolled-back' | 'abandoned';

/**
 * Settle a rotation a crash interrupted, before anything connects: committed when identity.json
 * already names the new certificate (only the clean-up was missing), else the old identity is put
 * back. Undefined when no rotation was in flight. `remove` destroys token keys (pkcs11); without it
 * a token rotation's leftover key object stays in the token.
 */
export async function recoverRotation(paths: IdentityPaths, remove?: TokenKeyRemover): Promise<RecoveryOutcome | undefined> {
  const r = await readRotation(paths);
  if (r === undefined) return undefined;
  const identity = await readIdentity(paths);
  if (identity && r.newCertificateId !== undefined && identity.certificateId === r.newCertificateId) {
    await finishCommitted(paths, r, remove);
    return 'committed';
  }
  await restorePrevious(paths, r, remove);
  return r.phase === 'switching' ? 'rolled-back' : 'abandoned';
}
