/**
 * provisioning.json: how far fleet provisioning got, so a restart at any point resumes without
 * minting a certificate it does not need (docs/ARCHITECTURE.md §8), and so `status` can say where
 * provisioning stands and what is wrong.
 */
import type { IdentityPaths } from './layout';
import { readJson, writeJson } from './layout';

export interface ProvisioningProgress {
  /** start: nothing issued yet; certificate: issued, not registered; registered: to be installed. */
  step: 'start' | 'certificate' | 'registered';
  templateName: string;
  certificateId?: string;
  certificatePem?: string;
  ownershipToken?: string;
  /** When the ownership token was issued (ms since epoch); AWS lets it live one hour. */
  tokenIssuedAt?: number;
  key?: 'file' | 'aws' | 'pkcs11';
  thingName?: string;
  deviceConfiguration?: Record<string, string>;
  /** The last failure, for status and STATUS. */
  lastError?: { at: string; message: string; permanent: boolean };
  attempts: number;
}

/** AWS deletes an unregistered certificate when its token expires after 1 h; stop using it well before. */
export const TOKEN_USABLE_MS = 55 * 60_000;

export async function readProgress(paths: IdentityPaths): Promise<ProvisioningProgress | undefined> {
  const v = await readJson(paths.progress);
  if (typeof v !== 'object' || v === null) return undefined;
  const p = v as ProvisioningProgress;
  return p.step === 'start' || p.step === 'certificate' || p.step === 'registered' ? p : undefined;
}

export async function writeProgress(paths: IdentityPaths, p: ProvisioningProgress): Promise<void> {
  await writeJson(paths.progress, p);
}

export function tokenUsable(p: ProvisioningProgress, now: number): boolean {
  return p.ownershipToken !== undefined && p.tokenIssuedAt !== undefined && now - p.tokenIssuedAt < TOKEN_USABLE_MS;
}
