/**
 * The trust store (docs/SIGNING.md): which keys exist, with which algorithm, in which roles, which ops
 * need how many of which roles, and the root keys (K of N) that sign the store itself.
 */
import type { KeyObject } from 'node:crypto';
import { b64urlDecode } from './b64url';
import { canonicalBytes } from './canonical';
import { importPublicKey, isAlg, verifyBytes } from './keys';
import type { Alg } from './keys';
import { TrustError } from './reasons';
import { NAME, Shape, quote } from './shape';
import type { JsonObject } from './shape';
import { StrictJsonError, parseStrictJson } from './strict-json';

export interface Policy {
  require: Record<string, number>;
  maxValiditySeconds?: number;
  continuous?: boolean;
  requireSeq?: boolean;
}

/** The store as written in the file (`{signed, signatures}`). */
export interface TrustStoreDoc {
  signed: {
    type: 'ija-trust';
    version: number;
    root: { kids: string[]; threshold: number };
    keys: Record<string, { alg: Alg; pub: string }>;
    roles: Record<string, string[]>;
    policies: Record<string, Policy>;
    revoked?: { kids: string[] };
  };
  signatures: { kid: string; sig: string }[];
}

/** A validated store with its keys imported. It is not yet known to be root-signed. */
export interface TrustStore {
  readonly doc: TrustStoreDoc;
  readonly version: number;
  readonly keys: ReadonlyMap<string, { alg: Alg; key: KeyObject }>;
  readonly rootKids: ReadonlySet<string>;
  readonly threshold: number;
  /** kid → the roles it holds. */
  readonly rolesOf: ReadonlyMap<string, ReadonlySet<string>>;
  readonly policies: ReadonlyMap<string, Policy>;
  readonly revoked: ReadonlySet<string>;
}

const err = (msg: string): TrustError => new TrustError('trust-store-error', msg);

/** Parses a trust-store file strictly (duplicate keys, floats, nulls refused) and validates it. */
export function parseTrustStoreText(text: string | Uint8Array): TrustStore {
  let value: unknown;
  try {
    value = parseStrictJson(text, { maxDepth: 16 });
  } catch (e) {
    if (e instanceof StrictJsonError) throw err(`trust store is not strict JSON: ${e.message}`);
    throw e;
  }
  return validateTrustStore(value);
}

/** Checks a trust store's structure and imports its keys; every problem is named in the error. */
export function validateTrustStore(value: unknown): TrustStore {
  const s = new Shape();
  const top = s.object(value, 'trust store', ['signed', 'signatures']);
  const signed = s.object(top?.signed, 'signed', ['type', 'version', 'root', 'keys', 'roles', 'policies'], ['revoked']);
  if (signed && signed.type !== 'ija-trust') s.add('signed.type: expected "ija-trust"');
  const version = s.int(signed?.version, 'signed.version', 1);
  const keys = importKeys(s, signed?.keys);
  const root = s.object(signed?.root, 'signed.root', ['kids', 'threshold']);
  const rootKids = s.names(root?.kids, 'signed.root.kids');
  if (root && rootKids.length === 0) s.add('signed.root.kids: at least one root key');
  const threshold = s.int(root?.threshold, 'signed.root.threshold', 1, Math.max(1, rootKids.length));
  for (const kid of rootKids) if (!keys.has(kid)) s.add(`signed.root.kids: ${quote(kid)} is not in signed.keys`);
  const rolesOf = readRoles(s, signed?.roles, keys, new Set(rootKids));
  const policies = readPolicies(s, signed?.policies, rolesOf);
  const revoked = s.names(s.object(signed?.revoked ?? { kids: [] }, 'signed.revoked', ['kids'])?.kids, 'signed.revoked.kids');
  readSignatures(s, top?.signatures);
  if (s.problems.length || version === undefined || threshold === undefined) throw err(`invalid trust store: ${s.problems.join('; ')}`);
  return {
    doc: value as TrustStoreDoc,
    version,
    keys,
    rootKids: new Set(rootKids),
    threshold,
    rolesOf,
    policies,
    revoked: new Set(revoked),
  };
}

function importKeys(s: Shape, v: unknown): Map<string, { alg: Alg; key: KeyObject }> {
  const out = new Map<string, { alg: Alg; key: KeyObject }>();
  // A key counts once: one key under two kids would let one holder fill two slots of a policy.
  const kidOf = new Map<string, string>();
  const keys = s.record(v, 'signed.keys');
  for (const [kid, entry] of Object.entries(keys ?? {})) {
    if (!NAME.test(kid)) s.add(`signed.keys: kid ${quote(kid)} is not a name matching ${NAME.source}`);
    const e = s.object(entry, `signed.keys.${kid}`, ['alg', 'pub']);
    if (!e) continue;
    if (!isAlg(e.alg)) {
      s.add(`signed.keys.${kid}.alg: expected "EdDSA" or "ES256"`);
      continue;
    }
    try {
      const key = importPublicKey(String(e.pub), e.alg);
      const der = key.export({ type: 'spki', format: 'der' }).toString('base64');
      const other = kidOf.get(der);
      if (other !== undefined) s.add(`signed.keys: ${quote(kid)} is the same key as ${quote(other)}`);
      kidOf.set(der, kid);
      out.set(kid, { alg: e.alg, key });
    } catch (x) {
      s.add(`signed.keys.${kid}.pub: ${(x as Error).message}`);
    }
  }
  return out;
}

