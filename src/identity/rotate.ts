/**
 * Certificate rotation by job, the way AWS recommends (docs/ARCHITECTURE.md §8): a new key on the
 * device → CreateCertificateFromCsr on the live connection → RegisterThing with the rotation
 * template (ThingName + the configured parameters) → reconnect with the new identity and prove it
 * with a Jobs request → commit, or roll back to the old identity. Retiring the old certificate in
 * the cloud is the operator's (UpdateCertificate, DetachThingPrincipal, DeleteCertificate).
 * With pkcs11 the new key is made inside the token under a new label; the old key object is
 * destroyed after the commit, the new one on roll back.
 */
import { readFileSync } from 'node:fs';
import { activeKeyLabel } from '../config/identity-paths';
import type { AgentConfig } from '../config/types';
import { AgentError, errorMessage } from '../lib/errors';
import type { Logger } from '../lib/log';
import { readPin } from '../transport';
import type { Transport } from '../transport/types';
import { ProvisioningClient } from './api';
import { pendingCsr } from './device-key';
import { IdentityError } from './errors';
import type { IdentityPaths, IdentityRecord } from './layout';
import { identityPaths, readIdentity } from './layout';
import { resolveParameters } from './parameters';
import { atomicWriteFile } from '../lib/fsutil';
import { deleteTokenKey, tokenCsr } from './pkcs11-key';
import type { TokenKey } from './pkcs11-key';
import { commitNext, restorePrevious, switchToNext, writeRotation } from './rotation-files';
import type { RotationRecord, TokenKeyRemover } from './rotation-files';

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

/** The token key labelled `label` (pkcs11), with the PIN read now. */
function tokenKey(config: AgentConfig, env: NodeJS.ProcessEnv, label: string): TokenKey | undefined {
  const p11 = config.pkcs11;
  return p11 ? { p11, pin: readPin(p11, env), label } : undefined;
}

/** What destroys a token key of this device, when its key lives in a token. */
export function tokenKeyRemover(config: AgentConfig, env: NodeJS.ProcessEnv): TokenKeyRemover | undefined {
  if (!config.pkcs11) return undefined;
  return async (label) => {
    const k = tokenKey(config, env, label);
    if (k) await deleteTokenKey(k);
  };
}

function newRecord(d: RotationDeps, paths: IdentityPaths, identity: IdentityRecord, o: { jobId: string; templateName?: string }): RotationRecord {
  const p = d.config.provisioning!;
  const rec: RotationRecord = {
    phase: 'requested',
    jobId: o.jobId,
    templateName: o.templateName ?? p.rotationTemplateName ?? p.templateName,
    oldCertificateId: identity.certificateId,
    startedAt: new Date().toISOString(),
  };
  const p11 = d.config.pkcs11;
  if (!p11) return rec;
  // A fresh label per rotation: the old key stays usable in the token until the commit.
  const oldLabel = activeKeyLabel(paths, p11.keyLabel, (f) => readFileSync(f, 'utf8'));
  return { ...rec, token: { oldLabel, newLabel: `${p11.keyLabel}.${Date.now().toString(36)}` } };
}

export async function rotateCertificate(d: RotationDeps, o: { jobId: string; templateName?: string; signal: AbortSignal }): Promise<RotationResult> {
  if (!d.config.provisioning) throw new RotationFailedError('certificate rotation needs the provisioning section (the identity lives in {stateDirectory}/identity/)');
  const paths = identityPaths(d.config.stateDirectory);
  const identity = await readIdentity(paths);
  if (!identity) throw new RotationFailedError('this device has no provisioned identity to rotate');
  const remove = tokenKeyRemover(d.config, d.env);
  const rec = newRecord(d, paths, identity, o);
  await writeRotation(paths, rec);
  let registered: RotationRecord;
  try {
    registered = await requestCertificate(d, identity, rec, o.signal);
  } catch (err) {
    await restorePrevious(paths, rec, remove).catch((e: unknown) => d.log.warn({ err: errorMessage(e) }, 'rotation: clean-up incomplete; finished at the next start'));
    throw new RotationFailedError(`new certificate not issued: ${errorMessage(err)}`, { cause: err });
  }
  const newId = registered.newCertificateId ?? '';
  await switchToNext(paths, registered);
  d.log.info({ certificateId: newId, ...(rec.token ? { keyLabel: rec.token.newLabel } : {}) }, 'rotation: reconnecting with the new certificate');
  try {
    await d.reconnectAndProve(o.signal);
  } catch (err) {
    await restorePrevious(paths, registered, remove);
    d.log.warn({ err: errorMessage(err), certificateId: newId }, 'rotation: the new certificate does not work; rolled back');
    await d.reconnectAndProve(o.signal).catch((e: unknown) => d.log.warn({ err: errorMessage(e) }, 'rotation: not yet reconnected with the old certificate'));
    throw new RotationFailedError(`the new certificate ${newId} did not connect and work (${errorMessage(err)}); rolled back to ${identity.certificateId}`, { cause: err });
  }
  const committed = await commitNext(paths, identity, registered, remove);
  d.log.info({ certificateId: newId, previousCertificateId: identity.certificateId }, 'rotation: committed; the old key is destroyed');
  return { certificateId: committed.certificateId, previousCertificateId: identity.certificateId, thingName: committed.thingName };
}

/** New key and CSR (a file, or inside the token) → CreateCertificateFromCsr → RegisterThing (the thing must stay the same). */
async function requestCertificate(d: RotationDeps, identity: IdentityRecord, rec: RotationRecord, signal: AbortSignal): Promise<RotationRecord> {
  const p = d.config.provisioning!;
  const paths = identityPaths(d.config.stateDirectory);
  const client = new ProvisioningClient(d.transport, p.stepTimeoutSeconds * 1000);
  const token = rec.token ? tokenKey(d.config, d.env, rec.token.newLabel) : undefined;
  const csr = token ? await tokenCsr(token, identity.thingName) : await pendingCsr(paths, identity.thingName, paths.nextKey);
  signal.throwIfAborted();
  const issued = await client.createCertificateFromCsr(csr);
  const params = { ...(await resolveParameters(p, d.env)), ThingName: identity.thingName };
  const reg = await client.registerThing(rec.templateName, issued.certificateOwnershipToken, params);
  if (reg.thingName !== identity.thingName) {
    throw new IdentityError(`template ${rec.templateName} registered thing "${reg.thingName}", not this device's "${identity.thingName}" (name the thing {"Ref": "ThingName"})`);
  }
  await atomicWriteFile(paths.nextCertificate, issued.certificatePem, 0o644);
  if (rec.token) await atomicWriteFile(paths.nextKeyLabel, `${rec.token.newLabel}\n`, 0o600);
  const next: RotationRecord = { ...rec, phase: 'registered', newCertificateId: issued.certificateId };
  await writeRotation(paths, next);
  return next;
}
