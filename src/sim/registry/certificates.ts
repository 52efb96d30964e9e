/**
 * The certificates the sim knows, as AWS IoT keeps them: status (ACTIVE / INACTIVE / REVOKED /
 * PENDING_ACTIVATION), the things they are attached to, the policies named for them, and the two
 * lifetimes of fleet provisioning (docs/PROVISIONING.md): an ownership token lives 1 hour and a
 * certificate never registered by then is deleted; a claim certificate from
 * CreateProvisioningClaim lives 5 minutes and is never listed. Time is the service's clock, so
 * `POST /sim/clock` expires them. Only a known, ACTIVE (or live claim) certificate may connect.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../lib/clock';
import type { Result, ServiceError } from '../types';

export type CertStatus = 'ACTIVE' | 'INACTIVE' | 'REVOKED' | 'PENDING_ACTIVATION';
export const SETTABLE_STATUSES: readonly string[] = ['ACTIVE', 'INACTIVE', 'REVOKED'];

export const TOKEN_TTL_MS = 3_600_000;
export const CLAIM_TTL_MS = 5 * 60_000;

export interface CertRecord {
  readonly certificateId: string;
  readonly certificateArn: string;
  readonly certificatePem: string;
  status: CertStatus;
  readonly creationMs: number;
  lastModifiedMs: number;
  readonly notBefore: Date;
  readonly notAfter: Date;
  customerVersion: number;
  /** Things it is attached to, in attach order. */
  readonly things: string[];
  /** Policy names attached by a provisioning template (recorded, not enforced). */
  readonly policies: Set<string>;
  /** A trusted-user claim certificate: usable until then, and not listed. */
  claimExpiresMs?: number;
  /** The template a claim certificate was made for (CreateProvisioningClaim). */
  claimTemplate?: string;
  /** The ownership token of a certificate minted over MQTT and not yet registered. */
  token?: { value: string; expiresMs: number };
}

export interface NewCert {
  certificateId: string;
  certificatePem: string;
  notBefore: Date;
  notAfter: Date;
}

const err = (name: string, status: number, message: string): ServiceError => ({ name, status, message });
const fail = <T>(e: ServiceError): Result<T> => ({ ok: false, error: e });
const notFound = (id: string): ServiceError => err('ResourceNotFoundException', 404, `The certificate ${id} does not exist`);

/** A certificate that may not connect, as a revocation list names it. */
export interface DeniedCert {
  readonly certificateId: string;
  readonly certificatePem: string;
  /** When it stopped being usable (status change or deletion), on the service's clock. */
  readonly sinceMs: number;
}

export class CertificateStore {
  private readonly certs = new Map<string, CertRecord>();
  private readonly tokens = new Map<string, string>();
  /** Deleted certificates: unknown to the registry, so refused, and a CRL must keep naming them. */
  private readonly retired = new Map<string, DeniedCert>();
  private readonly changeListeners = new Set<() => void>();

  constructor(
    private readonly clock: Clock,
    private readonly arnPrefix: string,
  ) {}

