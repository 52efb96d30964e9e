/**
 * Random HTTP requests — methods, paths (with odd and broken percent-encoding), queries, bodies
 * (JSON, garbage, oversized) and headers — against both fronts. Each must get a well-formed answer
 * (a restJson1 error with x-amzn-ErrorType and a message for every failure), and the server must
 * keep answering a known-good request afterwards. Raw garbage on the socket must not hurt either.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage, RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import fc from 'fast-check';
import { systemClock } from '../../src/lib/clock';
import { startControlPlane } from '../../src/sim/fronts/http-control-plane';
import { startDataPlane } from '../../src/sim/fronts/http-data-plane';
import type { RunningServer } from '../../src/sim/fronts/http-util';
import { JobsService } from '../../src/sim/service';
import { IdentityService } from '../../src/sim/identity';
import { ensureSimPki } from '../../src/sim/registry/pki-store';
import { makeTestPki, type TestPki } from '../support/pki';

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

let dir: string;
let pki: TestPki;
let data: RunningServer;
let control: RunningServer;
let httpsAgent: HttpsAgent;
const httpAgent = new HttpAgent({ keepAlive: true });
let clientTls: { ca: string; cert: string; key: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sim-http-fuzz-'));
  pki = await makeTestPki(dir, ['thing1']);
  const caPem = pki.caCertPem;
  // One service per plane: the fuzzed admin route must not arm response faults on the data plane.
  const dataService = new JobsService({ clock: systemClock, publish: () => undefined });
  const controlService = new JobsService({ clock: systemClock, publish: () => undefined });
  for (const s of [dataService, controlService]) {
    s.createThing('thing1');
    expect(s.createJob({ jobId: 'j1', targets: ['thing1'], document: '{"operation":"x"}' }).ok).toBe(true);
  }
  const tls = { caPem, certPem: await readFile(pki.server.certificateFile, 'utf8'), keyPem: await readFile(pki.server.privateKeyFile, 'utf8') };
  data = await startDataPlane({ service: dataService, host: '127.0.0.1', port: 0, tls });
  // The real registry behind the identity routes: certificates are minted and checked for real.
  const identity = new IdentityService({ service: controlService, clock: systemClock, pki: await ensureSimPki(join(dir, 'sim'), []), publish: () => undefined });
  control = await startControlPlane({ service: controlService, host: '127.0.0.1', port: 0, identity });
  const t = pki.things.thing1!;
  clientTls = { ca: caPem, cert: await readFile(t.certificateFile, 'utf8'), key: await readFile(t.privateKeyFile, 'utf8') };
  httpsAgent = new HttpsAgent({ keepAlive: true, ...clientTls });
});

afterAll(async () => {
  httpsAgent.destroy();
  httpAgent.destroy();
  await Promise.all([data.close(), control.close()]);
  await rm(dir, { recursive: true, force: true });
});

function send(secure: boolean, opts: RequestOptions, body: Buffer | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const port = secure ? data.port : control.port;
    // A fuzzed Host header must not steer certificate verification: pin the name we verify.
    const o = { ...opts, host: '127.0.0.1', port, agent: secure ? httpsAgent : httpAgent, timeout: 5000, ...(secure ? { servername: 'localhost' } : {}) };
    const req = secure ? httpsRequest(o) : httpRequest(o);
    req.on('timeout', () => req.destroy(new Error(`no answer to ${opts.method} ${opts.path}`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.end(body);
  });
}

const SEGMENTS = ['things', 'thing1', 'thing2', 'jobs', 'j1', '$next', '%24next', 'cancel', 'principals', 'sim', 'faults', '*', 'keys-and-certificate', 'certificates', 'job-templates', 'managed-job-templates', 'AWS-Reboot', '%zz', '%', '%2F', '..', '', '%00', 'a%3Ab'];
const segment = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...SEGMENTS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 140 }).map(encodeURIComponent) },
  { weight: 1, arbitrary: fc.tuple(fc.fullUnicodeString({ maxLength: 20 }), fc.boolean()).map(([s, doubled]) => encodeURIComponent(s).replace(/%/g, doubled ? '%25' : '%')) },
);
const name = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('thing1', 'j1', '$next', '%24next') },
  { weight: 1, arbitrary: fc.constantFrom('thing2', 'j2', 'a%3Ab', '%zz', '*') },
  { weight: 1, arbitrary: segment },
);
/** Paths shaped like the real routes, so the fuzz reaches the operations and not only the 404 path. */
const routeShaped = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.constant('things'), name, fc.constant('jobs')) },
  { weight: 3, arbitrary: fc.tuple(fc.constant('things'), name, fc.constant('jobs'), name) },
  fc.tuple(fc.constant('things'), name, fc.constant('jobs'), name, fc.constant('cancel')),
  fc.tuple(fc.constant('things'), name),
  fc.tuple(fc.constant('things'), name, fc.constant('principals')),
  fc.tuple(fc.constant('jobs'), name),
  fc.tuple(fc.constant('jobs'), name, fc.constantFrom('cancel', 'things')),
  fc.tuple(fc.constant('sim'), fc.constant('faults'), name),
  fc.tuple(fc.constantFrom('keys-and-certificate', 'certificates')),
  fc.tuple(fc.constantFrom('job-templates', 'managed-job-templates')),
  fc.tuple(fc.constantFrom('job-templates', 'managed-job-templates'), fc.oneof(name, fc.constantFrom('AWS-Reboot', 'AWS-Run-Command', 't1'))),
);
const path = fc.oneof({ weight: 3, arbitrary: routeShaped.map((t) => [...t]) }, { weight: 1, arbitrary: fc.array(segment, { maxLength: 6 }) });
const QUERY_NAMES = ['namespaceId', 'includeJobDocument', 'executionNumber', 'force', 'maxResults', 'nextToken', 'status', 'templateName', 'templateVersion', 'x'];
const QUERY_VALUES = ['true', 'false', '1', '-1', '0', '99999999999999999999', '', 'QUEUED', 'ns-1', '1.0', 'AWS-Reboot', '%zz'];
const query = fc.array(fc.tuple(fc.constantFrom(...QUERY_NAMES), fc.oneof(fc.constantFrom(...QUERY_VALUES), fc.string({ maxLength: 20 }))), { maxLength: 4 });
const deviceBody = fc.record(
  {
    status: fc.constantFrom('IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED', 'QUEUED', 'bogus', 7),
    statusDetails: fc.oneof(fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })), fc.jsonValue()),
    expectedVersion: fc.oneof(fc.integer(), fc.string(), fc.double()),
    stepTimeoutInMinutes: fc.oneof(fc.integer({ min: -2, max: 20000 }), fc.constant('5')),
    targets: fc.array(fc.constantFrom('thing1', 'arn:aws:iot:us-east-1:1:thing/thing1', 'bad thing', ''), { maxLength: 3 }),
    document: fc.oneof(fc.json(), fc.string()),
    throttle: fc.double({ min: -1, max: 2 }),
    certificateSigningRequest: fc.string({ maxLength: 30 }),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: deviceBody.map((b) => Buffer.from(JSON.stringify(b))) },
  { weight: 2, arbitrary: fc.json().map((s) => Buffer.from(s)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(200 * 1024, 0x7b)) },
);
const HEADER_NAMES = ['content-type', 'x-amzn-principal', 'authorization', 'x-amz-date', 'accept', 'host', 'x-amz-content-sha256', 'expect-nothing'];
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,40}$/).map((s) => s.trim());
const headers = fc.dictionary(fc.constantFrom(...HEADER_NAMES), headerValue, { maxKeys: 4 });
const request = fc.record({
  method: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('GET', 'PUT', 'POST') }, { weight: 1, arbitrary: fc.constantFrom('DELETE', 'PATCH', 'HEAD', 'OPTIONS') }),
  segments: path,
  query,
  body,
  headers,
});

