/**
 * Minting certificates from the sim's CA into the certificate registry: CreateKeysAndCertificate,
 * CreateCertificateFromCsr (control plane and MQTT), RegisterCertificate(WithoutCA) for a
 * certificate made elsewhere, and CreateProvisioningClaim. Brokers such as mosquitto take the
 * identity from the certificate's CN, so a certificate's CN is the thing it is meant for: the
 * CSR's CN when it names a valid thing (a device whose key stays in its token sends that),
 * otherwise a placeholder naming the certificate.
 */
import { randomBytes } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { certificateId, issueCert, issueCertFromCsr } from '../../lib/pki';
import { LIMITS } from '../../jobs/types';
import type { CertificateStore, CertRecord, CertStatus } from './certificates';
import type { SimPki } from './pki-store';

export interface Minted {
  certificateArn: string;
  certificateId: string;
  certificatePem: string;
  record: CertRecord;
}

export interface MintedWithKeys extends Minted {
  keyPair: { PublicKey: string; PrivateKey: string };
}

/** The part of the service the issuer needs: things appear when a certificate is attached to them. */
export interface ThingMaker {
  createThing(name: string): void;
  hasThing(name: string): boolean;
}

export class IssueError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'IssueError';
  }
}

function csrCommonName(csrPem: string): string | undefined {
  try {
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    const cn = /(?:^|,\s*)CN=([^,]+)/.exec(csr.subject)?.[1];
    return cn !== undefined && LIMITS.thingName.test(cn) ? cn : undefined;
  } catch {
    return undefined;
  }
}

function placeholderName(): string {
  return `device-${randomBytes(6).toString('hex')}`;
}

function describeCert(pem: string): { certificateId: string; certificatePem: string; notBefore: Date; notAfter: Date } {
  const c = new x509.X509Certificate(pem);
  return { certificateId: certificateId(pem), certificatePem: pem, notBefore: c.notBefore, notAfter: c.notAfter };
}

export class Issuer {
  constructor(
    private readonly pki: SimPki,
    readonly certs: CertificateStore,
  ) {}

  private store(pem: string, status: CertStatus, extra: { claim?: string; token?: boolean } = {}): Minted {
    const rec = this.certs.add(describeCert(pem), status, extra);
    return { certificateArn: rec.certificateArn, certificateId: rec.certificateId, certificatePem: pem, record: rec };
  }

  async createKeysAndCertificate(status: CertStatus, extra: { claim?: string; token?: boolean } = {}): Promise<MintedWithKeys> {
    const kp = await issueCert(this.pki.ca, { commonName: placeholderName() });
    const pub = new x509.X509Certificate(kp.certPem).publicKey.toString('pem');
    return { ...this.store(kp.certPem, status, extra), keyPair: { PublicKey: pub, PrivateKey: kp.keyPem } };
  }

  async createCertificateFromCsr(csrPem: string, status: CertStatus, extra: { token?: boolean } = {}): Promise<Minted> {
    let certPem: string;
    try {
      ({ certPem } = await issueCertFromCsr(this.pki.ca, csrPem, { commonName: csrCommonName(csrPem) ?? placeholderName() }));
    } catch (err) {
      throw new IssueError('InvalidCertificateSigningRequest', (err as Error).message);
    }
    return this.store(certPem, status, extra);
  }

  /** A certificate made outside the sim (its own CA or another), known from now on. */
  registerCertificate(certPem: string, status: CertStatus): Minted {
    let info: ReturnType<typeof describeCert>;
    try {
      info = describeCert(certPem);
    } catch (err) {
      throw new IssueError('InvalidRequestException', `certificatePem is not a PEM X.509 certificate: ${(err as Error).message}`);
    }
    const known = this.certs.get(info.certificateId);
    if (known !== undefined) {
      return { certificateArn: known.certificateArn, certificateId: known.certificateId, certificatePem: known.certificatePem, record: known };
    }
    return this.store(certPem, status);
  }
}
