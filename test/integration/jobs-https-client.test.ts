/**
 * HttpsJobsClient against the sim's data plane over real mutual TLS with generated certificates:
 * every operation, namespaces, typed errors, retries, timeouts, aborts, identity checks.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpsJobsClient, type HttpsJobsClientOptions } from '../../src/jobs/https-client';
import {
  ForbiddenError,
  InvalidStateTransitionError,
  JobsNetworkError,
  JobsTlsError,
  ResourceNotFoundError,
  ServiceUnavailableError,
  ThrottlingError,
} from '../../src/jobs/https-errors';
import { InvalidJobsRequestError } from '../../src/jobs/errors';
import { ManualClock, systemClock } from '../../src/lib/clock';
import { AbortedError, TimeoutError } from '../../src/lib/errors';
import { startDataPlane, type DataPlaneService } from '../../src/sim/fronts/http-data-plane';
import type { RunningServer } from '../../src/sim/fronts/http-util';
import { JobsService } from '../../src/sim/service';
import { makeTestPki, type TestPki } from '../support/pki';

const ARN = (t: string): string => `arn:aws:iot:us-east-1:123456789012:thing/${t}`;

let dir: string;
let pki: TestPki;
let service: JobsService;
let data: RunningServer;
/** Calls that reached the service, per operation; a hook runs after each GetPending (to flip faults). */
const calls = { getPending: 0, describe: 0, startNext: 0, update: 0 };
let afterGetPending: (() => void) | undefined;
const clients: HttpsJobsClient[] = [];

function client(over: Partial<HttpsJobsClientOptions> & { thing?: string; certOf?: string } = {}): HttpsJobsClient {
  const files = pki.things[over.certOf ?? over.thing ?? 'thing1']!;
  const c = new HttpsJobsClient({
    endpoint: `https://127.0.0.1:${data.port}`,
    thingName: over.thing ?? 'thing1',
    tls: { ...files, rootCaFile: pki.caFile },
    retry: { attempts: 3, baseMs: 2, maxMs: 10 },
    ...over,
  });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jobs-https-'));
  pki = await makeTestPki(dir, ['thing1', 'thing2', 'thing3']);
  service = new JobsService({ clock: systemClock, publish: () => undefined });
  for (const t of ['thing1', 'thing2', 'thing3']) service.createThing(t);
  // Count what reaches the service: proves retries happened, and that invalid calls never left the client.
  const counted: DataPlaneService = {
    httpGetPending: (t, ns) => {
      calls.getPending++;
      const r = service.httpGetPending(t, ns);
      afterGetPending?.();
      return r;
    },
    httpDescribe: (t, j, q) => (calls.describe++, service.httpDescribe(t, j, q)),
    httpStartNext: (t, b) => (calls.startNext++, service.httpStartNext(t, b)),
    httpUpdate: (t, j, b) => (calls.update++, service.httpUpdate(t, j, b)),
    faultsFor: (t) => service.faultsFor(t),
  };
  data = await startDataPlane({
    service: counted,
    host: '127.0.0.1',
    port: 0,
    tls: {
      caPem: pki.caCertPem,
      certPem: await readFile(pki.server.certificateFile, 'utf8'),
      keyPem: await readFile(pki.server.privateKeyFile, 'utf8'),
    },
  });
});

afterEach(() => {
  afterGetPending = undefined;
  service.setFaults('*', {});
  for (const t of ['thing1', 'thing2', 'thing3']) service.setFaults(t, {});
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await data.close();
  await rm(dir, { recursive: true, force: true });
});

function create(jobId: string, thing: string, document: unknown, namespaceId?: string): void {
  const r = service.createJob({ jobId, targets: [ARN(thing)], document: JSON.stringify(document), ...(namespaceId ? { namespaceId } : {}) });
  expect(r.ok).toBe(true);
}

