/**
 * Device identity in the local service: the certificate registry and its states, provisioning
 * templates, and the fleet provisioning MQTT API (CreateKeysAndCertificate,
 * CreateCertificateFromCsr, RegisterThing) that ties them to things and thing groups — so a device
 * enrolled by claim joins its template's groups, and a CONTINUOUS job on a group reaches it at once.
 * Answers go only to the requesting connection (`Publication.to`); the fronts honour that where the
 * broker lets them (docs/PROVISIONING.md).
 */
import type { Clock } from '../lib/clock';
import { certificateIdOfDer } from '../lib/certs';
import { CertificateStore } from './registry/certificates';
import type { CertRecord } from './registry/certificates';
import { Issuer, IssueError } from './registry/provisioning';
import type { SimPki } from './registry/pki-store';
import { parseProvisioningTopic } from './registry/prov-topics';
import type { ProvisioningRequest } from './registry/prov-topics';
import { ProvisioningTemplateStore } from './registry/prov-templates';
import { ThingInfoStore } from './registry/things';
import { ProvisioningFaults } from './registry/prov-faults';
import { callHook } from './registry/hook';
import { registerThing } from './register-thing';
import type { RegisterDeps } from './register-thing';
import { decodePayload, ProvError } from './registry/prov-payload';
import type { JobsService } from './service';
import type { Connection, Publication, Result, ServiceError } from './types';

export interface IdentityInit {
  service: JobsService;
  clock: Clock;
  pki: SimPki;
  publish: (p: Publication) => void;
  region?: string;
  accountId?: string;
  /** Told each failure of a provisioning request, for the sim's log. */
  onRefused?: (info: { op: string; clientId: string; statusCode: number; errorCode: string; errorMessage: string }) => void;
}

const e = (name: string, status: number, message: string): ServiceError => ({ name, status, message });

export class IdentityService {
  readonly certs: CertificateStore;
  readonly templates: ProvisioningTemplateStore;
  readonly things: ThingInfoStore;
  readonly issuer: Issuer;
  readonly arnPrefix: string;
  /** Refusals injected on the provisioning API (`PUT /sim/provisioning-faults`). */
  readonly faults = new ProvisioningFaults();
  private readonly statusListeners = new Set<(rec: CertRecord) => void>();
  private readonly settlers = new Set<() => Promise<void>>();

  constructor(private readonly init: IdentityInit) {
    this.arnPrefix = `arn:aws:iot:${init.region ?? 'us-east-1'}:${init.accountId ?? '123456789012'}`;
    this.certs = new CertificateStore(init.clock, this.arnPrefix);
    this.templates = new ProvisioningTemplateStore(() => init.clock.now(), this.arnPrefix, init.service.options.templateEnabledByDefault);
    this.things = new ThingInfoStore();
    this.issuer = new Issuer(init.pki, this.certs);
  }

  get service(): JobsService {
    return this.init.service;
  }

  // ---- connections

  /** Who a client certificate is, or undefined when it may not connect (unknown, not ACTIVE, expired claim). */
  identify(der: Uint8Array): { certificateId: string; thing?: string } | undefined {
    const id = certificateIdOfDer(der);
    if (!this.certs.mayConnect(id)) return undefined;
    const thing = this.certs.thingOf(id);
    return thing === undefined ? { certificateId: id } : { certificateId: id, thing };
  }

  /** Called with a certificate whose status changed (fronts drop its connections when it is no longer ACTIVE). */
  onStatusChange(fn: (rec: CertRecord) => void): () => void {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }

  statusChanged(rec: CertRecord): void {
    for (const fn of this.statusListeners) fn(rec);
  }

  /** Work that must finish before a change is answered (an external broker's CRL brought up to date). */
  addSettler(fn: () => Promise<void>): () => void {
    this.settlers.add(fn);
    return () => this.settlers.delete(fn);
  }

  /** Resolves once every registry change so far is in force everywhere the sim enforces it. */
  async settled(): Promise<void> {
    for (const fn of this.settlers) await fn();
  }

  /** A thing's certificate made outside the control plane (the sim's own per-thing certificates, a test PKI). */
  registerThingCertificate(certPem: string, thing: string): CertRecord {
    const m = this.issuer.registerCertificate(certPem, 'ACTIVE');
    if (!this.service.hasThing(thing)) this.service.createThing(thing);
    this.certs.attach(m.certificateId, thing);
    return m.record;
  }

  // ---- the MQTT API

  /** A publish on a provisioning request topic; false when the topic is not one. */
  handleMqtt(conn: Connection, topic: string, payload: Buffer): Promise<void> | false {
    const req = parseProvisioningTopic(topic);
    if (req === null) return false;
    return this.answer(conn, req, payload);
  }