function readRoles(s: Shape, v: unknown, keys: ReadonlyMap<string, unknown>, roots: ReadonlySet<string>): Map<string, Set<string>> {
  const rolesOf = new Map<string, Set<string>>();
  const roles = s.record(v, 'signed.roles');
  for (const [role, kidsV] of Object.entries(roles ?? {})) {
    if (!NAME.test(role)) s.add(`signed.roles: ${quote(role)} is not a name`);
    for (const kid of s.names(kidsV, `signed.roles.${role}`)) {
      if (!keys.has(kid)) s.add(`signed.roles.${role}: ${quote(kid)} is not in signed.keys`);
      if (roots.has(kid)) s.add(`signed.roles.${role}: ${quote(kid)} is a root key; root keys sign only trust stores`);
      rolesOf.set(kid, (rolesOf.get(kid) ?? new Set()).add(role));
    }
  }
  return rolesOf;
}

function readPolicies(s: Shape, v: unknown, rolesOf: ReadonlyMap<string, ReadonlySet<string>>): Map<string, Policy> {
  // A Map, not an object: an op named "__proto__" or "toString" must find no policy.
  const out = new Map<string, Policy>();
  const policies = s.record(v, 'signed.policies');
  for (const [op, pv] of Object.entries(policies ?? {})) {
    const at = `signed.policies.${op}`;
    if (!NAME.test(op)) s.add(`signed.policies: ${quote(op)} is not a name`);
    const p = s.object(pv, at, ['require'], ['maxValiditySeconds', 'continuous', 'requireSeq']);
    if (!p) continue;
    const require = readRequire(s, p.require, `${at}.require`, rolesOf);
    const policy: Policy = { require };
    if (p.maxValiditySeconds !== undefined) policy.maxValiditySeconds = s.int(p.maxValiditySeconds, `${at}.maxValiditySeconds`, 1);
    if (p.continuous !== undefined) policy.continuous = s.bool(p.continuous, `${at}.continuous`);
    if (p.requireSeq !== undefined) policy.requireSeq = s.bool(p.requireSeq, `${at}.requireSeq`);
    out.set(op, policy);
  }
  return out;
}

function readRequire(s: Shape, v: unknown, at: string, rolesOf: ReadonlyMap<string, ReadonlySet<string>>): Record<string, number> {
  const req = s.record(v, at) ?? {};
  const out: Record<string, number> = {};
  if (Object.keys(req).length === 0) s.add(`${at}: name at least one role`);
  for (const [role, count] of Object.entries(req)) {
    const members = [...rolesOf.values()].filter((r) => r.has(role)).length;
    const n = s.int(count, `${at}.${role}`, 1, 1000);
    if (n === undefined) continue;
    if (n > members) s.add(`${at}.${role}: needs ${n} key(s) of role ${quote(role)}, which has ${members}`);
    Object.defineProperty(out, role, { value: n, enumerable: true });
  }
  return out;
}

function readSignatures(s: Shape, v: unknown): void {
  if (!Array.isArray(v)) {
    s.add('signatures: expected an array');
    return;
  }
  v.forEach((e, i) => {
    const o: JsonObject | undefined = s.object(e, `signatures[${i}]`, ['kid', 'sig']);
    s.str(o?.kid, `signatures[${i}].kid`, NAME);
    s.str(o?.sig, `signatures[${i}].sig`, /^[A-Za-z0-9_-]+$/);
  });
}

/** The bytes root keys sign: RFC 8785 of `signed`. */
export function trustSigningInput(doc: TrustStoreDoc): Buffer {
  return canonicalBytes(doc.signed);
}

/**
 * The distinct root kids of `roots` whose signature over `store` verifies (a kid counts once;
 * a revoked root counts never).
 */
export function verifiedRootKids(store: TrustStore, roots: TrustStore): string[] {
  const input = trustSigningInput(store.doc);
  const ok = new Set<string>();
  for (const { kid, sig } of store.doc.signatures) {
    const k = roots.keys.get(kid);
    if (!k || !roots.rootKids.has(kid) || roots.revoked.has(kid) || ok.has(kid)) continue;
    let bytes: Buffer;
    try {
      bytes = b64urlDecode(sig, `signature of ${kid}`, 'trust-store-error');
    } catch {
      continue;
    }
    if (verifyBytes(k.alg, k.key, input, bytes)) ok.add(kid);
  }
  return [...ok].sort();
}

/** Throws unless K of the store's own roots signed it. */
export function verifySelfSigned(store: TrustStore): void {
  const kids = verifiedRootKids(store, store);
  if (kids.length < store.threshold) {
    throw err(`trust store version ${store.version} is signed by ${kids.length} of its root keys, needs ${store.threshold}`);
  }
}

/** Parse, validate and check the root signatures: the one call for a store read from disk. */
export function loadTrustStore(text: string | Uint8Array): TrustStore {
  const store = parseTrustStoreText(text);
  verifySelfSigned(store);
  return store;
}

/**
 * Whether `next` may replace `current`: exactly one version higher (no skipping, never back),
 * K of the current roots AND K of the next roots signed it (TUF's root rotation rule).
 */
export function verifyTrustUpdate(current: TrustStore, next: TrustStore): void {
  if (next.version !== current.version + 1) {
    const what = next.version <= current.version ? 'would roll back or repeat' : 'skips a version';
    throw err(`trust store version ${next.version} ${what}: the device holds version ${current.version}, only ${current.version + 1} may follow`);
  }
  const old = verifiedRootKids(next, current);
  if (old.length < current.threshold) {
    throw err(`trust store version ${next.version} is signed by ${old.length} of version ${current.version}'s root keys, needs ${current.threshold}`);
  }
  verifySelfSigned(next);
}

/** Of two stores that each verified (e.g. the OS image's and the persisted one), the newer. */
export function newerStore(a: TrustStore, b: TrustStore): TrustStore {
  return b.version > a.version ? b : a;
}