describe('HttpsJobsClient operations', () => {
  it('lists, describes, starts and updates with parsed job documents', async () => {
    const clock = new ManualClock(Date.UTC(2026, 5, 1));
    const c = client({ clock });
    create('a-1', 'thing1', { operation: 'exec', argv: ['true'] });
    create('a-2', 'thing1', { operation: 'reboot' });

    const pending = await c.getPending();
    expect(pending.timestamp).toBe(Math.floor(clock.now() / 1000));
    expect(pending.inProgressJobs).toEqual([]);
    expect(pending.queuedJobs.map((j) => j.jobId)).toEqual(['a-1', 'a-2']);

    const next = await c.describe('$next', { includeJobDocument: true });
    expect(next.execution).toMatchObject({ jobId: 'a-1', status: 'QUEUED', thingName: 'thing1' });
    expect(next.execution?.jobDocument).toEqual({ operation: 'exec', argv: ['true'] });

    const started = await c.startNext({ statusDetails: { phase: 'download' }, stepTimeoutInMinutes: 10 });
    expect(started.execution).toMatchObject({ jobId: 'a-1', status: 'IN_PROGRESS', statusDetails: { phase: 'download' } });
    expect(started.execution?.jobDocument).toEqual({ operation: 'exec', argv: ['true'] });

    const v = started.execution!.versionNumber;
    const done = await c.update('a-1', { status: 'SUCCEEDED', expectedVersion: String(v), includeJobExecutionState: true, includeJobDocument: true });
    expect(done.executionState).toMatchObject({ status: 'SUCCEEDED', versionNumber: v + 1 });
    expect(done.jobDocument).toEqual({ operation: 'exec', argv: ['true'] });

    const bare = await c.update('a-2', { status: 'IN_PROGRESS' });
    expect(bare.executionState).toBeUndefined();
    const one = await c.describe('a-1', { executionNumber: 1, includeJobDocument: false });
    expect(one.execution?.status).toBe('SUCCEEDED');
    expect(one.execution?.jobDocument).toBeUndefined();
  });

  it('answers describe $next with no execution when nothing is pending', async () => {
    const r = await client({ thing: 'thing3' }).describe('$next');
    expect(r.execution).toBeUndefined();
    const s = await client({ thing: 'thing3' }).startNext();
    expect(s.execution).toBeUndefined();
  });

  it('filters pending executions by namespace', async () => {
    const c = client({ thing: 'thing2' });
    create('ns-default', 'thing2', { operation: 'a' });
    create('ns-job', 'thing2', { operation: 'b' }, 'fleet-ops');
    expect((await c.getPending()).queuedJobs.map((j) => j.jobId)).toEqual(['ns-default']);
    expect((await c.getPending({ namespace: 'fleet-ops' })).queuedJobs.map((j) => j.jobId)).toEqual(['ns-job']);
    expect((await c.getPending({ namespace: 'other' })).queuedJobs).toEqual([]);
    // A namespaced execution is still addressed by its job id alone.
    expect((await c.describe('ns-job', {}, { namespace: 'fleet-ops' })).execution?.jobId).toBe('ns-job');
  });

  it('throws typed errors decoded by name', async () => {
    const c = client();
    await expect(c.describe('no-such-job')).rejects.toBeInstanceOf(ResourceNotFoundError);
    create('b-1', 'thing1', { operation: 'x' });
    await c.update('b-1', { status: 'IN_PROGRESS' });
    await c.update('b-1', { status: 'FAILED' });
    const err = await c.update('b-1', { status: 'IN_PROGRESS' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidStateTransitionError);
    expect(err).toMatchObject({ code: 'InvalidStateTransition', status: 409, retryable: false, errorName: 'InvalidStateTransitionException' });
  });
});

describe('HttpsJobsClient validation', () => {
  let tcp: Server;
  let connections = 0;
  beforeAll(async () => {
    tcp = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  });
  afterAll(() => new Promise<void>((r) => tcp.close(() => r())));

  it('refuses invalid input before sending anything', async () => {
    const port = (tcp.address() as { port: number }).port;
    const c = client({ endpoint: `https://127.0.0.1:${port}` });
    const bad: Array<Promise<unknown>> = [
      c.getPending({ namespace: 'bad ns' }),
      c.describe('bad id!'),
      c.describe('$next', {}, { namespace: 'ns' }),
      c.startNext({}, { namespace: 'ns' }),
      c.startNext({ stepTimeoutInMinutes: 0 }),
      c.update('$next', { status: 'SUCCEEDED' }),
      c.update('j1', { status: 'QUEUED' as never }),
      c.update('j1', { status: 'FAILED', statusDetails: { 'bad key!': 'x' } }),
      c.update('j1', { status: 'FAILED', statusDetails: { reason: 'line\nbreak' } }),
      c.update('j1', { status: 'FAILED', statusDetails: { reason: 'x'.repeat(1025) } }),
      c.update('j1', { status: 'FAILED', expectedVersion: 'seven' }),
      c.update('j1', { status: 'FAILED', stepTimeoutInMinutes: 10081 }),
    ];
    for (const p of bad) await expect(p).rejects.toBeInstanceOf(InvalidJobsRequestError);
    expect(connections).toBe(0);
    expect(() => client({ thingName: 'no spaces allowed' })).toThrow(InvalidJobsRequestError);
    expect(() => client({ thingName: 'x'.repeat(129) })).toThrow(InvalidJobsRequestError);
    expect(() => client({ endpoint: 'http://127.0.0.1:1' })).toThrow(InvalidJobsRequestError);
  });
});

describe('HttpsJobsClient retries and faults', () => {
  it('retries throttling until the service recovers', async () => {
    service.setFaults('thing1', { throttle: 1 });
    const before = calls.getPending;
    afterGetPending = () => {
      if (calls.getPending - before === 1) service.setFaults('thing1', { throttle: 0 });
    };
    const r = await client().getPending();
    expect(r.queuedJobs).toEqual(expect.any(Array));
    expect(calls.getPending - before).toBe(2);
  });

  it('gives up after the configured attempts with a retryable ThrottlingError', async () => {
    service.setFaults('thing1', { throttle: 1 });
    const before = calls.getPending;
    const err = await client().getPending().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThrottlingError);
    expect(err).toMatchObject({ code: 'RequestThrottled', retryable: true, status: 429 });
    expect(calls.getPending - before).toBe(3);
  });

  it('retries ServiceUnavailable on updates too, but not a dropped response', async () => {
    create('c-1', 'thing1', { operation: 'y' });
    service.setFaults('thing1', { internalError: 1 });
    const before = calls.update;
    await expect(client().update('c-1', { status: 'IN_PROGRESS' })).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(calls.update - before).toBe(3);

    service.setFaults('thing1', { dropResponse: 1 });
    const mid = calls.update;
    await expect(client().update('c-1', { status: 'IN_PROGRESS' })).rejects.toBeInstanceOf(JobsNetworkError);
    // Applied once, never repeated: the caller decides (its expectedVersion tells it what happened).
    expect(calls.update - mid).toBe(1);
    service.setFaults('thing1', {});
    expect((await client().describe('c-1')).execution?.status).toBe('IN_PROGRESS');
  });

  it('times out a slow response and aborts on a signal', async () => {
    service.setFaults('thing1', { responseDelayMs: 5_000 });
    await expect(client({ retry: { attempts: 1, baseMs: 1, maxMs: 1 } }).getPending({ timeoutMs: 100 })).rejects.toBeInstanceOf(TimeoutError);
    const ac = new AbortController();
    const p = client().getPending({ signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(AbortedError);
  });
});

describe('HttpsJobsClient identity', () => {
  it('cannot read another thing with its own certificate', async () => {
    const err = await client({ thing: 'thing2', certOf: 'thing1' }).getPending().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ForbiddenError);
    expect(err).toMatchObject({ status: 403, errorName: 'ForbiddenException', retryable: false });
  });

  it('is refused at the TLS handshake with a certificate from another CA', async () => {
    const before = calls.getPending;
    const c = client({ tls: { ...pki.otherCa.client, rootCaFile: pki.caFile } });
    const err = await c.getPending().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobsTlsError);
    expect(err).toMatchObject({ code: 'Tls', retryable: false });
    expect(calls.getPending).toBe(before);
  });

  it('refuses a server its root CA does not trust', async () => {
    const c = client({ tls: { ...pki.things.thing1!, rootCaFile: pki.otherCa.caFile } });
    await expect(c.getPending()).rejects.toBeInstanceOf(JobsTlsError);
  });

  it('reports a refused connection as a retryable network error', async () => {
    const tcp = createServer();
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const port = (tcp.address() as { port: number }).port;
    await new Promise<void>((r) => tcp.close(() => r()));
    const err = await client({ endpoint: `https://127.0.0.1:${port}`, retry: { attempts: 1, baseMs: 1, maxMs: 1 } })
      .getPending()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobsNetworkError);
    expect(err).toMatchObject({ retryable: true });
  });

  it('closes cleanly and refuses calls afterwards', async () => {
    const c = client();
    await c.getPending();
    await c.close();
    await c.close();
    await expect(c.getPending()).rejects.toMatchObject({ code: 'Closed' });
  });
});
