/** Adding one root signature to a trust store (the operator's `trust sign`). */
import type { KeyObject } from 'node:crypto';
import { b64urlEncode } from './b64url';
import { algOfSigner, publicPem, signBytes } from './keys';
import type { Signer } from './keys';
import { TrustError } from './reasons';
import { NAME } from './shape';
import type { TrustStore, TrustStoreDoc } from './store';
import { trustSigningInput } from './store';

/**
 * Signs `signed` with a root key. The kid may be one of this store's roots (its public key must
 * match) or a key the store does not list at all: a previous version's root co-signing a rotation.
 * A kid that already signed is refused; so is a non-root key of this store.
 */
export function signTrustStore(store: TrustStore, key: KeyObject | Signer, kid: string): TrustStoreDoc {
  if (!NAME.test(kid)) throw new TrustError('trust-store-error', `kid ${JSON.stringify(kid)} is not a name`);
  const doc = store.doc;
  if (doc.signatures.some((s) => s.kid === kid)) throw new TrustError('trust-store-error', `kid ${JSON.stringify(kid)} already signed this trust store`);
  const listed = store.keys.get(kid);
  if (listed && !store.rootKids.has(kid)) throw new TrustError('trust-store-error', `kid ${JSON.stringify(kid)} is not a root key of this trust store; only root keys sign it`);
  if (listed && publicPem(listed.key) !== publicPem(key)) throw new TrustError('trust-store-error', `the key does not match the public key listed for ${JSON.stringify(kid)}`);
  algOfSigner(key);
  const sig = b64urlEncode(signBytes(key, trustSigningInput(doc)));
  return { signed: doc.signed, signatures: [...doc.signatures, { kid, sig }] };
}
