/**
 * Interop with an independent JWS implementation (`jose`): General JWS JSON that jose signs
 * verifies in our verifier, and every signature our signer writes verifies in jose.
 */
import * as jose from 'jose';
import { canonicalBytes, signPayload, verifyJob, addSignature } from '../../src/trust';
import type { Envelope } from '../../src/trust';
import { NOW, fleet, payload } from '../support/trust';
import type { TestKey } from '../support/trust';

const f = fleet();
const exec = { execution: { jobId: 'job-1', namespace: '' }, identity: { thingName: 'gw-1', labels: [] }, now: NOW };

async function joseSign(bytes: Uint8Array, keys: TestKey[]): Promise<jose.GeneralJWS> {
  const signer = new jose.GeneralSign(bytes);
  for (const k of keys) {
    signer.addSignature(await jose.importPKCS8(k.privatePem, k.alg)).setProtectedHeader({ alg: k.alg, kid: k.kid, typ: 'ija-job+jws' });
  }
  return signer.sign();
}

/** Each signature entry verified on its own (jose's generalVerify stops at the first good one). */
async function joseVerifyEach(env: Envelope, keys: Record<string, TestKey>): Promise<string[]> {
  const kids: string[] = [];
  for (const s of env.jws.signatures) {
    const header = jose.decodeProtectedHeader(s);
    const k = keys[header.kid!]!;
    const r = await jose.flattenedVerify({ payload: env.jws.payload, protected: s.protected, signature: s.signature }, await jose.importSPKI(k.publicPem, k.alg), { algorithms: [k.alg] });
    expect(Buffer.from(r.payload).toString()).toBe(Buffer.from(env.jws.payload, 'base64url').toString());
    kids.push(header.kid!);
  }
  return kids;
}

test('an envelope jose signs (General JWS JSON, Ed25519 + ES256) is accepted by our verifier', async () => {
  const p = payload({ op: 'install-package', seq: { stream: 'fw', n: 9 } });
  const jws = await joseSign(canonicalBytes(p), [f.ci, f.approver]);
  const v = verifyJob({ document: { ija: 1, jws }, trust: f.store, ...exec });
  expect(v).toMatchObject({ ok: true, kids: ['approver-alice', 'ci-1'] });
  expect(v.ok && v.payload.jti).toBe(p.jti);
});

test('jose signing a non-canonical payload, or with an extra header, is refused by our verifier', async () => {
  const p = payload();
  const pretty = new TextEncoder().encode(JSON.stringify(p, null, 2));
  expect(verifyJob({ document: { ija: 1, jws: await joseSign(pretty, [f.ci]) }, trust: f.store, ...exec })).toMatchObject({ ok: false, reason: 'malformed-envelope' });
  const signer = new jose.GeneralSign(canonicalBytes(p));
  signer.addSignature(await jose.importPKCS8(f.ci.privatePem, 'EdDSA')).setProtectedHeader({ alg: 'EdDSA', kid: 'ci-1', typ: 'ija-job+jws', cty: 'json' });
  expect(verifyJob({ document: { ija: 1, jws: await signer.sign() }, trust: f.store, ...exec })).toMatchObject({ ok: false, reason: 'malformed-envelope' });
});

test('every signature our signer writes verifies in jose, Ed25519 and ES256', async () => {
  let env = signPayload(payload({ op: 'install-package', seq: { stream: 'fw', n: 1 } }), f.ci.privateKey, 'ci-1');
  env = addSignature(env, f.approver.privateKey, 'approver-alice');
  env = addSignature(env, f.approver2.privateKey, 'approver-bob');
  expect(await joseVerifyEach(env, { 'ci-1': f.ci, 'approver-alice': f.approver, 'approver-bob': f.approver2 })).toEqual(['ci-1', 'approver-alice', 'approver-bob']);
  // jose's own General JWS verification accepts the envelope's jws member as it is.
  const r = await jose.generalVerify(env.jws, await jose.importSPKI(f.approver.publicPem, 'ES256'));
  expect(r.protectedHeader).toEqual({ alg: 'ES256', kid: 'approver-alice', typ: 'ija-job+jws' });
});
