/**
 * Test fixtures for signed jobs: real key pairs, a root-signed trust store and envelopes built
 * with the project's own signing code (the interop tests cross-check them with `jose`).
 */
import { createPrivateKey, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { generateKeyPair, signPayload, signTrustStore, validateTrustStore } from '../../src/trust';
import type { Alg, Envelope, JobPayload, Policy, TrustStore, TrustStoreDoc } from '../../src/trust';

export interface TestKey {
  kid: string;
  alg: Alg;
  privateKey: KeyObject;
  privatePem: string;
  publicPem: string;
}

export function makeKey(kid: string, alg: Alg = 'EdDSA'): TestKey {
  const pair = generateKeyPair(alg);
  return { kid, alg, privateKey: createPrivateKey(pair.privatePem), privatePem: pair.privatePem, publicPem: pair.publicPem };
}

export interface StoreSpec {
  version?: number;
  roots: TestKey[];
  threshold?: number;
  roles: Record<string, TestKey[]>;
  policies: Record<string, Policy>;
  revoked?: string[];
  /** Extra keys listed in `keys` but in no role. */
  extraKeys?: TestKey[];
}

/** The unsigned document of a store. */
export function storeDoc(spec: StoreSpec): TrustStoreDoc {
  const all = [...spec.roots, ...Object.values(spec.roles).flat(), ...(spec.extraKeys ?? [])];
  const keys: TrustStoreDoc['signed']['keys'] = {};
  for (const k of all) keys[k.kid] = { alg: k.alg, pub: k.publicPem };
  const roles: Record<string, string[]> = {};
  for (const [r, ks] of Object.entries(spec.roles)) roles[r] = ks.map((k) => k.kid);
  return {
    signed: {
      type: 'ija-trust',
      version: spec.version ?? 1,
      root: { kids: spec.roots.map((k) => k.kid), threshold: spec.threshold ?? spec.roots.length },
      keys,
      roles,
      policies: spec.policies,
      ...(spec.revoked ? { revoked: { kids: spec.revoked } } : {}),
    },
    signatures: [],
  };
}

/** Signs a store document with each given root key, in order. */
export function signStore(doc: TrustStoreDoc, signers: TestKey[]): TrustStoreDoc {
  let out = doc;
  for (const k of signers) out = signTrustStore(validateTrustStore(out), k.privateKey, k.kid);
  return out;
}

/** A store signed by all its roots, validated. */
export function makeStore(spec: StoreSpec, signers = spec.roots): TrustStore {
  return validateTrustStore(signStore(storeDoc(spec), signers));
}

export const NOW = 1_780_000_000; // 2026-05-28

/** A valid payload for job `job-1` to thing `gw-1`, valid for an hour from NOW. */
export function payload(over: Partial<JobPayload> = {}): JobPayload {
  return {
    v: 1,
    jti: randomBytes(16).toString('base64url'),
    iat: NOW,
    exp: NOW + 3600,
    job: { id: 'job-1', ns: '' },
    aud: { things: ['gw-1'] },
    op: 'run-script',
    doc: { version: '1.0', steps: [{ action: { name: 'hello', type: 'runHandler', input: { handler: 'hello.sh' } } }] },
    ...over,
  };
}

/** An envelope signed by each key in turn. */
export function envelope(p: JobPayload, signers: TestKey[], urls?: Record<string, string>): Envelope {
  const [first, ...rest] = signers;
  let env = signPayload(p, first!.privateKey, first!.kid, urls);
  for (const k of rest) env = { ...env, jws: { ...env.jws, signatures: [...env.jws.signatures, signPayload(p, k.privateKey, k.kid).jws.signatures[0]!] } };
  return env;
}

/** A typical fleet: 2-of-3 roots, ci + approver for installs, one oncall key for reboots. */
export function fleet(): { roots: TestKey[]; ci: TestKey; approver: TestKey; approver2: TestKey; oncall: TestKey; store: TrustStore; spec: StoreSpec } {
  const roots = [makeKey('root-a'), makeKey('root-b', 'ES256'), makeKey('root-c')];
  const ci = makeKey('ci-1');
  const approver = makeKey('approver-alice', 'ES256');
  const approver2 = makeKey('approver-bob');
  const oncall = makeKey('oncall-1');
  const spec: StoreSpec = {
    roots,
    threshold: 2,
    roles: { ci: [ci], approver: [approver, approver2], oncall: [oncall] },
    policies: {
      'run-script': { require: { ci: 1 }, maxValiditySeconds: 86400 },
      'install-package': { require: { ci: 1, approver: 1 }, maxValiditySeconds: 30 * 86400, continuous: true, requireSeq: true },
      'run-command': { require: { approver: 2 }, maxValiditySeconds: 3600 },
      reboot: { require: { oncall: 1 } },
      'trust-update': { require: { approver: 2 } },
    },
  };
  return { roots, ci, approver, approver2, oncall, store: makeStore(spec, roots.slice(0, 2)), spec };
}