  /** Called after anything that can change which certificates may connect. */
  onChange(fn: () => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.changeListeners) fn();
  }

  /** Every certificate that may not connect: known and not ACTIVE (nor a live claim), or deleted. */
  denied(): DeniedCert[] {
    this.sweep();
    const out = [...this.retired.values()];
    for (const rec of this.certs.values()) {
      if (rec.status !== 'ACTIVE' && rec.claimExpiresMs === undefined) out.push({ certificateId: rec.certificateId, certificatePem: rec.certificatePem, sinceMs: rec.lastModifiedMs });
    }
    return out;
  }

  private retire(rec: CertRecord): void {
    this.certs.delete(rec.certificateId);
    this.retired.set(rec.certificateId, { certificateId: rec.certificateId, certificatePem: rec.certificatePem, sinceMs: this.now() });
  }

  now(): number {
    return this.clock.now();
  }

  add(c: NewCert, status: CertStatus, extra: { claim?: string; token?: boolean } = {}): CertRecord {
    this.sweep();
    const now = this.now();
    const rec: CertRecord = {
      certificateId: c.certificateId,
      certificateArn: `${this.arnPrefix}:cert/${c.certificateId}`,
      certificatePem: c.certificatePem,
      status,
      creationMs: now,
      lastModifiedMs: now,
      notBefore: c.notBefore,
      notAfter: c.notAfter,
      customerVersion: 1,
      things: [],
      policies: new Set(),
    };
    if (extra.claim !== undefined) {
      rec.claimExpiresMs = now + CLAIM_TTL_MS;
      rec.claimTemplate = extra.claim;
    }
    if (extra.token === true) {
      // Opaque and well under the 512 bytes devices budget for it.
      const value = randomBytes(96).toString('base64url');
      rec.token = { value, expiresMs: now + TOKEN_TTL_MS };
      this.tokens.set(value, rec.certificateId);
    }
    this.certs.set(rec.certificateId, rec);
    // Registered again after a deletion: the registry's record decides from now on.
    this.retired.delete(rec.certificateId);
    this.changed();
    return rec;
  }

  /** Drops what has expired on the service's clock: unregistered certificates and claim certificates. */
  sweep(): void {
    const now = this.now();
    let dropped = false;
    for (const rec of this.certs.values()) {
      if (rec.token !== undefined && rec.token.expiresMs <= now) {
        this.tokens.delete(rec.token.value);
        delete rec.token;
        if (rec.status === 'PENDING_ACTIVATION' && rec.things.length === 0) {
          this.retire(rec);
          dropped = true;
        }
      }
      if (rec.claimExpiresMs !== undefined && rec.claimExpiresMs <= now && this.certs.has(rec.certificateId)) {
        this.retire(rec);
        dropped = true;
      }
    }
    if (dropped) this.changed();
  }

  get(id: string): CertRecord | undefined {
    this.sweep();
    return this.certs.get(id);
  }

  /** The certificate an ownership token stands for, while the token lives. */
  byToken(token: string): CertRecord | undefined {
    this.sweep();
    const id = this.tokens.get(token);
    return id === undefined ? undefined : this.certs.get(id);
  }

  /** The token has done its work (RegisterThing succeeded): it cannot be used again. */
  spendToken(rec: CertRecord): void {
    if (rec.token === undefined) return;
    this.tokens.delete(rec.token.value);
    delete rec.token;
  }

  /** Whether a client presenting this certificate may connect: known, and ACTIVE or a live claim. */
  mayConnect(id: string): boolean {
    const rec = this.get(id);
    if (rec === undefined) return false;
    if (rec.claimExpiresMs !== undefined) return true;
    return rec.status === 'ACTIVE';
  }

  /** The first thing a certificate is attached to: the identity it speaks for. */
  thingOf(id: string): string | undefined {
    return this.get(id)?.things[0];
  }

  /** Listed certificates (claim certificates are not), oldest first. */
  listed(): CertRecord[] {
    this.sweep();
    return [...this.certs.values()].filter((c) => c.claimExpiresMs === undefined);
  }

  principalsOf(thing: string): string[] {
    this.sweep();
    return [...this.certs.values()].filter((c) => c.things.includes(thing)).map((c) => c.certificateArn);
  }

  /** Certificate id from `arn:…:cert/ID` (or a bare id). */
  idOfPrincipal(principal: string): string | undefined {
    const m = /(?:^|:cert\/)([0-9a-f]{64})$/.exec(principal);
    return m?.[1];
  }

  attach(id: string, thing: string): Result<CertRecord> {
    const rec = this.get(id);
    if (rec === undefined) return fail(notFound(id));
    if (!rec.things.includes(thing)) rec.things.push(thing);
    return { ok: true, value: rec };
  }

  detach(id: string, thing: string): Result<void> {
    const rec = this.get(id);
    if (rec === undefined) return fail(notFound(id));
    const i = rec.things.indexOf(thing);
    if (i >= 0) rec.things.splice(i, 1);
    return { ok: true, value: undefined };
  }

  setStatus(id: string, status: string): Result<CertRecord> {
    const rec = this.get(id);
    if (rec === undefined) return fail(notFound(id));
    if (!SETTABLE_STATUSES.includes(status)) {
      return fail(err('InvalidRequestException', 400, `newStatus must be one of ${SETTABLE_STATUSES.join(', ')} in this service, got ${status}`));
    }
    if (rec.status === 'REVOKED' && status !== 'REVOKED') {
      return fail(err('CertificateStateException', 406, `Certificate ${id} is revoked and cannot be changed to ${status}`));
    }
    if (rec.status !== status) {
      rec.status = status as CertStatus;
      rec.lastModifiedMs = this.now();
      rec.customerVersion++;
      this.changed();
    }
    return { ok: true, value: rec };
  }

  /**
   * AWS's rules: never an ACTIVE certificate, never one attached to a thing; attached policies only
   * with forceDelete.
   */
  delete(id: string, force: boolean): Result<void> {
    const rec = this.get(id);
    if (rec === undefined) return fail(notFound(id));
    if (rec.status === 'ACTIVE') {
      return fail(err('CertificateStateException', 406, `Certificate ${id} is ACTIVE: deactivate it (UpdateCertificate INACTIVE) before deleting it`));
    }
    if (rec.things.length > 0) {
      return fail(err('DeleteConflictException', 409, `Certificate ${id} is attached to ${rec.things.join(', ')}: detach it first (DetachThingPrincipal)`));
    }
    if (rec.policies.size > 0 && !force) {
      return fail(err('DeleteConflictException', 409, `Certificate ${id} has policies attached (${[...rec.policies].join(', ')}): detach them or use forceDelete`));
    }
    if (rec.token !== undefined) this.tokens.delete(rec.token.value);
    this.retire(rec);
    this.changed();
    return { ok: true, value: undefined };
  }
}
