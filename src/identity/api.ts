/**
 * The fleet provisioning MQTT API (CreateCertificateFromCsr, CreateKeysAndCertificate,
 * RegisterThing) on one connection: subscribe to accepted/rejected first, then publish, then wait
 * for the answer within a bound. No request carries a correlation token, so answers are matched by
 * topic and one operation of a kind is in flight at a time (a lock per topic).
 */
import { AgentError, TimeoutError, errorMessage } from '../lib/errors';
import type { IncomingMessage, Transport } from '../transport/types';
import { ProvisioningRejectedError } from './errors';

export interface CertificateFromCsr {
  certificateId: string;
  certificatePem: string;
  certificateOwnershipToken: string;
}

export interface KeysAndCertificate extends CertificateFromCsr {
  privateKey: string;
}

export interface Registration {
  thingName: string;
  deviceConfiguration: Record<string, string>;
}

export const PROVISIONING_TOPICS = {
  createFromCsr: '$aws/certificates/create-from-csr/json',
  createKeys: '$aws/certificates/create/json',
  register: (template: string): string => `$aws/provisioning-templates/${template}/provision/json`,
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (o: Obj, k: string): string | undefined => (typeof o[k] === 'string' && o[k] !== '' ? o[k] : undefined);

function parse(payload: Buffer): Obj | undefined {
  try {
    const v = JSON.parse(payload.toString('utf8')) as unknown;
    return isObj(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

export class ProvisioningClient {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly transport: Transport, private readonly timeoutMs: number) {}

  async createCertificateFromCsr(csrPem: string): Promise<CertificateFromCsr> {
    const a = await this.call('CreateCertificateFromCsr', PROVISIONING_TOPICS.createFromCsr, { certificateSigningRequest: csrPem });
    return certificateFields('CreateCertificateFromCsr', a);
  }

  async createKeysAndCertificate(): Promise<KeysAndCertificate> {
    const a = await this.call('CreateKeysAndCertificate', PROVISIONING_TOPICS.createKeys, {});
    const privateKey = str(a, 'privateKey');
    if (privateKey === undefined) throw new ProvisioningRejectedError('CreateKeysAndCertificate', 502, 'MalformedResponse', 'no privateKey in the answer');
    return { ...certificateFields('CreateKeysAndCertificate', a), privateKey };
  }

  async registerThing(templateName: string, token: string, parameters: Record<string, string>): Promise<Registration> {
    const a = await this.call('RegisterThing', PROVISIONING_TOPICS.register(templateName), { certificateOwnershipToken: token, parameters });
    // A template without a Thing resource answers without a name; this agent needs one to work jobs.
    const thingName = str(a, 'thingName');
    if (thingName === undefined) {
      throw new ProvisioningRejectedError('RegisterThing', 400, 'NoThingName', `template ${templateName} names no thing (it needs a Thing resource)`);
    }
    const dc = isObj(a.deviceConfiguration) ? a.deviceConfiguration : {};
    const deviceConfiguration = Object.fromEntries(Object.entries(dc).filter((e): e is [string, string] => typeof e[1] === 'string'));
    return { thingName, deviceConfiguration };
  }

  private call(operation: string, topic: string, body: Obj): Promise<Obj> {
    const prev = this.locks.get(topic) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(() => this.once(operation, topic, body));
    this.locks.set(topic, run);
    return run;
  }

  private async once(operation: string, topic: string, body: Obj): Promise<Obj> {
    const accepted = `${topic}/accepted`;
    const rejected = `${topic}/rejected`;
    let onMessage: ((m: IncomingMessage) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const answer = new Promise<Obj>((resolve, reject) => {
      onMessage = (m: IncomingMessage): void => {
        if (m.topic !== accepted && m.topic !== rejected) return;
        const payload = parse(m.payload);
        if (payload === undefined) return; // not ours to judge; a malformed answer is waited out
        if (m.topic === accepted) resolve(payload);
        else {
          const code = typeof payload.statusCode === 'number' ? payload.statusCode : 500;
          reject(new ProvisioningRejectedError(operation, code, str(payload, 'errorCode') ?? 'Unknown', str(payload, 'errorMessage') ?? ''));
        }
      };
      timer = setTimeout(() => reject(new TimeoutError(`${operation} (no answer on ${accepted})`, this.timeoutMs)), this.timeoutMs);
      timer.unref();
    });
    this.transport.on('message', onMessage!);
    try {
      await this.transport.subscribe([accepted, rejected], 1);
      await this.transport.publish(topic, JSON.stringify(body), 1);
      return await answer;
    } catch (err) {
      if (err instanceof ProvisioningRejectedError || err instanceof TimeoutError) throw err;
      // Subscribe or publish refused, or offline: with a claim certificate, usually its IoT policy.
      throw new AgentError('ProvisioningUnreachable', `${operation}: ${errorMessage(err)}`, { retryable: true, cause: err });
    } finally {
      clearTimeout(timer);
      this.transport.off('message', onMessage!);
      answer.catch(() => undefined);
      await this.transport.unsubscribe([accepted, rejected]).catch(() => undefined);
    }
  }
}

function certificateFields(operation: string, a: Obj): CertificateFromCsr {
  const certificateId = str(a, 'certificateId');
  const certificatePem = str(a, 'certificatePem');
  const certificateOwnershipToken = str(a, 'certificateOwnershipToken');
  if (!certificateId || !certificatePem || !certificateOwnershipToken) {
    throw new ProvisioningRejectedError(operation, 502, 'MalformedResponse', 'certificateId, certificatePem or certificateOwnershipToken missing');
  }
  return { certificateId, certificatePem, certificateOwnershipToken };
}
