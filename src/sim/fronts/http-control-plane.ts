/**
 * The HTTP control plane in the AWS IoT REST shape (restJson1, paths/queries/body keys exactly as
 * @aws-sdk/client-iot serialises them), so the AWS SDK and the aws CLI drive the sim with an
 * endpoint override. Plain HTTP on 127.0.0.1: SigV4 headers are accepted and ignored — anyone who
 * can reach the port is the account owner, as befits a local test service.
 *
 * Sim-only admin routes (not AWS APIs) to change fault injection while running:
 *   PUT /sim/faults/{thing}   body: Faults JSON, e.g. {"throttle":1,"responseDelayMs":200}
 *                             (`*` as the thing = every thing); replaces that thing's faults;
 *                             answers the faults now in effect for it.
 *   GET /sim/faults/{thing}   the faults in effect for that thing (its own merged over `*`).
 *   PUT|GET /sim/provisioning-faults   refusals for the next fleet provisioning requests
 *                             (http-control-identity.ts, src/sim/registry/prov-faults.ts).
 * Keys: throttle, internalError, dropResponse (probabilities 0..1), responseDelayMs,
 * eventualConsistencyMs (0..600000 ms), duplicateNotifyNext (boolean). Unknown keys are refused.
 *   GET  /sim/clock           the service's time: {"now": ISO-8601, "epochMs", "offsetMs"}.
 *   POST /sim/clock           body {"advanceMs": N} or {"to": "2026-01-01T10:00:00Z"}: moves the
 *                             service's clock forward (never back) and applies, in time order,
 *                             everything that fell due on the way — timers, scheduled starts and
 *                             ends, maintenance windows, rollout minutes (docs/ROLLOUT.md §R.5).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import { LIMITS } from '../../jobs/types';
import { silentLogger } from '../../lib/log';
import type { Logger } from '../../lib/log';
import {
  checkCancelExecution,
  checkClockMove,
  checkCreateJob,
  checkFaults,
  guardClientErrors,
  invalidRequest,
  listen,
  listQuery,
  newRequestId,
  parseJsonBody,
  queryFlags,
  queryLong,
  readRequest,
  logRefusals,
  sendError,
  sendJson,
  serviceError,
} from './http-util';
import type { Outcome, Req, Route, RunningServer } from './http-util';
import type { ClockControl } from '../clock';
import { fleetRoutes } from './http-control-fleet';
import type { FleetService } from './http-control-fleet';
import type { Faults, Result, ServiceError } from '../types';
import type { JobsService } from '../service';
import type { IdentityService } from '../identity';
import { identityRoutes } from './http-control-identity';

export type ControlPlaneService = FleetService &
  Pick<
  JobsService,
  | 'createJob'
  | 'applyJobTemplate'
  | 'createJobTemplate'
  | 'describeJobTemplate'
  | 'listJobTemplates'
  | 'deleteJobTemplate'
  | 'listManagedJobTemplates'
  | 'describeManagedJobTemplate'
  | 'cancelJob'
  | 'deleteJob'
  | 'describeJob'
  | 'cancelJobExecution'
  | 'describeJobExecutionControl'
  | 'listJobExecutionsForThing'
  | 'listJobExecutionsForJob'
  | 'createThing'
  | 'hasThing'
  | 'setFaults'
  | 'faultsFor'
>;

export interface ControlPlaneOptions {
  service: ControlPlaneService;
  host: string;
  port: number;
  /** Certificates, thing principals, provisioning templates (absent: those routes answer 404). */
  identity?: IdentityService;
  /** The service's movable clock, for `/sim/clock`. */
  clock?: ClockControl;
  /** For CreateThing's thingArn. */
  region?: string;
  accountId?: string;
  log?: Logger;
}


const ok = (value: unknown): Result<unknown> => ({ ok: true, value });
const fail = (error: ServiceError): Result<unknown> => ({ ok: false, error });
const notFound = (m: string): ServiceError => serviceError('ResourceNotFoundException', 404, m);

