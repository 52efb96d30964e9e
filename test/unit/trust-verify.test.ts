/**
 * The pure verifier against the attacks of signed job documents: each case asserts the verdict's
 * `ija:reason`, and that an authentic envelope is accepted under the same inputs otherwise.
 */
import { createHmac, sign as cryptoSign } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { b64urlEncode, canonicalBytes, jwsSigningInput, signEntry, verdictDetails, verifyJob } from '../../src/trust';
import type { Envelope, JobPayload, TrustStore, Verdict } from '../../src/trust';
import { NOW, envelope, fleet, makeKey, makeStore, payload } from '../support/trust';
import type { TestKey } from '../support/trust';

const f = fleet();
const IDENTITY = { thingName: 'gw-1', labels: ['fleet:eu-prod'] };

function check(document: unknown, opts: { trust?: TrustStore; jobId?: string; namespace?: string; thingName?: string; labels?: string[]; now?: number } = {}): Verdict {
  return verifyJob({
    document,
    trust: opts.trust ?? f.store,
    execution: { jobId: opts.jobId ?? 'job-1', namespace: opts.namespace ?? '' },
    identity: { thingName: opts.thingName ?? IDENTITY.thingName, labels: opts.labels ?? IDENTITY.labels },
    now: opts.now ?? NOW,
  });
}

function reason(v: Verdict): string {
  return v.ok ? 'ACCEPTED' : v.reason;
}

/** Re-encodes the payload of an envelope after changing it (signatures untouched). */
function withPayload(env: Envelope, change: (p: Record<string, unknown>) => void): Envelope {
  const p = JSON.parse(Buffer.from(env.jws.payload, 'base64url').toString()) as Record<string, unknown>;
  change(p);
  return { ...env, jws: { ...env.jws, payload: b64urlEncode(canonicalBytes(p)) } };
}

/** An entry with any protected header, signed correctly by `key` over it. */
function entryWithHeader(env: Envelope, header: object, key: TestKey): Envelope['jws']['signatures'][number] {
  const prot = b64urlEncode(JSON.stringify(header));
  const data = jwsSigningInput(prot, env.jws.payload);
  const sig = key.alg === 'EdDSA' ? cryptoSign(null, data, key.privateKey) : cryptoSign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return { protected: prot, signature: b64urlEncode(sig) };
}

describe('an authentic envelope', () => {
  test('is accepted with its kids, trust version and payload; the handler sees only doc', () => {
    const p = payload();
    const v = check(envelope(p, [f.ci]));
    expect(v).toMatchObject({ ok: true, kids: ['ci-1'], trustVersion: 1 });
    expect(v.ok && v.payload.doc).toEqual(p.doc);
    expect(verdictDetails(v)).toEqual({ 'ija:kids': 'ci-1', 'ija:trustVersion': '1', 'ija:jti': p.jti });
  });

  test('ES256 (r‖s) keys verify as well as Ed25519', () => {
    const p = payload({ op: 'install-package', seq: { stream: 'fw', n: 3 } });
    expect(check(envelope(p, [f.ci, f.approver]))).toMatchObject({ ok: true, kids: ['approver-alice', 'ci-1'] });
  });

  test('survives AWS re-serialising the document (key order, whitespace)', () => {
    const env = envelope(payload(), [f.ci]);
    const reserialised = JSON.parse(JSON.stringify({ urls: undefined, jws: { signatures: env.jws.signatures, payload: env.jws.payload }, ija: 1 }, null, 3)) as unknown;
    expect(check(reserialised)).toMatchObject({ ok: true });
  });
});

