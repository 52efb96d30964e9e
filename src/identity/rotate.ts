/**
 * Certificate rotation by job, the way AWS recommends (docs/ARCHITECTURE.md §8): a new key on the
 * device → CreateCertificateFromCsr on the live connection → RegisterThing with the rotation
 * template (ThingName + the configured parameters) → reconnect with the new identity and prove it
 * with a Jobs request → commit, or roll back to the old identity. Retiring the old certificate in
 * the cloud is the operator's (UpdateCertificate, DetachThingPrincipal, DeleteCertificate).
 */
import type { AgentConfig } from '../config/types';
import { AgentError, errorMessage } from '../lib/errors';
import type { Logger } from '../lib/log';
import type { Transport } from '../transport/types';
import { ProvisioningClient } from './api';
import { pendingCsr } from './device-key';
import { IdentityError } from './errors';
import type { IdentityRecord } from './layout';
import { identityPaths, readIdentity, removeDurably } from './layout';
import { resolveParameters } from './parameters';
import { atomicWriteFile } from '../lib/fsutil';
import { commitNext, restorePrevious, switchToNext, writeRotation } from './rotation-files';
import type { RotationRecord } from './rotation-files';

export interface RotationDeps {
  config: AgentConfig;
  transport: Transport;
  log: Logger;
  env: NodeJS.ProcessEnv;
  /** Reconnect (the transport re-reads the files) and prove the connection with a Jobs request. */
  reconnectAndProve(signal: AbortSignal): Promise<void>;
}

export interface RotationResult {
  certificateId: string;
  previousCertificateId: string;
  thingName: string;
}

/** A rotation that did not happen; the old identity is in use. `message` is the reason. */
export class RotationFailedError extends AgentError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super('RotationFailed', message, opts);
  }
}

export async function rotateCertificate(d: RotationDeps, o: { jobId: string; templateName?: string; signal: AbortSignal }): Promise<RotationResult> {
  const p = d.config.provisioning;
  if (!p) throw new RotationFailedError('certificate rotation needs the provisioning section (the identity lives in {stateDirectory}/identity/)');
  if (d.config.pkcs11) throw new RotationFailedError('rotating a key held in a PKCS#11 token is not supported');
  const paths = identityPaths(d.config.stateDirectory);
  const identity = await readIdentity(paths);
  if (!identity) throw new RotationFailedError('this device has no provisioned identity to rotate');
  const templateName = o.templateName ?? p.rotationTemplateName ?? p.templateName;
  const rec: RotationRecord = { phase: 'requested', jobId: o.jobId, templateName, oldCertificateId: identity.certificateId, startedAt: new Date().toISOString() };
  await writeRotation(paths, rec);
  let registered: RotationRecord;
  try {
    registered = await requestCertificate(d, identity, rec, o.signal);
  } catch (err) {
    await removeDurably(paths.nextKey, paths.nextCertificate, paths.rotation);
    throw new RotationFailedError(`new certificate not issued: ${errorMessage(err)}`, { cause: err });
  }
  const newId = registered.newCertificateId ?? '';
  await switchToNext(paths, registered);
  d.log.info({ certificateId: newId }, 'rotation: reconnecting with the new certificate');
  try {
    await d.reconnectAndProve(o.signal);
  } catch (err) {
    await restorePrevious(paths);
    d.log.warn({ err: errorMessage(err), certificateId: newId }, 'rotation: the new certificate does not work; rolled back');
    await d.reconnectAndProve(o.signal).catch((e: unknown) => d.log.warn({ err: errorMessage(e) }, 'rotation: not yet reconnected with the old certificate'));
    throw new RotationFailedError(`the new certificate ${newId} did not connect and work (${errorMessage(err)}); rolled back to ${identity.certificateId}`, { cause: err });
  }
  const committed = await commitNext(paths, identity, newId);
  d.log.info({ certificateId: newId, previousCertificateId: identity.certificateId }, 'rotation: committed; the old key is destroyed');
  return { certificateId: committed.certificateId, previousCertificateId: identity.certificateId, thingName: committed.thingName };
}

/** New key and CSR → CreateCertificateFromCsr → RegisterThing (the thing must stay the same). */
async function requestCertificate(d: RotationDeps, identity: IdentityRecord, rec: RotationRecord, signal: AbortSignal): Promise<RotationRecord> {
  const p = d.config.provisioning!;
  const paths = identityPaths(d.config.stateDirectory);
  const client = new ProvisioningClient(d.transport, p.stepTimeoutSeconds * 1000);
  const csr = await pendingCsr(paths, identity.thingName, paths.nextKey);
  signal.throwIfAborted();
  const issued = await client.createCertificateFromCsr(csr);
  const params = { ...(await resolveParameters(p, d.env)), ThingName: identity.thingName };
  const reg = await client.registerThing(rec.templateName, issued.certificateOwnershipToken, params);
  if (reg.thingName !== identity.thingName) {
    throw new IdentityError(`template ${rec.templateName} registered thing "${reg.thingName}", not this device's "${identity.thingName}" (name the thing {"Ref": "ThingName"})`);
  }
  await atomicWriteFile(paths.nextCertificate, issued.certificatePem, 0o644);
  const next: RotationRecord = { ...rec, phase: 'registered', newCertificateId: issued.certificateId };
  await writeRotation(paths, next);
  return next;
}
