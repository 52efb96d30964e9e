/**
 * `rotate-certificate`: `{"operation":"rotate-certificate", "templateName"?: "…"}` (docs/ARCHITECTURE.md
 * §8). The agent does the work through `ctx.identity` (new key → CSR → RegisterThing with the
 * rotation template → reconnect and prove → commit or roll back); this handler turns it into a job
 * outcome. After a restart mid-rotation the agent has already settled the files (committed, or the
 * old identity restored), so `resume` only reads which certificate is in use.
 */
import type { HandlerContext, HandlerResult, JobHandler } from '../../src/handlers/api';
import { isRecord } from '../_shared/util';

export interface RotateDocument {
  operation?: string;
  templateName?: string;
}

const TEMPLATE_NAME = /^[0-9A-Za-z_-]{1,36}$/;

function validate(document: unknown): string | undefined {
  if (!isRecord(document)) return 'the job document must be an object';
  for (const k of Object.keys(document)) if (k !== 'operation' && k !== 'templateName') return `unknown field "${k}" (allowed: templateName)`;
  const t = document.templateName;
  if (t !== undefined && (typeof t !== 'string' || !TEMPLATE_NAME.test(t))) return 'templateName must be 1-36 characters of A-Z a-z 0-9 _ -';
  return undefined;
}

async function run(ctx: HandlerContext<RotateDocument>): Promise<HandlerResult> {
  const identity = ctx.identity;
  if (!identity) return { status: 'FAILED', details: { reason: 'this agent has no provisioning section: its identity is not the agent\'s to rotate' } };
  const before = await identity.current();
  if (!before) return { status: 'FAILED', details: { reason: 'this device has no provisioned identity' } };
  // Persisted first: after a restart it is the only evidence of which certificate was replaced.
  await ctx.saveState({ oldCertificateId: before.certificateId });
  ctx.progress({ step: 'requesting a new certificate' });
  try {
    const r = await identity.rotate({ signal: ctx.signal, ...(ctx.document.templateName ? { templateName: ctx.document.templateName } : {}) });
    return { status: 'SUCCEEDED', details: { certificateId: r.certificateId, previousCertificateId: r.previousCertificateId } };
  } catch (err) {
    return { status: 'FAILED', details: { reason: err instanceof Error ? err.message : String(err), certificateId: before.certificateId } };
  }
}

async function resume(ctx: HandlerContext<RotateDocument>): Promise<HandlerResult> {
  const old = ctx.savedState?.oldCertificateId;
  const now = await ctx.identity?.current();
  if (typeof old === 'string' && now && now.certificateId !== old) {
    return { status: 'SUCCEEDED', details: { certificateId: now.certificateId, previousCertificateId: old } };
  }
  return {
    status: 'FAILED',
    details: { reason: 'interrupted by a restart before the new certificate was committed; the previous certificate is in use', ...(now ? { certificateId: now.certificateId } : {}) },
  };
}

const rotateCertificate: JobHandler<RotateDocument> = {
  name: 'rotate-certificate',
  restartPolicy: 'resume',
  timeoutSeconds: 600,
  validate,
  run,
  resume,
};

export default rotateCertificate;
