/**
 * Control-plane routes for device identity, in the AWS IoT REST shapes @aws-sdk/client-iot
 * serialises: certificates (create, register, describe, list, update, delete), thing principals
 * (attach, detach, list), DescribeThing, provisioning templates and their versions, and
 * CreateProvisioningClaim. The rules live in the registry; this file maps the wire.
 */
import { invalidRequest, queryBool, queryLong } from './http-util';
import type { Outcome, Req, Route } from './http-util';
import { IssueError } from '../registry/provisioning';
import { checkProvFaults } from '../registry/prov-faults';
import type { IdentityService } from '../identity';
import type { Result, ServiceError } from '../types';

type Obj = Record<string, unknown>;
const ok = (value: unknown): Result<unknown> => ({ ok: true, value });
const fail = (error: ServiceError): Result<unknown> => ({ ok: false, error });
const err = (name: string, status: number, message: string): ServiceError => ({ name, status, message });

/** Offset pagination: the token is the index of the next item. */
function page<T>(items: T[], max: number | undefined, token: string | null, cap = 250): Result<{ items: T[]; next?: string }> {
  const start = token === null ? 0 : Number.parseInt(Buffer.from(token, 'base64url').toString('utf8'), 10);
  if (!Number.isInteger(start) || start < 0 || start > items.length) return { ok: false, error: invalidRequest('the pagination token is invalid') };
  const n = Math.min(max ?? cap, cap);
  const end = start + n;
  return { ok: true, value: { items: items.slice(start, end), ...(end < items.length ? { next: Buffer.from(String(end)).toString('base64url') } : {}) } };
}

function flag(r: Req, name: string): Result<boolean | undefined> {
  return queryBool(r.query, name);
}

function principalOf(r: Req): Result<string> {
  const p = r.headers['x-amzn-principal'];
  if (typeof p !== 'string' || p.length === 0) return { ok: false, error: invalidRequest('the x-amzn-principal header is required') };
  return { ok: true, value: p };
}

async function issued(fn: () => Promise<unknown>): Promise<Result<unknown>> {
  try {
    return ok(await fn());
  } catch (e) {
    if (e instanceof IssueError) return fail(invalidRequest(e.message));
    throw e;
  }
}

function certificateRoutes(id: IdentityService): Route[] {
  const certId = (r: Req): string => r.params.certificateId ?? '';
  const status = (r: Req): Result<'ACTIVE' | 'INACTIVE'> => {
    const a = flag(r, 'setAsActive');
    return a.ok ? { ok: true, value: a.value === true ? 'ACTIVE' : 'INACTIVE' } : a;
  };
  return [
    {
      method: 'POST',
      path: ['keys-and-certificate'],
      run: (r) => {
        const s = status(r);
        if (!s.ok) return s;
        return issued(async () => {
          const m = await id.issuer.createKeysAndCertificate(s.value);
          return { certificateArn: m.certificateArn, certificateId: m.certificateId, certificatePem: m.certificatePem, keyPair: m.keyPair };
        });
      },
    },
    {
      method: 'POST',
      path: ['certificates'],
      run: (r) => {
        const s = status(r);
        if (!s.ok) return s;
        const csr = r.body.certificateSigningRequest;
        if (typeof csr !== 'string' || csr.length === 0) return fail(invalidRequest('certificateSigningRequest is required'));
        return issued(async () => {
          const m = await id.issuer.createCertificateFromCsr(csr, s.value);
          return { certificateArn: m.certificateArn, certificateId: m.certificateId, certificatePem: m.certificatePem };
        });
      },
    },
    { method: 'POST', path: ['certificate', 'register'], run: (r) => register(id, r, true) },
    { method: 'POST', path: ['certificate', 'register-no-ca'], run: (r) => register(id, r, false) },
    { method: 'GET', path: ['certificates', ':certificateId'], run: (r) => id.describeCertificate(certId(r)) },
    {
      method: 'GET',
      path: ['certificates'],
      run: (r) => {
        const size = queryLong(r.query, 'pageSize', 1);
        if (!size.ok) return size;
        const asc = flag(r, 'isAscendingOrder');
        if (!asc.ok) return asc;
        const all = id.listCertificates();
        if (asc.value !== true) all.reverse();
        const p = page(all, size.value, r.query.get('marker'));
        return p.ok ? ok({ certificates: p.value.items, ...(p.value.next !== undefined ? { nextMarker: p.value.next } : {}) }) : p;
      },
    },
    {
      method: 'PUT',
      path: ['certificates', ':certificateId'],
      run: (r) => {
        const s = r.query.get('newStatus');
        if (s === null) return fail(invalidRequest('newStatus is required'));
        return id.updateCertificate(certId(r), s);
      },
    },
    {
      method: 'DELETE',
      path: ['certificates', ':certificateId'],
      run: (r) => {
        const force = flag(r, 'forceDelete');
        if (!force.ok) return force;
        const d = id.certs.delete(certId(r), force.value === true);
        return d.ok ? ok({}) : d;
      },
    },
  ];
}

