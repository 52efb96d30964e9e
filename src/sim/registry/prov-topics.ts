/**
 * The fleet provisioning MQTT API's topics (docs/PROVISIONING.md §1): the three request topics a
 * device publishes to, in JSON or CBOR, and their `accepted` / `rejected` answers.
 */
export type ProvisioningOp = 'CreateKeysAndCertificate' | 'CreateCertificateFromCsr' | 'RegisterThing';
export type PayloadFormat = 'json' | 'cbor';

export interface ProvisioningRequest {
  op: ProvisioningOp;
  format: PayloadFormat;
  /** RegisterThing only. */
  templateName?: string;
  /** The request topic; answers go to `${topic}/accepted` and `${topic}/rejected`. */
  topic: string;
}

const CREATE = /^\$aws\/certificates\/(create|create-from-csr)\/(json|cbor)$/;
const PROVISION = /^\$aws\/provisioning-templates\/([^/]+)\/provision\/(json|cbor)$/;

export function parseProvisioningTopic(topic: string): ProvisioningRequest | null {
  const c = CREATE.exec(topic);
  if (c) return { op: c[1] === 'create' ? 'CreateKeysAndCertificate' : 'CreateCertificateFromCsr', format: c[2] as PayloadFormat, topic };
  const p = PROVISION.exec(topic);
  if (p) return { op: 'RegisterThing', format: p[2] as PayloadFormat, templateName: p[1], topic };
  return null;
}

/** A topic of the provisioning API, request or answer (a device may only subscribe to answers). */
export function isProvisioningTopic(topic: string): boolean {
  return topic.startsWith('$aws/certificates/create') || topic.startsWith('$aws/provisioning-templates/');
}

/** An answer topic (or a filter over answers): only the service publishes there. */
export function isProvisioningAnswerTopic(topic: string): boolean {
  return isProvisioningTopic(topic) && /\/(accepted|rejected|#|\+)$/.test(topic);
}