describe('unsigned and tampered documents', () => {
  test('an unsigned Device Client document is REJECTED unsigned', () => {
    const v = check({ version: '1.0', steps: [{ action: { name: 'x', type: 'runCommand', input: { command: 'id' } } }] });
    expect(reason(v)).toBe('unsigned');
    expect(verdictDetails(v)).toMatchObject({ 'ija:reason': 'unsigned', 'ija:trustVersion': '1', 'ija:kids': '' });
    expect(verdictDetails(v)['ija:jti']).toBeUndefined();
  });

  test('a field beside the envelope (legacy steps smuggled next to it) is REJECTED unsigned-field', () => {
    const env = envelope(payload(), [f.ci]);
    expect(reason(check({ ...env, steps: [] }))).toBe('unsigned-field');
    expect(reason(check({ ...env, jws: { ...env.jws, header: { kid: 'ci-1' } } }))).toBe('unsigned-field');
  });

  test('one changed payload byte is REJECTED bad-signature', () => {
    const env = envelope(payload(), [f.ci]);
    expect(reason(check(withPayload(env, (p) => (p.op = 'reboot'))))).toBe('bad-signature');
    const bytes = Buffer.from(env.jws.payload, 'base64url');
    bytes[10] = bytes[10]! ^ 1;
    expect(reason(check({ ...env, jws: { ...env.jws, payload: b64urlEncode(bytes) } }))).toBe('bad-signature');
  });

  test('a changed protected header or signature is REJECTED', () => {
    const env = envelope(payload(), [f.ci]);
    const s = env.jws.signatures[0]!;
    const sig = Buffer.from(s.signature, 'base64url');
    sig[0] = sig[0]! ^ 0x80;
    expect(reason(check({ ...env, jws: { ...env.jws, signatures: [{ ...s, signature: b64urlEncode(sig) }] } }))).toBe('bad-signature');
    // The same header in another spelling (whitespace) no longer matches the signed bytes.
    const respelled = b64urlEncode(JSON.stringify({ alg: 'EdDSA', kid: 'ci-1', typ: 'ija-job+jws' }, null, 1));
    expect(reason(check({ ...env, jws: { ...env.jws, signatures: [{ ...s, protected: respelled }] } }))).toBe('bad-signature');
  });

  test('base64 with padding or the standard alphabet is not the same envelope', () => {
    const env = envelope(payload(), [f.ci]);
    const s = env.jws.signatures[0]!;
    const std = Buffer.from(s.signature, 'base64url').toString('base64');
    expect(reason(check({ ...env, jws: { ...env.jws, signatures: [{ ...s, signature: std }] } }))).toBe('bad-signature');
    // The signatures cover the payload's text, so a re-encoded payload fails before it is ever parsed.
    expect(reason(check({ ...env, jws: { ...env.jws, payload: `${env.jws.payload}==` } }))).toBe('bad-signature');
    // Signed as padded text, it verifies but is still not base64url.
    const padded = `${env.jws.payload}==`;
    expect(reason(check({ ...env, jws: { payload: padded, signatures: [signEntry(padded, f.ci.privateKey, 'ci-1')] } }))).toBe('malformed-envelope');
  });

  test('a payload that is not canonical JSON, or has duplicate keys, is refused even when signed', () => {
    const p = payload();
    const dup = `{"aud":{"things":["gw-1"]},"doc":{},"exp":${p.exp},"iat":${p.iat},"job":{"id":"job-1","ns":""},"jti":"${p.jti}","op":"run-script","op":"reboot","v":1}`;
    const pretty = JSON.stringify(JSON.parse(canonicalBytes(p).toString()), null, 2);
    for (const text of [dup, pretty]) {
      const payloadB64 = b64urlEncode(text);
      const env: Envelope = { ija: 1, jws: { payload: payloadB64, signatures: [signEntry(payloadB64, f.ci.privateKey, 'ci-1')] } };
      expect(reason(check(env))).toBe('malformed-envelope');
    }
  });

  test('a payload above 64 KiB is refused before it is parsed', () => {
    const big = payload({ doc: { blob: 'x'.repeat(70 * 1024) } });
    expect(check(envelope(big, [f.ci]))).toMatchObject({ ok: false, reason: 'malformed-envelope', detail: expect.stringMatching(/longer than/) });
  });

  test('wrong ija, missing signatures, too many signatures: malformed-envelope', () => {
    const env = envelope(payload(), [f.ci]);
    expect(reason(check({ ...env, ija: 2 }))).toBe('malformed-envelope');
    expect(reason(check({ ...env, jws: { ...env.jws, signatures: [] } }))).toBe('malformed-envelope');
    expect(reason(check({ ...env, jws: { ...env.jws, signatures: Array(17).fill(env.jws.signatures[0]) } }))).toBe('malformed-envelope');
    expect(reason(check({ ija: 1, jws: 'x' }))).toBe('malformed-envelope');
  });
});