function checkAnswer(method: string, a: Answer): void {
  expect(a.status).toBeGreaterThanOrEqual(200);
  expect(a.status).toBeLessThan(600);
  expect(a.headers['x-amzn-requestid']).toEqual(expect.any(String));
  if (method === 'HEAD') return;
  const parsed: unknown = JSON.parse(a.body);
  expect(typeof parsed).toBe('object');
  if (a.status >= 400) {
    expect(a.headers['x-amzn-errortype']).toEqual(expect.stringMatching(/^[A-Za-z]+$/));
    expect((parsed as { message?: unknown }).message).toEqual(expect.any(String));
  }
}

async function fuzz(secure: boolean, runs: number): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const qs = new URLSearchParams(r.query).toString();
      const path = `/${r.segments.join('/')}${qs ? `?${qs}` : ''}`;
      const h: Record<string, string | number> = { ...r.headers };
      if (r.body !== undefined) h['content-length'] = r.body.length;
      const a = await send(secure, { method: r.method, path, headers: h }, r.body);
      checkAnswer(r.method, a);
      statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
    }),
    { numRuns: runs },
  );
  // A 500 is the catch-all for a bug in a front; no fault is armed here, so none may appear.
  expect(statuses.get(500)).toBeUndefined();
  expect(statuses.get(503)).toBeUndefined();
  return statuses;
}

