/**
 * The HTTPS Jobs data plane (`iot-jobs-data`, docs/PROTOCOL.md §6) over mutual TLS: the four device operations
 * in the AWS restJson1 shape, so both the AWS SDK client and our own HTTPS client talk to it
 * unchanged.
 *
 * Identity and authorisation: the TLS handshake already refuses a certificate not issued by the
 * sim's CA. A certificate that passes names its thing (by default the subject CN, as brokers such as
 * mosquitto do); a thing may only use `/things/{its own name}/…`. Any other thing name — or a
 * certificate that maps to no thing — is answered `403 ForbiddenException`, what AWS IoT returns
 * when a policy denies an HTTPS request (CertificateValidationException is reserved for the
 * certificate itself being unusable, which the handshake settles here).
 *
 * TLS 1.2 by default: node's TLS server can refuse a client certificate only by closing the
 * connection. Under TLS 1.2 that close lands inside the handshake, so a client sees a handshake
 * failure — what AWS's alert produces — rather than a reset after a completed TLS 1.3 handshake,
 * which no client can tell from a lost response. `tls.maxVersion` lifts it.
 *
 * Faults: throttling and internal errors are decided by the service; the per-thing response delay
 * and dropped responses are applied here, after the service has acted (a dropped response is a
 * closed connection: the change happened, the device never heard).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { TLSSocket, PeerCertificate } from 'node:tls';
import { LIMITS } from '../../jobs/types';
import { silentLogger } from '../../lib/log';
import type { Logger } from '../../lib/log';
import {
  deliver,
  guardClientErrors,
  invalidRequest,
  listen,
  newRequestId,
  parseJsonBody,
  queryBool,
  queryLong,
  readRequest,
  responseFaults,
  logRefusals,
  sendError,
  sendJson,
  serviceError,
} from './http-util';
import type { ParsedUrl, RunningServer } from './http-util';
import type { Faults, Result, ServiceError } from '../types';

/** What this front needs from the service (JobsService satisfies it). */
export interface DataPlaneService {
  httpGetPending(thing: string, namespaceId?: string): Result<unknown>;
  httpDescribe(thing: string, jobId: string, q: { includeJobDocument?: boolean; executionNumber?: number }): Result<unknown>;
  httpStartNext(thing: string, body: unknown): Result<unknown>;
  httpUpdate(thing: string, jobId: string, body: unknown): Result<unknown>;
  faultsFor(thing: string): Faults | undefined;
}

export interface DataPlaneOptions {
  service: DataPlaneService;
  host: string;
  port: number;
  tls: { caPem: string; certPem: string; keyPem: string; maxVersion?: 'TLSv1.2' | 'TLSv1.3' };
  /** Maps a verified client certificate to its thing; default: the subject CN. */
  thingOf?: (peerCert: PeerCertificate) => string | undefined;
  log?: Logger;
  /** Random source for dropped-response faults. */
  random?: () => number;
}

const NEXT = '$next';

const forbidden = (message: string): ServiceError => serviceError('ForbiddenException', 403, message);

function defaultThingOf(cert: PeerCertificate): string | undefined {
  const cn = cert.subject?.CN as string | string[] | undefined;
  return typeof cn === 'string' ? cn : undefined;
}

interface Routed {
  /** The thing whose response faults apply (only once the caller is authorised for it). */
  thing?: string;
  result: Result<unknown>;
}

const fail = (error: ServiceError, thing?: string): Routed => (thing === undefined ? { result: { ok: false, error } } : { thing, result: { ok: false, error } });

/** HTTPS returns the job document as JSON text (docs/PROTOCOL.md §6.2); make sure it is, whatever the service gave. */
function documentAsText(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  const o = { ...(v as Record<string, unknown>) };
  if (o.jobDocument !== undefined && typeof o.jobDocument !== 'string') o.jobDocument = JSON.stringify(o.jobDocument);
  const ex = o.execution;
  if (typeof ex === 'object' && ex !== null) {
    const e = ex as Record<string, unknown>;
    if (e.jobDocument !== undefined && typeof e.jobDocument !== 'string') o.execution = { ...e, jobDocument: JSON.stringify(e.jobDocument) };
  }
  return o;
}

class DataPlane {
  private readonly thingOf: (c: PeerCertificate) => string | undefined;
  constructor(private readonly o: DataPlaneOptions) {
    this.thingOf = o.thingOf ?? defaultThingOf;
  }