describe('key confusion', () => {
  test('an unknown kid is REJECTED unknown-key', () => {
    const stranger = makeKey('ci-9');
    expect(reason(check(envelope(payload(), [stranger])))).toBe('unknown-key');
  });

  test('a known kid signed by another key is REJECTED bad-signature', () => {
    const impostor = makeKey('ci-1');
    expect(reason(check(envelope(payload(), [impostor])))).toBe('bad-signature');
  });

  test('alg "none" with an empty signature is REJECTED', () => {
    const env = envelope(payload(), [f.ci]);
    const prot = b64urlEncode(JSON.stringify({ alg: 'none', kid: 'ci-1', typ: 'ija-job+jws' }));
    expect(reason(check({ ...env, jws: { ...env.jws, signatures: [{ protected: prot, signature: '' }] } }))).toBe('bad-signature');
  });

  test('HS256 with the public key as the HMAC secret is REJECTED (alg confusion)', () => {
    const env = envelope(payload(), [f.ci]);
    const prot = b64urlEncode(JSON.stringify({ alg: 'HS256', kid: 'ci-1', typ: 'ija-job+jws' }));
    const mac = createHmac('sha256', f.ci.publicPem).update(jwsSigningInput(prot, env.jws.payload)).digest();
    expect(reason(check({ ...env, jws: { ...env.jws, signatures: [{ protected: prot, signature: b64urlEncode(mac) }] } }))).toBe('bad-signature');
  });

  test("a header alg other than the key's is REJECTED even when the signature is valid for it", () => {
    // approver-alice is ES256 in the store; a signature labelled EdDSA never counts for it.
    const env = envelope(payload({ op: 'run-command' }), [f.approver2]);
    const edKeyNamedAlice = { ...makeKey('approver-alice'), kid: 'approver-alice' };
    const entry = entryWithHeader(env, { alg: 'EdDSA', kid: 'approver-alice', typ: 'ija-job+jws' }, edKeyNamedAlice);
    expect(reason(check({ ...env, jws: { ...env.jws, signatures: [...env.jws.signatures, entry] } }))).toBe('threshold-not-met');
  });

  test.each([
    ['jwk', { jwk: { kty: 'OKP', crv: 'Ed25519', x: 'AAAA' } }],
    ['jku', { jku: 'https://attacker.example/keys' }],
    ['x5c', { x5c: ['MIIB'] }],
    ['crit/b64', { crit: ['b64'], b64: false }],
    ['another typ', { typ: 'JWT' }],
  ])('header injection (%s) is REJECTED malformed-envelope', (_name, extra) => {
    const env = envelope(payload(), [f.ci]);
    const entry = entryWithHeader(env, { alg: 'EdDSA', kid: 'ci-1', typ: 'ija-job+jws', ...extra }, f.ci);
    expect(reason(check({ ...env, jws: { ...env.jws, signatures: [entry] } }))).toBe('malformed-envelope');
  });

  test('an unprotected header beside a signature is REJECTED unsigned-field', () => {
    const env = envelope(payload(), [f.ci]);
    const s = { ...env.jws.signatures[0]!, header: { kid: 'approver-bob' } };
    expect(reason(check({ ...env, jws: { ...env.jws, signatures: [s] } }))).toBe('unsigned-field');
  });

  test('a duplicate header key in the protected header is REJECTED', () => {
    const env = envelope(payload(), [f.ci]);
    const prot = b64urlEncode('{"alg":"EdDSA","kid":"oncall-1","kid":"ci-1","typ":"ija-job+jws"}');
    const sig = b64urlEncode(cryptoSign(null, jwsSigningInput(prot, env.jws.payload), f.ci.privateKey));
    expect(reason(check({ ...env, jws: { ...env.jws, signatures: [{ protected: prot, signature: sig }] } }))).toBe('malformed-envelope');
  });

  test('a revoked key is REJECTED key-revoked; beside enough good keys it is ignored', () => {
    const revokedStore = makeStore({ ...f.spec, revoked: ['ci-1'] });
    expect(reason(check(envelope(payload(), [f.ci]), { trust: revokedStore }))).toBe('key-revoked');
    const p = payload({ op: 'run-command' });
    const v = check(envelope(p, [f.approver, f.approver2, f.ci]), { trust: revokedStore });
    expect(v).toMatchObject({ ok: true, kids: ['approver-alice', 'approver-bob'] });
    expect(v.ok && v.ignored.join()).toMatch(/revoked/);
  });

  test('a root key cannot sign a job', () => {
    const rootsPolicy = makeStore({ ...f.spec });
    expect(reason(check(envelope(payload(), [f.roots[0]!]), { trust: rootsPolicy }))).toBe('role-not-permitted');
  });
});

