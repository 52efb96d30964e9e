import { createTestContext, runTestJob } from '../../src/index';
import type { IdentityControl } from '../../src/index';
import rotate, { type RotateDocument } from './index';

/** A capability whose rotate() resolves or rejects as told, recording what it was asked. */
function identity(outcome: { ok: true; newId: string } | { ok: false; reason: string }) {
  let current = { thingName: 'gw-1', certificateId: 'a'.repeat(64) };
  const calls: { templateName?: string }[] = [];
  const control: IdentityControl = {
    current: () => Promise.resolve(current),
    rotate: (o) => {
      calls.push(o.templateName !== undefined ? { templateName: o.templateName } : {});
      if (!outcome.ok) return Promise.reject(new Error(outcome.reason));
      const previous = current.certificateId;
      current = { ...current, certificateId: outcome.newId };
      return Promise.resolve({ certificateId: outcome.newId, previousCertificateId: previous });
    },
  };
  return { control, calls };
}

describe('rotate-certificate handler', () => {
  it('rejects documents with unknown fields or a bad template name', async () => {
    const { control } = identity({ ok: true, newId: 'b'.repeat(64) });
    for (const [doc, reason] of [
      [{ operation: 'rotate-certificate', templat: 'x' }, 'unknown field "templat"'],
      [{ operation: 'rotate-certificate', templateName: 'has space' }, 'templateName must be'],
      [{ operation: 'rotate-certificate', templateName: 'x'.repeat(37) }, 'templateName must be'],
    ] as const) {
      const out = await runTestJob(rotate, createTestContext<RotateDocument>({ document: doc as RotateDocument, identity: control }));
      expect(out).toEqual({ rejected: expect.stringContaining(reason) });
    }
  });

  it('saves the old certificate id first and reports the new one on success', async () => {
    const { control, calls } = identity({ ok: true, newId: 'b'.repeat(64) });
    const ctx = createTestContext<RotateDocument>({ document: { operation: 'rotate-certificate', templateName: 'Rotation' }, identity: control });
    await expect(rotate.run(ctx)).resolves.toEqual({ status: 'SUCCEEDED', details: { certificateId: 'b'.repeat(64), previousCertificateId: 'a'.repeat(64) } });
    expect(ctx.savedStates).toEqual([{ oldCertificateId: 'a'.repeat(64) }]);
    expect(calls).toEqual([{ templateName: 'Rotation' }]);
  });

  it('reports FAILED with the reason when the rotation rolled back', async () => {
    const { control } = identity({ ok: false, reason: 'the new certificate did not connect; rolled back' });
    const ctx = createTestContext<RotateDocument>({ document: {}, identity: control });
    await expect(rotate.run(ctx)).resolves.toEqual({ status: 'FAILED', details: { reason: 'the new certificate did not connect; rolled back', certificateId: 'a'.repeat(64) } });
  });

  it('fails clearly without the capability (no provisioning section)', async () => {
    const ctx = createTestContext<RotateDocument>({ document: {} });
    await expect(rotate.run(ctx)).resolves.toMatchObject({ status: 'FAILED', details: { reason: expect.stringContaining('no provisioning section') } });
  });

  it('on resume: SUCCEEDED only when the certificate in use changed', async () => {
    const changed = identity({ ok: true, newId: 'c'.repeat(64) });
    await changed.control.rotate({ signal: new AbortController().signal });
    const after = createTestContext<RotateDocument>({ document: {}, identity: changed.control, savedState: { oldCertificateId: 'a'.repeat(64) } });
    await expect(rotate.resume!(after)).resolves.toEqual({ status: 'SUCCEEDED', details: { certificateId: 'c'.repeat(64), previousCertificateId: 'a'.repeat(64) } });
    const same = identity({ ok: true, newId: 'c'.repeat(64) });
    const rolledBack = createTestContext<RotateDocument>({ document: {}, identity: same.control, savedState: { oldCertificateId: 'a'.repeat(64) } });
    await expect(rotate.resume!(rolledBack)).resolves.toMatchObject({ status: 'FAILED', details: { reason: expect.stringContaining('previous certificate is in use') } });
  });
});