function routes(o: ControlPlaneOptions): Route[] {
  const s = o.service;
  const arn = (t: string): string => `arn:aws:iot:${o.region ?? 'us-east-1'}:${o.accountId ?? '123456789012'}:thing/${t}`;
  const table: Route[] = [
    {
      method: 'PUT',
      path: ['jobs', ':jobId'],
      run: (r) => withInput(s.applyJobTemplate(r.body), (b) => withInput(checkCreateJob(r.params.jobId ?? '', b), (i) => s.createJob(i))),
    },
    { method: 'GET', path: ['jobs', ':jobId'], run: (r) => s.describeJob(r.params.jobId ?? '') },
    {
      method: 'DELETE',
      path: ['jobs', ':jobId'],
      run: (r) => withInput(queryFlags(r.query), (q) => mapVoid(s.deleteJob(r.params.jobId ?? '', { force: q.force }))),
    },
    {
      method: 'PUT',
      path: ['jobs', ':jobId', 'cancel'],
      run: (r) => withInput(queryFlags(r.query), (q) => s.cancelJob(r.params.jobId ?? '', { ...cancelText(r.body), force: q.force })),
    },
    { method: 'GET', path: ['jobs', ':jobId', 'things'], run: (r) => withInput(listQuery(r.query), (q) => s.listJobExecutionsForJob(r.params.jobId ?? '', q)) },
    { method: 'GET', path: ['things', ':thing', 'jobs'], run: (r) => withInput(listQuery(r.query), (q) => s.listJobExecutionsForThing(r.params.thing ?? '', q)) },
    {
      method: 'GET',
      path: ['things', ':thing', 'jobs', ':jobId'],
      run: (r) => withInput(queryFlags(r.query), (q) => s.describeJobExecutionControl(r.params.jobId ?? '', r.params.thing ?? '', q.executionNumber)),
    },
    {
      method: 'PUT',
      path: ['things', ':thing', 'jobs', ':jobId', 'cancel'],
      run: (r) =>
        withInput(queryFlags(r.query), (q) =>
          withInput(checkCancelExecution(r.body), (b) => mapVoid(s.cancelJobExecution(r.params.jobId ?? '', r.params.thing ?? '', { ...b, force: q.force }))),
        ),
    },
    {
      method: 'POST',
      path: ['things', ':thing'],
      run: (r) => {
        const t = r.params.thing ?? '';
        s.createThing(t);
        return ok({ thingName: t, thingArn: arn(t), thingId: thingId(t) });
      },
    },
    { method: 'PUT', path: ['sim', 'faults', ':thing'], run: (r) => withInput(checkFaults(r.body), (f) => setFaults(s, r.params.thing ?? '', f)) },
    { method: 'GET', path: ['sim', 'faults', ':thing'], run: (r) => ok(s.faultsFor(r.params.thing ?? '')) },
    { method: 'GET', path: ['sim', 'clock'], run: () => clockState(o.clock) },
    { method: 'POST', path: ['sim', 'clock'], run: (r) => moveClock(o.clock, r.body) },
  ];
  const all = [...table, ...fleetRoutes(s), ...templates(s)];
  return o.identity === undefined ? all : [...all, ...identityRoutes(o.identity)];
}

/** Job templates and the AWS managed templates (docs/TEMPLATES.md). */
function templates(s: ControlPlaneService): Route[] {
  const id = (r: Req): string => r.params.jobTemplateId ?? '';
  return [
    { method: 'PUT', path: ['job-templates', ':jobTemplateId'], run: (r) => s.createJobTemplate(id(r), r.body) },
    { method: 'GET', path: ['job-templates', ':jobTemplateId'], run: (r) => s.describeJobTemplate(id(r)) },
    { method: 'DELETE', path: ['job-templates', ':jobTemplateId'], run: (r) => mapVoid(s.deleteJobTemplate(id(r))) },
    { method: 'GET', path: ['job-templates'], run: (r) => withInput(pageQuery(r.query), (q) => s.listJobTemplates(q)) },
    {
      method: 'GET',
      path: ['managed-job-templates'],
      run: (r) => withInput(pageQuery(r.query), (q) => s.listManagedJobTemplates({ ...q, ...optional('templateName', r.query.get('templateName')) })),
    },
    {
      method: 'GET',
      path: ['managed-job-templates', ':templateName'],
      run: (r) => s.describeManagedJobTemplate(r.params.templateName ?? '', r.query.get('templateVersion') ?? undefined),
    },
  ];
}

function optional<K extends string>(k: K, v: string | null): Partial<Record<K, string>> {
  return v === null ? {} : ({ [k]: v } as Partial<Record<K, string>>);
}

function pageQuery(q: URLSearchParams): Result<{ maxResults?: number; nextToken?: string }> {
  const max = queryLong(q, 'maxResults', 1);
  if (!max.ok) return max;
  return { ok: true, value: { ...(max.value !== undefined ? { maxResults: max.value } : {}), ...optional('nextToken', q.get('nextToken')) } };
}

function withInput<T>(input: Result<T>, fn: (v: T) => Outcome): Outcome {
  return input.ok ? fn(input.value) : fail(input.error);
}

/** Unit outputs (DeleteJob, CancelJobExecution) answer 200 with an empty JSON object. */
function mapVoid(r: Result<void>): Result<unknown> {
  return r.ok ? ok({}) : r;
}