async function stillAnswers(): Promise<void> {
  const d = await send(true, { method: 'GET', path: '/things/thing1/jobs' }, undefined);
  expect(d.status).toBe(200);
  expect(JSON.parse(d.body)).toHaveProperty('queuedJobs');
  // The fuzz may have deleted or cancelled any job it could name: prove the plane works with a fresh one.
  alive += 1;
  const body = Buffer.from(JSON.stringify({ targets: ['arn:aws:iot:us-east-1:123456789012:thing/thing1'], document: '{"op":"alive"}' }));
  const created = await send(false, { method: 'PUT', path: `/jobs/alive-${alive}`, headers: { 'content-type': 'application/json', 'content-length': body.length } }, body);
  expect(created.status).toBe(200);
  const c = await send(false, { method: 'GET', path: `/jobs/alive-${alive}` }, undefined);
  expect(c.status).toBe(200);
  expect(JSON.parse(c.body)).toHaveProperty('job');
}
let alive = 0;

describe('HTTP fronts under random requests', () => {
  it('the data plane answers 1,000 random requests well-formed and keeps serving', async () => {
    const statuses = await fuzz(true, 1000);
    // The fuzz must reach the operations, their refusals and the routing errors alike.
    for (const code of [200, 400, 403, 404, 405]) expect(statuses.get(code)).toBeGreaterThan(0);
    await stillAnswers();
  });

  it('the control plane answers 1,000 random requests well-formed and keeps serving', async () => {
    const statuses = await fuzz(false, 1000);
    for (const code of [200, 400, 404, 405, 413]) expect(statuses.get(code)).toBeGreaterThan(0);
    await stillAnswers();
  });

  it('survives raw garbage on both sockets', async () => {
    const garbage = [Buffer.from('\x00\x01\x02 not http\r\n\r\n'), Buffer.from('GET / HTTP/9.9\r\n\r\n'), Buffer.from('PUT /jobs/x HTTP/1.1\r\ncontent-length: -5\r\n\r\n'), Buffer.alloc(70_000, 0x41)];
    for (const g of garbage) {
      await new Promise<void>((resolve) => {
        const s = netConnect(control.port, '127.0.0.1', () => s.end(g));
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.resume();
      });
      await new Promise<void>((resolve) => {
        const s = tlsConnect({ host: '127.0.0.1', port: data.port, ...clientTls }, () => s.end(g));
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.resume();
      });
      // Plain bytes on the TLS port: a failed handshake, nothing more.
      await new Promise<void>((resolve) => {
        const s = netConnect(data.port, '127.0.0.1', () => s.end(g));
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.resume();
      });
    }
    await stillAnswers();
  });
});