function register(id: IdentityService, r: Req, withCa: boolean): Outcome {
  const pem = r.body.certificatePem;
  if (typeof pem !== 'string' || pem.length === 0) return fail(invalidRequest('certificatePem is required'));
  const active = withCa ? flag(r, 'setAsActive') : { ok: true as const, value: undefined };
  if (!active.ok) return active;
  const s = r.body.status ?? (active.value === true ? 'ACTIVE' : 'INACTIVE');
  if (s !== 'ACTIVE' && s !== 'INACTIVE') return fail(invalidRequest('status must be ACTIVE or INACTIVE in this service'));
  try {
    const m = id.issuer.registerCertificate(pem, s);
    return ok({ certificateArn: m.certificateArn, certificateId: m.certificateId });
  } catch (e) {
    if (e instanceof IssueError) return fail(invalidRequest(e.message));
    throw e;
  }
}

function principalRoutes(id: IdentityService): Route[] {
  const thing = (r: Req): string => r.params.thing ?? '';
  const noThing = (t: string): ServiceError => err('ResourceNotFoundException', 404, `Thing ${t} does not exist`);
  /** Attach and detach: the certificate the x-amzn-principal header names, on a thing that exists. */
  const certOnThing = (r: Req): Result<string> => {
    const p = principalOf(r);
    if (!p.ok) return p;
    if (!id.service.hasThing(thing(r))) return { ok: false, error: noThing(thing(r)) };
    const c = id.certs.idOfPrincipal(p.value);
    return c === undefined ? { ok: false, error: invalidRequest(`principal ${p.value} is not a certificate ARN`) } : { ok: true, value: c };
  };
  return [
    {
      method: 'PUT',
      path: ['things', ':thing', 'principals'],
      run: (r) => {
        const c = certOnThing(r);
        if (!c.ok) return c;
        const a = id.certs.attach(c.value, thing(r));
        return a.ok ? ok({}) : a;
      },
    },
    {
      method: 'DELETE',
      path: ['things', ':thing', 'principals'],
      run: (r) => {
        const c = certOnThing(r);
        if (!c.ok) return c;
        const d = id.certs.detach(c.value, thing(r));
        return d.ok ? ok({}) : d;
      },
    },
    {
      method: 'GET',
      path: ['things', ':thing', 'principals'],
      run: (r) => {
        if (!id.service.hasThing(thing(r))) return fail(noThing(thing(r)));
        const max = queryLong(r.query, 'maxResults', 1);
        if (!max.ok) return max;
        const p = page(id.certs.principalsOf(thing(r)), max.value, r.query.get('nextToken'));
        return p.ok ? ok({ principals: p.value.items, ...(p.value.next !== undefined ? { nextToken: p.value.next } : {}) }) : p;
      },
    },
    { method: 'GET', path: ['things', ':thing'], run: (r) => describeThing(id, thing(r)) },
  ];
}

function describeThing(id: IdentityService, name: string): Outcome {
  if (!id.service.hasThing(name)) return fail(err('ResourceNotFoundException', 404, `Thing ${name} does not exist`));
  const info = id.things.get(name);
  return ok({
    thingName: name,
    thingArn: `${id.arnPrefix}:thing/${name}`,
    defaultClientId: name,
    attributes: { ...info.attributes },
    version: info.version,
    ...(info.thingTypeName !== undefined ? { thingTypeName: info.thingTypeName } : {}),
    ...(info.billingGroupName !== undefined ? { billingGroupName: info.billingGroupName } : {}),
  });
}