  route(req: IncomingMessage, url: ParsedUrl, body: Buffer): Routed {
    const [s0, thing, s2, jobId, ...rest] = url.segments;
    if (s0 !== 'things' || thing === undefined || s2 !== 'jobs' || rest.length > 0) {
      return fail(serviceError('UnknownOperationException', 404, `no operation at ${req.method ?? ''} ${url.segments.join('/')}`));
    }
    if (!LIMITS.thingName.test(thing)) return fail(invalidRequest('thingName must match [a-zA-Z0-9:_-]{1,128}'));
    const caller = this.caller(req);
    if (caller === undefined) return fail(forbidden('the client certificate is not attached to any thing'));
    if (caller !== thing) return fail(forbidden(`the certificate of ${caller} is not authorized to access thing ${thing}`));
    const method = req.method ?? '';
    if (jobId === undefined) {
      return method === 'GET' ? this.getPending(thing, url) : fail(methodNotAllowed(method), thing);
    }
    switch (method) {
      case 'GET':
        return this.describe(thing, jobId, url);
      case 'PUT':
        return jobId === NEXT ? this.withBody(thing, body, (b) => this.o.service.httpStartNext(thing, b)) : fail(methodNotAllowed(method), thing);
      case 'POST':
        if (!LIMITS.jobId.test(jobId)) return fail(invalidRequest('jobId must match [a-zA-Z0-9_-]{1,64}'), thing);
        return this.withBody(thing, body, (b) => this.o.service.httpUpdate(thing, jobId, b));
      default:
        return fail(methodNotAllowed(method), thing);
    }
  }

  private caller(req: IncomingMessage): string | undefined {
    const cert = (req.socket as TLSSocket).getPeerCertificate?.();
    if (cert === undefined || Object.keys(cert).length === 0) return undefined;
    return this.thingOf(cert);
  }

  private getPending(thing: string, url: ParsedUrl): Routed {
    const ns = url.query.get('namespaceId');
    if (ns !== null && !LIMITS.namespaceId.test(ns)) return fail(invalidRequest('namespaceId must match [a-zA-Z0-9_-]+'), thing);
    return { thing, result: this.o.service.httpGetPending(thing, ns ?? undefined) };
  }

  private describe(thing: string, jobId: string, url: ParsedUrl): Routed {
    if (jobId !== NEXT && !LIMITS.jobId.test(jobId)) return fail(invalidRequest('jobId must match [a-zA-Z0-9_-]{1,64} or be $next'), thing);
    const inc = queryBool(url.query, 'includeJobDocument');
    if (!inc.ok) return fail(inc.error, thing);
    const num = queryLong(url.query, 'executionNumber');
    if (!num.ok) return fail(num.error, thing);
    const q: { includeJobDocument?: boolean; executionNumber?: number } = {};
    if (inc.value !== undefined) q.includeJobDocument = inc.value;
    if (num.value !== undefined) q.executionNumber = num.value;
    return { thing, result: this.o.service.httpDescribe(thing, jobId, q) };
  }

  private withBody(thing: string, body: Buffer, call: (b: Record<string, unknown>) => Result<unknown>): Routed {
    const parsed = parseJsonBody(body);
    if (!parsed.ok) return fail(parsed.error, thing);
    return { thing, result: call(parsed.value) };
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const request = await readRequest(req, res);
    if (!request) return;
    const { requestId, body, url } = request;
    const routed = this.route(req, url, body);
    const faults = routed.thing === undefined ? { delayMs: 0, drop: false } : responseFaults(this.o.service.faultsFor(routed.thing), this.o.random ?? Math.random);
    deliver(res, faults, () => {
      const r = routed.result;
      if (r.ok) sendJson(res, 200, documentAsText(r.value), requestId);
      else sendError(res, r.error, requestId);
    });
  }
}

function methodNotAllowed(method: string): ServiceError {
  return serviceError('MethodNotAllowedException', 405, `method ${method} is not allowed on this resource`);
}

export async function startDataPlane(o: DataPlaneOptions): Promise<RunningServer> {
  const log = o.log ?? silentLogger();
  const front = new DataPlane(o);
  const server = createServer(
    {
      ca: o.tls.caPem,
      cert: o.tls.certPem,
      key: o.tls.keyPem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      maxVersion: o.tls.maxVersion ?? 'TLSv1.2',
    },
    (req, res) => {
      logRefusals(req, res, log, 'data plane');
      front.handle(req, res).catch((err: unknown) => {
        // A bug must cost one request, never the server.
        log.error({ err, url: req.url }, 'data plane request failed');
        sendError(res, serviceError('InternalServerException', 500, 'internal error'), newRequestId());
      });
    },
  );
  guardClientErrors(server);
  server.on('tlsClientError', (err) => log.debug({ err: err.message }, 'TLS handshake refused'));
  return listen(server, o.host, o.port);
}