describe('policy: roles, counts, thresholds', () => {
  test('the same key twice counts once (2 approvers needed)', () => {
    const p = payload({ op: 'run-command' });
    const env = envelope(p, [f.approver]);
    const twice = { ...env, jws: { ...env.jws, signatures: [env.jws.signatures[0]!, signEntry(env.jws.payload, f.approver.privateKey, 'approver-alice')] } };
    expect(reason(check(twice))).toBe('threshold-not-met');
    expect(check(envelope(p, [f.approver, f.approver2]))).toMatchObject({ ok: true });
  });

  test('role escalation: an oncall key signing run-command is REJECTED role-not-permitted', () => {
    expect(reason(check(envelope(payload({ op: 'run-command' }), [f.oncall])))).toBe('role-not-permitted');
  });

  test('ci alone cannot install a package that needs ci + approver', () => {
    const p = payload({ op: 'install-package', seq: { stream: 'fw', n: 1 } });
    expect(reason(check(envelope(p, [f.ci])))).toBe('threshold-not-met');
  });

  test('one key holding two roles fills only one slot', () => {
    const both = makeKey('both-1');
    const other = makeKey('ci-2');
    const store = makeStore({ roots: [f.roots[0]!], roles: { ci: [both, other], approver: [both] }, policies: { deploy: { require: { ci: 1, approver: 1 } } } });
    expect(reason(check(envelope(payload({ op: 'deploy' }), [both]), { trust: store }))).toBe('threshold-not-met');
    expect(check(envelope(payload({ op: 'deploy' }), [both, other]), { trust: store })).toMatchObject({ ok: true });
  });

  test('an op without a policy, or a prototype name, is REJECTED role-not-permitted', () => {
    expect(reason(check(envelope(payload({ op: 'format-disk' }), [f.ci])))).toBe('role-not-permitted');
    expect(reason(check(envelope(payload({ op: 'constructor' }), [f.ci])))).toBe('role-not-permitted');
  });

  test('continuous and seq follow the op policy', () => {
    expect(reason(check(envelope(payload({ job: { id: 'job-1', ns: '', continuous: true } }), [f.ci])))).toBe('role-not-permitted');
    expect(reason(check(envelope(payload({ op: 'install-package' }), [f.ci, f.approver])))).toBe('role-not-permitted');
    const ok = payload({ op: 'install-package', job: { id: 'job-1', ns: '', continuous: true }, seq: { stream: 'fw', n: 1 } });
    expect(check(envelope(ok, [f.ci, f.approver]))).toMatchObject({ ok: true });
  });
});

describe('binding', () => {
  test('another job id, namespace or thing is REJECTED', () => {
    const env = envelope(payload(), [f.ci]);
    expect(reason(check(env, { jobId: 'job-2' }))).toBe('job-id-mismatch');
    expect(reason(check(env, { namespace: 'ops' }))).toBe('namespace-mismatch');
    expect(reason(check(env, { thingName: 'gw-2' }))).toBe('audience-mismatch');
    const nsEnv = envelope(payload({ job: { id: 'job-1', ns: 'ops' } }), [f.ci]);
    expect(reason(check(nsEnv))).toBe('namespace-mismatch');
    expect(check(nsEnv, { namespace: 'ops' })).toMatchObject({ ok: true });
  });

  test('labels: one of the signed labels must be the device’s own; every selector given must match', () => {
    const byLabel = envelope(payload({ aud: { labels: ['fleet:eu-prod', 'fleet:us'] } }), [f.ci]);
    expect(check(byLabel)).toMatchObject({ ok: true });
    expect(reason(check(byLabel, { labels: ['fleet:eu-test'] }))).toBe('audience-mismatch');
    const both = envelope(payload({ aud: { things: ['gw-1'], labels: ['fleet:us'] } }), [f.ci]);
    expect(reason(check(both))).toBe('audience-mismatch');
  });

  test('the rejection of an authentic envelope carries its payload (its jti can be recorded); a forged one does not', () => {
    const p = payload();
    const v = check(envelope(p, [f.ci]), { jobId: 'job-2' });
    expect(!v.ok && v.payload?.jti).toBe(p.jti);
    expect(verdictDetails(v)['ija:jti']).toBe(p.jti);
    const forged = check(envelope(p, [makeKey('ci-1')]));
    expect(!forged.ok && forged.payload).toBeUndefined();
  });
});