function templateRoutes(id: IdentityService): Route[] {
  const t = id.templates;
  const name = (r: Req): string => r.params.templateName ?? '';
  const version = (r: Req): number => Number(r.params.versionId);
  return [
    { method: 'POST', path: ['provisioning-templates'], run: (r) => t.create(r.body) },
    { method: 'GET', path: ['provisioning-templates', ':templateName'], run: (r) => t.describe(name(r)) },
    {
      method: 'GET',
      path: ['provisioning-templates'],
      run: (r) => {
        const max = queryLong(r.query, 'maxResults', 1);
        if (!max.ok) return max;
        const p = page(t.list(), max.value, r.query.get('nextToken'));
        return p.ok ? ok({ templates: p.value.items, ...(p.value.next !== undefined ? { nextToken: p.value.next } : {}) }) : p;
      },
    },
    { method: 'PATCH', path: ['provisioning-templates', ':templateName'], run: (r) => t.update(name(r), r.body) },
    { method: 'DELETE', path: ['provisioning-templates', ':templateName'], run: (r) => t.delete(name(r)) },
    {
      method: 'POST',
      path: ['provisioning-templates', ':templateName', 'versions'],
      run: (r) => {
        const d = flag(r, 'setAsDefault');
        return d.ok ? t.createVersion(name(r), r.body, d.value === true) : d;
      },
    },
    {
      method: 'GET',
      path: ['provisioning-templates', ':templateName', 'versions'],
      run: (r) => {
        const max = queryLong(r.query, 'maxResults', 1);
        if (!max.ok) return max;
        const all = t.listVersions(name(r));
        if (!all.ok) return all;
        const p = page(all.value, max.value, r.query.get('nextToken'));
        return p.ok ? ok({ versions: p.value.items, ...(p.value.next !== undefined ? { nextToken: p.value.next } : {}) }) : p;
      },
    },
    { method: 'GET', path: ['provisioning-templates', ':templateName', 'versions', ':versionId'], run: (r) => t.describeVersion(name(r), version(r)) },
    { method: 'DELETE', path: ['provisioning-templates', ':templateName', 'versions', ':versionId'], run: (r) => t.deleteVersion(name(r), version(r)) },
    { method: 'POST', path: ['provisioning-templates', ':templateName', 'provisioning-claim'], run: (r) => claim(id, name(r)) },
  ];
}

async function claim(id: IdentityService, templateName: string): Promise<Result<unknown>> {
  if (id.templates.get(templateName) === undefined) return fail(err('ResourceNotFoundException', 404, `The provisioning template ${templateName} does not exist`));
  const m = await id.issuer.createKeysAndCertificate('ACTIVE', { claim: templateName });
  const expiration = Math.floor((m.record.claimExpiresMs ?? 0) / 1000);
  return ok({ certificateId: m.certificateId, certificatePem: m.certificatePem, keyPair: m.keyPair, expiration });
}

/** Sim-only: faults on the provisioning MQTT API (src/sim/registry/prov-faults.ts). */
function faultRoutes(id: IdentityService): Route[] {
  return [
    {
      method: 'PUT',
      path: ['sim', 'provisioning-faults'],
      run: (r) => {
        const spec = checkProvFaults(r.body);
        if (!spec.ok) return spec;
        id.faults.set(spec.value);
        return ok(id.faults.state());
      },
    },
    { method: 'GET', path: ['sim', 'provisioning-faults'], run: () => ok(id.faults.state()) },
  ];
}

export function identityRoutes(id: IdentityService): Route[] {
  // An operator's change is answered once it holds (an external broker's CRL is in force).
  const settled = (r: Route): Route => ({
    ...r,
    run: async (req) => {
      const out = await r.run(req);
      await id.settled();
      return out;
    },
  });
  return [...certificateRoutes(id), ...principalRoutes(id), ...templateRoutes(id), ...faultRoutes(id)].map(settled);
}

export type { Obj };
