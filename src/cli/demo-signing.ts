/**
 * The demo's operator side of signed job documents (docs/SIGNING.md): a root key and an operator
 * key made on the spot, a trust store the root signed, and an envelope for each demo job — what an
 * operator's `keys generate`, `trust sign` and `job sign` produce, done in-process.
 */
import { createPrivateKey, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { generateKeyPair, signPayload, signTrustStore, validateTrustStore } from '../trust';
import type { JobPayload, Policy, TrustStoreDoc } from '../trust';

export interface DemoSigner {
  /** The trust store file the demo agent's `trust.storeFile` names. */
  storeFile: string;
  /** An envelope for `doc` as job `jobId` in namespace `ns` ('' = default) for `thing`. */
  sign(jobId: string, ns: string, thing: string, doc: Record<string, unknown>, maxAttempts?: number): object;
}

export async function demoSigner(storeFile: string, ops: readonly string[]): Promise<DemoSigner> {
  const root = generateKeyPair('EdDSA');
  const operator = generateKeyPair('EdDSA');
  const policies: Record<string, Policy> = {};
  for (const op of ops) policies[op] = { require: { operator: 1 }, maxValiditySeconds: 86400 };
  const unsigned: TrustStoreDoc = {
    signed: {
      type: 'ija-trust',
      version: 1,
      root: { kids: ['demo-root'], threshold: 1 },
      keys: { 'demo-root': { alg: 'EdDSA', pub: root.publicPem }, 'demo-operator': { alg: 'EdDSA', pub: operator.publicPem } },
      roles: { operator: ['demo-operator'] },
      policies,
    },
    signatures: [],
  };
  const store = signTrustStore(validateTrustStore(unsigned), createPrivateKey(root.privatePem), 'demo-root');
  await writeFile(storeFile, `${JSON.stringify(store, null, 2)}\n`, { mode: 0o644 });
  const key = createPrivateKey(operator.privatePem);
  return {
    storeFile,
    sign(jobId, ns, thing, doc, maxAttempts) {
      const now = Math.floor(Date.now() / 1000);
      const op = typeof doc.operation === 'string' ? doc.operation : '';
      const p: JobPayload = { v: 1, jti: randomBytes(16).toString('base64url'), iat: now, exp: now + 3600, job: { id: jobId, ns }, aud: { things: [thing] }, op, doc: doc as JobPayload['doc'], ...(maxAttempts ? { maxAttempts } : {}) };
      return signPayload(p, key, 'demo-operator');
    },
  };
}
