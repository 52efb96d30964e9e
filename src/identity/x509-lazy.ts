/**
 * @peculiar/x509 on first use. Loading it builds its ASN.1 schemas (tens of ms on a gateway's CPU),
 * and `run` imports this folder on every start, while a CSR is made only when enrolling or rotating.
 */
import type * as X509 from '@peculiar/x509';

export function x509(): typeof X509 {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy loading is the point
  return require('@peculiar/x509') as typeof X509;
}
