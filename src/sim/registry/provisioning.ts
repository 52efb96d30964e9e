/**
 * Provisioning the AWS way (CreateKeysAndCertificate, CreateCertificateFromCsr, AttachThingPrincipal)
 * against the sim's CA. Brokers such as mosquitto take the identity from the certificate's CN, so a
 * certificate's CN is the thing it is meant for: the CSR's CN when it names a valid thing (a device
 * whose key stays in its token sends that), otherwise a placeholder until it is attached.
 */
import * as x509 from '@peculiar/x509';
import { certificateId, issueCert, issueCertFromCsr } from '../../lib/pki';
import { LIMITS } from '../../jobs/types';
import type { SimPki } from './pki-store';

export interface Issuer {
  createKeysAndCertificate(): Promise<{ certificateArn: string; certificateId: string; certificatePem: string; keyPair: { PublicKey: string; PrivateKey: string } }>;
  createCertificateFromCsr(csrPem: string): Promise<{ certificateArn: string; certificateId: string; certificatePem: string }>;
  attachThingPrincipal(thing: string, principalArn: string): Promise<void>;
  /** The thing a certificate was attached to, by certificateId. */
  thingOf(certId: string): string | undefined;
}

function arnOf(id: string): string {
  return `arn:aws:iot:us-east-1:123456789012:cert/${id}`;
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

/** The part of the service the issuer needs: things appear when a certificate is attached to them. */
export interface ThingMaker {
  createThing(name: string): void;
}

export function createIssuer(pki: SimPki, service: ThingMaker): Issuer {
  const attached = new Map<string, string>();
  return {
    async createKeysAndCertificate() {
      const kp = await issueCert(pki.ca, { commonName: `device-${Date.now().toString(36)}` });
      const id = certificateId(kp.certPem);
      const pub = new x509.X509Certificate(kp.certPem).publicKey.toString('pem');
      return { certificateArn: arnOf(id), certificateId: id, certificatePem: kp.certPem, keyPair: { PublicKey: pub, PrivateKey: kp.keyPem } };
    },
    async createCertificateFromCsr(csrPem: string) {
      const { certPem } = await issueCertFromCsr(pki.ca, csrPem, { commonName: csrCommonName(csrPem) ?? `device-${Date.now().toString(36)}` });
      const id = certificateId(certPem);
      return { certificateArn: arnOf(id), certificateId: id, certificatePem: certPem };
    },
    attachThingPrincipal(thing: string, principalArn: string) {
      const id = /cert\/([0-9a-f]{64})$/.exec(principalArn)?.[1];
      if (!id) return Promise.reject(new Error(`principal ${principalArn} is not a certificate ARN`));
      service.createThing(thing);
      attached.set(id, thing);
      return Promise.resolve();
    },
    thingOf: (id) => attached.get(id),
  };
}
