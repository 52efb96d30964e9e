/** The trust store: structure, K-of-N root signatures, rotation (never skipped, never back), revocation. */
import fc from 'fast-check';
import { TrustError, loadTrustStore, newerStore, signTrustStore, validateTrustStore, verifyTrustUpdate, verifyJob } from '../../src/trust';
import type { TrustStoreDoc } from '../../src/trust';
import { NOW, envelope, fleet, makeKey, makeStore, payload, signStore, storeDoc } from '../support/trust';

const f = fleet();
const text = (d: TrustStoreDoc): string => JSON.stringify(d, null, 2);

function reasonOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof TrustError) return `${e.reason}: ${e.message}`;
    throw e;
  }
}

describe('a store on its own', () => {
  test('K of N roots must have signed it; a root counts once', () => {
    const doc = storeDoc(f.spec);
    expect(reasonOf(() => loadTrustStore(text(signStore(doc, [f.roots[0]!]))))).toMatch(/^trust-store-error: .*signed by 1 of its root keys, needs 2/);
    expect(loadTrustStore(text(signStore(doc, [f.roots[0]!, f.roots[2]!]))).version).toBe(1);
    const once = signStore(doc, [f.roots[0]!]);
    const twice = { ...once, signatures: [once.signatures[0]!, once.signatures[0]!] };
    expect(reasonOf(() => loadTrustStore(text(twice)))).toMatch(/signed by 1 of its root keys/);
  });

  test('signing the same store twice with one kid is refused', () => {
    const once = signStore(storeDoc(f.spec), [f.roots[0]!]);
    expect(() => signTrustStore(validateTrustStore(once), f.roots[0]!.privateKey, 'root-a')).toThrow(/already signed/);
  });

  test('a non-root key of the store cannot sign it, nor a key that is not the listed one', () => {
    const store = validateTrustStore(storeDoc(f.spec));
    expect(() => signTrustStore(store, f.ci.privateKey, 'ci-1')).toThrow(/not a root key/);
    expect(() => signTrustStore(store, makeKey('x').privateKey, 'root-a')).toThrow(/does not match/);
  });

  test('a changed store no longer verifies', () => {
    const signed = signStore(storeDoc(f.spec), f.roots);
    const tampered = { ...signed, signed: { ...signed.signed, roles: { ...signed.signed.roles, approver: ['approver-alice', 'ci-1'] } } };
    expect(reasonOf(() => loadTrustStore(text(tampered)))).toMatch(/signed by 0 of its root keys/);
  });

  test.each([
    ['duplicate keys', (t: string) => t.replace('"version": 1,', '"version": 1, "version": 2,'), /duplicate key "version"/],
    ['an unknown field', (t: string) => t.replace('"version": 1,', '"version": 1, "expires": 1,'), /unknown field "expires"/],
    ['a threshold above the roots', (t: string) => t.replace('"threshold": 2', '"threshold": 4'), /threshold: expected an integer 1..3/],
    ['a role naming an unknown kid', (t: string) => t.replace('"ci-1"\n      ]', '"ci-9"\n      ]'), /"ci-9" is not in signed.keys/],
    ['a root key in a role', (t: string) => t.replace('"ci-1"\n      ]', '"root-a"\n      ]'), /root key/],
    ['a policy needing more keys than the role has', (t: string) => t.replace('"approver": 2', '"approver": 3'), /needs 3 key\(s\) of role "approver", which has 2/],
    ['a key whose type is not its alg', (t: string) => t.replace('"alg": "ES256"', '"alg": "EdDSA"'), /key is ES256, but its entry says EdDSA/],
    ['a private key where the public key belongs', (t: string) => t.replace(JSON.stringify(f.ci.publicPem), JSON.stringify(f.ci.privatePem)), /expected an SPKI PEM public key/],
    ['one key under two kids', (t: string) => t.replace(JSON.stringify(f.approver2.publicPem), JSON.stringify(f.ci.publicPem)), /"approver-bob" is the same key as "ci-1"|"ci-1" is the same key as "approver-bob"/],
    ['a float', (t: string) => t.replace('"version": 1', '"version": 1.0'), /only integers/],
  ])('%s is a clear trust-store-error', (_what, edit, message) => {
    const t = edit(text(signStore(storeDoc(f.spec), f.roots)));
    expect(reasonOf(() => loadTrustStore(t))).toMatch(message);
  });
});

