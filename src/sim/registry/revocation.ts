/**
 * The registry's certificate states as a CRL, for a broker that authenticates by its CA alone
 * (mosquitto's `crlfile`): every certificate the CA issued that may not connect — INACTIVE, REVOKED,
 * PENDING_ACTIVATION, an expired claim, deleted — is listed. A certificate from another CA cannot be
 * listed in this CA's CRL and is left out.
 */
import * as x509 from '@peculiar/x509';
import { createCrl } from '../../lib/pki';
import type { CrlEntry, KeyPairPem } from '../../lib/pki';
import type { DeniedCert } from './certificates';

interface Parsed {
  serialNumber: string;
  issuer: string;
}

export class RevocationList {
  private readonly caIssuer: string;
  private readonly parsed = new Map<string, Parsed | null>();

  constructor(private readonly ca: KeyPairPem) {
    this.caIssuer = new x509.X509Certificate(ca.certPem).subject;
  }

  /** The CRL entries for `denied` (those this CA issued), in a stable order. */
  entries(denied: readonly DeniedCert[]): CrlEntry[] {
    const out: CrlEntry[] = [];
    for (const d of denied) {
      const p = this.parse(d);
      if (p === null || p.issuer !== this.caIssuer) continue;
      out.push({ serialNumber: p.serialNumber, revocationDate: new Date(d.sinceMs) });
    }
    return out.sort((a, b) => a.serialNumber.localeCompare(b.serialNumber));
  }

  /** A key naming the listed serials: equal keys, equal lists (so an unchanged list is not rewritten). */
  static keyOf(entries: readonly CrlEntry[]): string {
    return entries.map((e) => e.serialNumber).join(',');
  }

  /** The entry for a certificate revoked now (the service's own probe certificate). */
  static entryOf(certPem: string): CrlEntry {
    return { serialNumber: new x509.X509Certificate(certPem).serialNumber, revocationDate: new Date() };
  }

  render(entries: readonly CrlEntry[]): Promise<string> {
    return createCrl(this.ca, entries);
  }

  private parse(d: DeniedCert): Parsed | null {
    let p = this.parsed.get(d.certificateId);
    if (p === undefined) {
      try {
        const c = new x509.X509Certificate(d.certificatePem);
        p = { serialNumber: c.serialNumber, issuer: c.issuer };
      } catch {
        p = null; // registered from a PEM the sim could not read again: nothing to list
      }
      this.parsed.set(d.certificateId, p);
    }
    return p;
  }
}