function cancelText(body: Record<string, unknown>): { comment?: string; reasonCode?: string } {
  const out: { comment?: string; reasonCode?: string } = {};
  if (typeof body.comment === 'string') out.comment = body.comment;
  if (typeof body.reasonCode === 'string') out.reasonCode = body.reasonCode;
  return out;
}

function setFaults(s: ControlPlaneService, thing: string, f: Faults): Result<unknown> {
  s.setFaults(thing, f);
  return ok(s.faultsFor(thing));
}

function clockState(clock: ClockControl | undefined): Result<unknown> {
  if (clock === undefined) return fail(notFound('this service has no movable clock'));
  const now = clock.now();
  return ok({ now: new Date(now).toISOString(), epochMs: now, offsetMs: clock.offsetMs() });
}

function moveClock(clock: ClockControl | undefined, body: Record<string, unknown>): Result<unknown> {
  if (clock === undefined) return fail(notFound('this service has no movable clock'));
  const move = checkClockMove(body, clock.now());
  if (!move.ok) return move;
  clock.advance(move.value);
  return clockState(clock);
}

function thingId(name: string): string {
  // Stable per name, UUID-shaped like AWS's thingId.
  const h = Buffer.from(name).toString('hex').padEnd(32, '0').slice(0, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

const PARAM_RULES: Record<string, { re: RegExp; what: string }> = {
  thing: { re: LIMITS.thingName, what: 'thingName must match [a-zA-Z0-9:_-]{1,128}' },
  jobId: { re: LIMITS.jobId, what: 'jobId must match [a-zA-Z0-9_-]{1,64}' },
  thingGroupName: { re: /^[a-zA-Z0-9:_-]{1,128}$/, what: 'thingGroupName must match [a-zA-Z0-9:_-]{1,128}' },
  executionNumber: { re: /^\d{1,16}$/, what: 'executionNumber must be a whole number' },
  jobTemplateId: { re: LIMITS.jobId, what: 'jobTemplateId must match [a-zA-Z0-9_-]{1,64}' },
  templateName: { re: LIMITS.jobId, what: 'templateName must match [a-zA-Z0-9_-]{1,64}' },
  versionId: { re: /^\d{1,9}$/, what: 'versionId must be a whole number' },
  certificateId: { re: /^(0x)?[0-9a-fA-F]{64}$/, what: 'certificateId must be 64 hexadecimal characters' },
};

type Matched = { route: Route; params: Record<string, string> } | { error: ServiceError };

function match(table: Route[], method: string, segments: string[]): Matched {
  let pathMatched = false;
  for (const route of table) {
    if (route.path.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const fits = route.path.every((p, i) => {
      const seg = segments[i] ?? '';
      if (!p.startsWith(':')) return p === seg;
      params[p.slice(1)] = seg;
      return true;
    });
    if (!fits) continue;
    pathMatched = true;
    if (route.method !== method) continue;
    for (const [name, value] of Object.entries(params)) {
      const rule = PARAM_RULES[name];
      const adminWildcard = route.path[0] === 'sim' && value === '*';
      if (rule !== undefined && !adminWildcard && !rule.re.test(value)) return { error: invalidRequest(rule.what) };
    }
    return { route, params };
  }
  return pathMatched
    ? { error: serviceError('MethodNotAllowedException', 405, `method ${method} is not allowed on this resource`) }
    : { error: serviceError('UnknownOperationException', 404, `no operation at ${method} /${segments.join('/')}`) };
}

async function handle(table: Route[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  const request = await readRequest(req, res);
  if (!request) return;
  const { requestId, body: raw, url } = request;
  const m = match(table, req.method ?? '', url.segments);
  if ('error' in m) return sendError(res, m.error, requestId);
  const body = parseJsonBody(raw);
  if (!body.ok) return sendError(res, body.error, requestId);
  const r = await m.route.run({ params: m.params, query: url.query, body: body.value, headers: req.headers });
  if (r.ok) sendJson(res, 200, r.value ?? {}, requestId);
  else sendError(res, r.error, requestId);
}

export async function startControlPlane(o: ControlPlaneOptions): Promise<RunningServer> {
  const log = o.log ?? silentLogger();
  const table = routes(o);
  const server = createServer((req, res) => {
    logRefusals(req, res, log, 'control plane');
    handle(table, req, res).catch((err: unknown) => {
      // A bug costs one request, never the server.
      log.error({ err, url: req.url }, 'control plane request failed');
      sendError(res, serviceError('InternalFailureException', 500, 'internal error'), newRequestId());
    });
  });
  guardClientErrors(server);
  return listen(server, o.host, o.port);
}