describe('rotation', () => {
  const newRoots = [makeKey('root-d'), makeKey('root-e', 'ES256')];
  const v2spec = { ...f.spec, version: 2, roots: newRoots, threshold: 2 };
  const v1 = f.store;

  test('version N+1 signed by K old and K new roots is accepted', () => {
    const next = makeStore(v2spec, [...newRoots, f.roots[0]!, f.roots[2]!]);
    expect(() => verifyTrustUpdate(v1, next)).not.toThrow();
    // And the old roots' kids need not be listed in the new store at all.
    expect(next.keys.has('root-a')).toBe(false);
  });

  test('signed by the old roots only, or the new roots only, it is refused', () => {
    const oldOnly = validateTrustStore(signStore(storeDoc(v2spec), [f.roots[0]!, f.roots[1]!]));
    expect(reasonOf(() => verifyTrustUpdate(v1, oldOnly))).toMatch(/signed by 0 of its root keys, needs 2/);
    const newOnly = makeStore(v2spec, newRoots);
    expect(reasonOf(() => verifyTrustUpdate(v1, newOnly))).toMatch(/signed by 0 of version 1's root keys, needs 2/);
    const oneOld = makeStore(v2spec, [...newRoots, f.roots[0]!]);
    expect(reasonOf(() => verifyTrustUpdate(v1, oneOld))).toMatch(/signed by 1 of version 1's root keys/);
  });

  test('a skipped version, the same version and an older one are refused', () => {
    const all = [...newRoots, ...f.roots];
    expect(reasonOf(() => verifyTrustUpdate(v1, makeStore({ ...v2spec, version: 3 }, all)))).toMatch(/skips a version/);
    const v2 = makeStore(v2spec, all);
    expect(reasonOf(() => verifyTrustUpdate(v2, makeStore({ ...f.spec, version: 1 }, all)))).toMatch(/would roll back/);
    expect(reasonOf(() => verifyTrustUpdate(v2, makeStore(v2spec, all)))).toMatch(/would roll back or repeat/);
  });

  test('the newer of the image copy and the persisted copy wins', () => {
    const v2 = makeStore(v2spec, [...newRoots, ...f.roots]);
    expect(newerStore(v1, v2).version).toBe(2);
    expect(newerStore(v2, v1).version).toBe(2);
  });

  test('a revoked root no longer counts towards a rotation', () => {
    const v2revoked = makeStore({ ...f.spec, version: 2, revoked: ['root-b'] }, f.roots);
    const v3 = makeStore({ ...f.spec, version: 3, revoked: ['root-b'] }, [f.roots[0]!, f.roots[1]!]);
    expect(reasonOf(() => verifyTrustUpdate(v2revoked, v3))).toMatch(/signed by 1 of version 2's root keys/);
  });
});

describe('revocation through a trust update', () => {
  test('a job signed by a key revoked in the next version is accepted before and refused after', () => {
    const v2 = makeStore({ ...f.spec, version: 2, revoked: ['ci-1'] }, f.roots);
    verifyTrustUpdate(f.store, v2);
    const env = envelope(payload({ op: 'install-package', job: { id: 'job-1', ns: '', continuous: true }, seq: { stream: 'fw', n: 1 } }), [f.ci, f.approver]);
    const run = (trust: typeof v2) => verifyJob({ document: env, trust, execution: { jobId: 'job-1', namespace: '' }, identity: { thingName: 'gw-1', labels: [] }, now: NOW });
    expect(run(f.store)).toMatchObject({ ok: true });
    expect(run(v2)).toMatchObject({ ok: false, reason: 'threshold-not-met', trustVersion: 2 });
    const onlyRevoked = envelope(payload(), [f.ci]);
    expect(verifyJob({ document: onlyRevoked, trust: v2, execution: { jobId: 'job-1', namespace: '' }, identity: { thingName: 'gw-1', labels: [] }, now: NOW })).toMatchObject({ ok: false, reason: 'key-revoked' });
  });
});

test('property: any text or JSON value as a trust store is a TrustError, never a crash', () => {
  const signed = signStore(storeDoc(f.spec), f.roots);
  fc.assert(
    fc.property(fc.oneof(fc.json(), fc.string(), fc.jsonValue().map((v) => JSON.stringify({ signed: { ...signed.signed, roles: v }, signatures: signed.signatures }))), (t) => {
      expect(reasonOf(() => loadTrustStore(t))).toMatch(/^trust-store-error: /);
    }),
    { numRuns: 300 },
  );
});