  private async answer(conn: Connection, req: ProvisioningRequest, payload: Buffer): Promise<void> {
    let body: unknown;
    try {
      const fault = this.faults.take(req.op);
      if (fault !== undefined) throw new ProvError(fault.statusCode, fault.errorCode, `${req.op} refused by an injected fault (${fault.statusCode} ${fault.errorCode})`);
      const input = decodePayload(payload, req.format, req.op !== 'RegisterThing' && req.op !== 'CreateCertificateFromCsr');
      body = await this.run(conn, req, input);
      // A device acts on the answer at once (connects with its new certificate): states first.
      await this.settled();
    } catch (err) {
      // A bug costs one request (answered 500 and logged), never the broker.
      const p = err instanceof ProvError ? err : new ProvError(500, 'InternalError', 'internal error');
      const detail = err instanceof ProvError ? p.message : `${p.message}: ${String((err as Error)?.stack ?? err)}`;
      this.init.onRefused?.({ op: req.op, clientId: conn.clientId, statusCode: p.statusCode, errorCode: p.errorCode, errorMessage: detail });
      this.reply(conn, req, 'rejected', { statusCode: p.statusCode, errorCode: p.errorCode, errorMessage: p.message });
      return;
    }
    this.reply(conn, req, 'accepted', body);
  }

  private reply(conn: Connection, req: ProvisioningRequest, outcome: 'accepted' | 'rejected', payload: unknown): void {
    this.init.publish({
      topic: `${req.topic}/${outcome}`,
      payload,
      to: conn.clientId,
      thing: conn.thing ?? '',
      kind: 'response',
      ...(req.format === 'cbor' ? { format: 'cbor' as const } : {}),
    });
  }

  private async run(conn: Connection, req: ProvisioningRequest, input: Record<string, unknown>): Promise<unknown> {
    if (req.op === 'CreateKeysAndCertificate') {
      const m = await this.issuer.createKeysAndCertificate('PENDING_ACTIVATION', { token: true });
      return { certificateId: m.certificateId, certificatePem: m.certificatePem, privateKey: m.keyPair.PrivateKey, certificateOwnershipToken: m.record.token?.value };
    }
    if (req.op === 'CreateCertificateFromCsr') {
      const csr = input.certificateSigningRequest;
      if (typeof csr !== 'string' || csr.length === 0) throw new ProvError(400, 'InvalidPayload', 'certificateSigningRequest is required');
      try {
        const m = await this.issuer.createCertificateFromCsr(csr, 'PENDING_ACTIVATION', { token: true });
        return { certificateOwnershipToken: m.record.token?.value, certificateId: m.certificateId, certificatePem: m.certificatePem };
      } catch (err) {
        if (err instanceof IssueError) throw new ProvError(400, err.code, err.message);
        throw err;
      }
    }
    return registerThing(this.registerDeps(), conn, req.templateName ?? '', input);
  }

  private registerDeps(): RegisterDeps {
    return { identity: this, callHook, tokenReuse: this.service.options.ownershipTokenReuse };
  }

  // ---- control plane: certificates

  describeCertificate(id: string): Result<Record<string, unknown>> {
    const rec = this.certs.get(id);
    if (rec === undefined || rec.claimExpiresMs !== undefined) return { ok: false, error: e('ResourceNotFoundException', 404, `The certificate ${id} does not exist`) };
    return { ok: true, value: { certificateDescription: certificateView(rec, true) } };
  }

  listCertificates(): Record<string, unknown>[] {
    return this.certs.listed().map((c) => certificateView(c, false));
  }

  updateCertificate(id: string, status: string): Result<Record<string, unknown>> {
    const before = this.certs.get(id)?.status;
    const r = this.certs.setStatus(id, status);
    if (!r.ok) return r;
    if (before !== r.value.status) this.statusChanged(r.value);
    return { ok: true, value: {} };
  }
}

function certificateView(c: CertRecord, full: boolean): Record<string, unknown> {
  const secs = (ms: number): number => Math.floor(ms / 1000);
  const base = { certificateArn: c.certificateArn, certificateId: c.certificateId, status: c.status, certificateMode: 'DEFAULT', creationDate: secs(c.creationMs) };
  if (!full) return base;
  return {
    ...base,
    certificatePem: c.certificatePem,
    ownedBy: '123456789012',
    lastModifiedDate: secs(c.lastModifiedMs),
    customerVersion: c.customerVersion,
    generationId: `${c.certificateId.slice(0, 8)}-${c.customerVersion}`,
    validity: { notBefore: secs(c.notBefore.getTime()), notAfter: secs(c.notAfter.getTime()) },
    transferData: {},
  };
}
