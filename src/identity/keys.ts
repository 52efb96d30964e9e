/**
 * Key pairs made on the device and their certificate signing requests. EC P-256: AWS IoT accepts it,
 * it is small and fast on a gateway, and the key never leaves the device (CreateCertificateFromCsr).
 */
import { createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import type * as X509 from '@peculiar/x509';
import { x509 } from './x509-lazy';

type X509Crypto = NonNullable<Parameters<typeof X509.Pkcs10CertificateRequestGenerator.create>[1]>;
const crypto = webcrypto as unknown as X509Crypto;
const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/** A new private key, PKCS#8 PEM. */
export async function generateKeyPem(): Promise<string> {
  const keys = await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify']);
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return x509().PemConverter.encode(der, 'PRIVATE KEY');
}

/**
 * A PKCS#10 request signed with `keyPem`. The subject is a hint only: AWS (and the sim) decide the
 * certificate's subject, never the device.
 */
export async function csrFor(keyPem: string, commonName: string): Promise<string> {
  const der = createPrivateKey(keyPem).export({ format: 'der', type: 'pkcs8' });
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, EC_ALG, false, ['sign']);
  const spki = createPublicKey(keyPem).export({ format: 'der', type: 'spki' });
  const publicKey = await webcrypto.subtle.importKey('spki', spki, EC_ALG, true, ['verify']);
  const csr = await x509().Pkcs10CertificateRequestGenerator.create(
    { name: [{ CN: [commonName] }], keys: { privateKey, publicKey }, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } },
    crypto,
  );
  return csr.toString('pem');
}
