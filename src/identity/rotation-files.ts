/**
 * The on-disk side of a certificate rotation (docs/ARCHITECTURE.md §8) and its recovery. The
 * identity files are switched only after copies of the old ones are on disk, and identity.json
 * naming the new certificate is the one commit point, so a kill -9 anywhere leaves either the old
 * identity (restored from its copies at the next start) or the new, committed one.
 */
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
}

export async function readRotation(paths: IdentityPaths): Promise<RotationRecord | undefined> {
  const v = (await readJson(paths.rotation)) as RotationRecord | undefined;
  return v && typeof v === 'object' && typeof v.phase === 'string' ? v : undefined;
}

export async function writeRotation(paths: IdentityPaths, r: RotationRecord): Promise<void> {
  await writeJson(paths.rotation, r);
}

/** Copies of the identity in use, then the new files in its place (each step durable). */
export async function switchToNext(paths: IdentityPaths, r: RotationRecord): Promise<void> {
  await copyDurably(paths.certificateFile, paths.previousCertificate, 0o644);
  await copyDurably(paths.privateKeyFile, paths.previousKey, 0o600);
  await writeRotation(paths, { ...r, phase: 'switching' });
  await renameDurably(paths.nextKey, paths.privateKeyFile);
  await renameDurably(paths.nextCertificate, paths.certificateFile);
}

/** The old identity back in place (from its copies), the rotation forgotten. */
export async function restorePrevious(paths: IdentityPaths): Promise<void> {
  if (await exists(paths.previousKey)) await renameDurably(paths.previousKey, paths.privateKeyFile);
  if (await exists(paths.previousCertificate)) await renameDurably(paths.previousCertificate, paths.certificateFile);
  await removeDurably(paths.nextKey, paths.nextCertificate, paths.rotation);
}

/** Commit: identity.json names the new certificate; then the old key is destroyed. */
export async function commitNext(paths: IdentityPaths, identity: IdentityRecord, newCertificateId: string): Promise<IdentityRecord> {
  const next: IdentityRecord = { ...identity, certificateId: newCertificateId, previousCertificateId: identity.certificateId, provisionedAt: new Date().toISOString() };
  await writeJson(paths.record, next, 0o644);
  await removeDurably(paths.previousKey, paths.previousCertificate, paths.nextKey, paths.nextCertificate, paths.rotation);
  return next;
}

export type RecoveryOutcome = 'committed' | 'rolled-back' | 'abandoned';

/**
 * Settle a rotation a crash interrupted, before anything connects: committed when identity.json
 * already names the new certificate (only the clean-up was missing), else the old identity is put
 * back. Undefined when no rotation was in flight.
 */
export async function recoverRotation(paths: IdentityPaths): Promise<RecoveryOutcome | undefined> {
  const r = await readRotation(paths);
  if (r === undefined) return undefined;
  const identity = await readIdentity(paths);
  if (identity && r.newCertificateId !== undefined && identity.certificateId === r.newCertificateId) {
    await removeDurably(paths.previousKey, paths.previousCertificate, paths.nextKey, paths.nextCertificate, paths.rotation);
    return 'committed';
  }
  if (r.phase === 'switching') {
    await restorePrevious(paths);
    return 'rolled-back';
  }
  await removeDurably(paths.previousKey, paths.previousCertificate, paths.nextKey, paths.nextCertificate, paths.rotation);
  return 'abandoned';
}
