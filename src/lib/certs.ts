/**
 * Certificate facts answered by Node's own crypto. Kept apart from `pki.ts` (which issues
 * certificates with @peculiar/x509) so the agent's start-up path never loads that library.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';

/** SHA-256 of the certificate's DER, hex: the form AWS IoT uses as a certificateId. */
export function certificateId(certPem: string): string {
  return certificateIdOfDer(new X509Certificate(certPem).raw);
}

/** The same, from DER bytes (e.g. a TLS peer certificate's `raw`). */
export function certificateIdOfDer(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

export function certMatchesKey(certPem: string, keyPem: string): boolean {
  try {
    return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}
