/** Where provisioning and certificate rotation stand, for `status` (docs/ARCHITECTURE.md §8). */
import type { AgentConfig } from '../config/types';
import { identityPaths, readIdentity } from '../identity/layout';
import { readProgress } from '../identity/progress';
import { readRotation } from '../identity/rotation-files';

export interface ProvisioningView {
  state: 'provisioned' | 'in-progress' | 'not-provisioned';
  thingName?: string;
  certificateId?: string;
  templateName: string;
  provisionedAt?: string;
  /** The step reached: start, certificate (issued, not registered), registered (to be installed). */
  step?: string;
  attempts?: number;
  lastError?: { at: string; message: string; permanent: boolean };
  rotation?: { phase: string; jobId: string; oldCertificateId: string; newCertificateId?: string };
}

export async function provisioningView(cfg: AgentConfig): Promise<ProvisioningView> {
  const paths = identityPaths(cfg.stateDirectory);
  const templateName = cfg.provisioning?.templateName ?? '';
  const identity = await readIdentity(paths);
  const rotation = await readRotation(paths);
  const rot = rotation ? { rotation: { phase: rotation.phase, jobId: rotation.jobId, oldCertificateId: rotation.oldCertificateId, ...(rotation.newCertificateId ? { newCertificateId: rotation.newCertificateId } : {}) } } : {};
  if (identity) {
    return { state: 'provisioned', thingName: identity.thingName, certificateId: identity.certificateId, templateName: identity.templateName, provisionedAt: identity.provisionedAt, ...rot };
  }
  const progress = await readProgress(paths);
  if (!progress) return { state: 'not-provisioned', templateName };
  return {
    state: 'in-progress',
    templateName,
    step: progress.step,
    attempts: progress.attempts,
    ...(progress.certificateId ? { certificateId: progress.certificateId } : {}),
    ...(progress.lastError ? { lastError: progress.lastError } : {}),
  };
}

export function provisioningLines(v: ProvisioningView): string[] {
  const out: string[] = [];
  if (v.state === 'provisioned') out.push(`provisioning: provisioned as ${v.thingName} with certificate ${v.certificateId} (template ${v.templateName}, ${v.provisionedAt})`);
  else if (v.state === 'not-provisioned') out.push(`provisioning: not provisioned yet (template ${v.templateName}); the agent provisions at start`);
  else out.push(`provisioning: in progress, step ${v.step}${v.certificateId ? ` (certificate ${v.certificateId})` : ''}, attempt ${v.attempts ?? 0}`);
  if (v.lastError) out.push(`provisioning: PROBLEM ${v.lastError.message} (at ${v.lastError.at}${v.lastError.permanent ? '; a configuration or template problem' : ''})`);
  if (v.rotation) out.push(`rotation: in progress (job ${v.rotation.jobId}, ${v.rotation.phase}), replacing ${v.rotation.oldCertificateId}`);
  return out;
}