describe('validity window', () => {
  const p = payload({ iat: NOW, nbf: NOW + 1000, exp: NOW + 3600 });
  const env = envelope(p, [f.ci]);

  test('not yet valid, with 300 s of skew', () => {
    expect(reason(check(env, { now: NOW + 699 }))).toBe('not-yet-valid');
    expect(check(env, { now: NOW + 700 })).toMatchObject({ ok: true });
  });

  test('expired at exp, no skew', () => {
    expect(check(env, { now: NOW + 3599 })).toMatchObject({ ok: true });
    expect(reason(check(env, { now: NOW + 3600 }))).toBe('expired');
  });

  test('an iat far ahead of the effective time is not yet valid', () => {
    expect(reason(check(envelope(payload({ iat: NOW + 301, exp: NOW + 3600 }), [f.ci])))).toBe('not-yet-valid');
  });

  test('a validity longer than the policy allows is REJECTED validity-too-long', () => {
    expect(reason(check(envelope(payload({ op: 'run-command', exp: NOW + 3601 }), [f.approver, f.approver2])))).toBe('validity-too-long');
    expect(check(envelope(payload({ op: 'run-command', exp: NOW + 3600 }), [f.approver, f.approver2]))).toMatchObject({ ok: true });
  });
});

describe('artifacts and presigned URLs', () => {
  const sha = 'a'.repeat(64);
  const art = (over: object = {}): JobPayload['artifacts'] => ({ fw: { s3: { region: 'eu-west-1', bucket: 'acme-fw', key: 'gw/sha256-aa/fw.bin' }, sha256: sha, size: 10, ...over } });
  const presigned = (host: string, path: string, q = 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x&X-Amz-Date=1&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=ab'): string => `https://${host}${path}?${q}`;
  const good = presigned('s3.eu-west-1.amazonaws.com', '/acme-fw/gw/sha256-aa/fw.bin');

  test('path-style and virtual-hosted URLs to the signed object are accepted', () => {
    const p = payload({ artifacts: art() });
    expect(check(envelope(p, [f.ci], { fw: good }))).toMatchObject({ ok: true });
    expect(check(envelope(p, [f.ci], { fw: presigned('acme-fw.s3.eu-west-1.amazonaws.com', '/gw/sha256-aa/fw.bin') }))).toMatchObject({ ok: true });
  });

  test.each([
    ['another bucket', presigned('s3.eu-west-1.amazonaws.com', '/evil-fw/gw/sha256-aa/fw.bin')],
    ['another key', presigned('s3.eu-west-1.amazonaws.com', '/acme-fw/gw/sha256-bb/fw.bin')],
    ['another host', presigned('attacker.example', '/acme-fw/gw/sha256-aa/fw.bin')],
    ['a look-alike host', presigned('acme-fw.s3.eu-west-1.amazonaws.com.attacker.example', '/gw/sha256-aa/fw.bin')],
    ['another region', presigned('s3.us-east-1.amazonaws.com', '/acme-fw/gw/sha256-aa/fw.bin')],
    ['http', good.replace('https:', 'http:')],
    ['a versionId that was not signed', `${good}&versionId=old`],
    ['no presigned query', 'https://s3.eu-west-1.amazonaws.com/acme-fw/gw/sha256-aa/fw.bin'],
    ['credentials in the URL', good.replace('https://', 'https://u:p@')],
    ['dot segments escaping the key', presigned('s3.eu-west-1.amazonaws.com', '/acme-fw/gw/sha256-aa/../../evil/fw.bin')],
  ])('a URL to %s is REJECTED url-mismatch', (_what, url) => {
    expect(reason(check(envelope(payload({ artifacts: art() }), [f.ci], { fw: url })))).toBe('url-mismatch');
  });

  test('an unresolved placeholder is REJECTED placeholder-unresolved', () => {
    const ph = '${aws:iot:s3-presigned-url-v2:https://s3.eu-west-1.amazonaws.com/acme-fw/gw/sha256-aa/fw.bin}';
    expect(reason(check(envelope(payload({ artifacts: art() }), [f.ci], { fw: ph })))).toBe('placeholder-unresolved');
  });

  test('a missing URL is url-mismatch; an extra, unsigned URL is unsigned-field', () => {
    expect(reason(check(envelope(payload({ artifacts: art() }), [f.ci])))).toBe('url-mismatch');
    expect(reason(check(envelope(payload({ artifacts: art() }), [f.ci], { fw: good, extra: good })))).toBe('unsigned-field');
    expect(reason(check(envelope(payload(), [f.ci], { fw: good })))).toBe('unsigned-field');
  });

  test('a signed versionId must be the one in the URL', () => {
    const p = payload({ artifacts: art({ s3: { region: 'eu-west-1', bucket: 'acme-fw', key: 'gw/sha256-aa/fw.bin', versionId: 'v7' } }) });
    expect(check(envelope(p, [f.ci], { fw: `${good}&versionId=v7` }))).toMatchObject({ ok: true });
    expect(reason(check(envelope(p, [f.ci], { fw: `${good}&versionId=v6` })))).toBe('url-mismatch');
    expect(reason(check(envelope(p, [f.ci], { fw: good })))).toBe('url-mismatch');
  });

  test('a key with spaces and plus signs matches its percent-encoded URL', () => {
    const p = payload({ artifacts: art({ s3: { region: 'eu-west-1', bucket: 'acme-fw', key: 'gw/a b+c.bin' } }) });
    expect(check(envelope(p, [f.ci], { fw: presigned('s3.eu-west-1.amazonaws.com', '/acme-fw/gw/a%20b%2Bc.bin') }))).toMatchObject({ ok: true });
  });
});

describe('trust-update jobs', () => {
  test('a valid next version is accepted and returned; a skipped one is trust-store-error', () => {
    const next = makeStore({ ...f.spec, version: 2 }, [f.roots[0]!, f.roots[1]!]);
    const v = check(envelope(payload({ op: 'trust-update', doc: next.doc as never }), [f.approver, f.approver2]));
    expect(v.ok && v.trustUpdate?.version).toBe(2);
    const skip = makeStore({ ...f.spec, version: 3 }, [f.roots[0]!, f.roots[1]!]);
    expect(reason(check(envelope(payload({ op: 'trust-update', doc: skip.doc as never }), [f.approver, f.approver2])))).toBe('trust-store-error');
  });
});

test('property: any JSON value as a job document is refused with a reason, never a crash', () => {
  fc.assert(
    fc.property(fc.oneof(fc.jsonValue(), fc.record({ ija: fc.jsonValue(), jws: fc.jsonValue() }), fc.record({ ija: fc.constant(1), jws: fc.record({ payload: fc.string(), signatures: fc.array(fc.record({ protected: fc.string(), signature: fc.string() })) }) })), (doc) => {
      const v = check(doc);
      expect(v.ok).toBe(false);
      expect(verdictDetails(v)['ija:reason']).toMatch(/^[a-z-]+$/);
    }),
    { numRuns: 500 },
  );
});

test('a document no one could sign (garbage in every field) never throws', () => {
  const docs: unknown[] = [null, 1, 'x', [], { ija: 1 }, { ija: 1, jws: { payload: 1, signatures: [{}] } }, { ija: 1, jws: { payload: '!!', signatures: [{ protected: '!!', signature: '' }] } }];
  for (const d of docs) expect(reason(check(d))).toMatch(/unsigned|malformed-envelope|unsigned-field/);
});

test('verdict details stay within AWS limits and never carry control characters', () => {
  const env = envelope(payload(), [makeKey(`k${'x'.repeat(120)}`)]);
  const d = verdictDetails(check(env), { 'ija:clock': 'broker\nfloor' });
  expect(Object.keys(d).length).toBeLessThanOrEqual(10);
  for (const v of Object.values(d)) {
    expect(v.length).toBeLessThanOrEqual(1024);
    expect(v).not.toMatch(/\p{C}/u);
  }
});

describe('property: any change to a signed envelope', () => {
  test('is refused unless the document is still the same JSON value, and never throws', () => {
    const original = envelope(payload({ op: 'run-command' }), [f.approver, f.approver2]);
    const text = JSON.stringify(original);
    fc.assert(
      fc.property(fc.nat(text.length - 1), fc.constantFrom(...'AQgw09-_"{}[],:.=+/ \\eu'), (pos, ch) => {
        const mutated = text.slice(0, pos) + ch + text.slice(pos + 1);
        let doc: unknown;
        try {
          doc = JSON.parse(mutated);
        } catch {
          return;
        }
        const v = check(doc);
        expect(v.ok).toBe(isDeepStrictEqual(doc, original));
      }),
      { numRuns: 400 },
    );
  });
});
