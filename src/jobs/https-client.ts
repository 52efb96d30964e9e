/**
 * The Jobs device API over the HTTPS data plane (docs/PROTOCOL.md §6) with the thing's own certificate (mutual
 * TLS, port 8443 on AWS). Used for namespaces and wherever MQTT is not wanted; no notifications
 * exist on HTTPS, so callers poll.
 *
 * Choices:
 * - `jobDocument` arrives as JSON text on HTTPS; it is parsed so a JobsApi consumer sees the same
 *   object MQTT delivers. Text that is not JSON is passed on as the string (the document validator
 *   then rejects the job, with the text to show for it) rather than failing the whole call.
 * - HTTPS has no clientToken and no timestamp; `timestamp` is filled from the injected clock.
 * - Only GetPendingJobExecutions takes a namespace on HTTPS. describe/update address an execution by
 *   jobId, which is unique across namespaces, so a namespace there is validated and otherwise moot;
 *   start-next (and describe `$next`) cannot be scoped on HTTPS and refuse a namespace rather than
 *   silently act on the default one.
 * - Throttling and ServiceUnavailable are retried with capped, jittered backoff. Connection failures
 *   and timeouts are retried for GET only: a PUT/POST may have been applied before the connection
 *   died, and the caller (with expectedVersion) is the one able to tell.
 */
import { readFile } from 'node:fs/promises';
import type * as Https from 'node:https';
import type { Agent } from 'node:https';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { retry } from '../lib/backoff';
import { createHttpsAgent, type Dialer } from '../net';
import { systemClock, epochSeconds } from '../lib/clock';
import type { Clock } from '../lib/clock';
import { AbortedError, AgentError, TimeoutError } from '../lib/errors';
import type { CallOptions, JobsApi } from './api';
import { InvalidJobsRequestError } from './errors';
import {
  decodeHttpsError,
  isTlsFailure,
  JobsHttpsError,
  JobsNetworkError,
  JobsProtocolError,
  JobsTlsError,
} from './https-errors';
import { DEVICE_STATUSES, LIMITS } from './types';
import type { DescribeReq, Details, ExecutionAccepted, GetPendingAccepted, StartNextReq, UpdateAccepted, UpdateReq } from './types';
import { parseJsonObject, validate } from './validate';
import type { Checked } from './validate';

export interface HttpsJobsClientOptions {
  /** `https://host:port` of the data plane (AWS: the `iot:Jobs` endpoint on port 8443). */
  endpoint: string;
  thingName: string;
  tls: { certificateFile: string; privateKeyFile: string; rootCaFile: string };
  /** Per attempt, unless a call gives its own. Default 10 s. */
  timeoutMs?: number;
  /** Attempts in all (1 = no retry). Default 3 attempts, 200 ms → 5 s. */
  retry?: { attempts: number; baseMs: number; maxMs: number };
  clock?: Clock;
  /** Random source for backoff jitter (tests). */
  random?: () => number;
  /** The way out (a proxy, or direct; absent: direct). Through a proxy, the mTLS runs inside its tunnel. */
  network?: Dialer;
}

const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
const DEFAULT_RETRY = { attempts: 3, baseMs: 200, maxMs: 5000 };

interface RawResponse {
  status: number;
  headers: IncomingMessage['headers'];
  text: string;
}

type Method = 'GET' | 'PUT' | 'POST';

export class HttpsJobsClient implements JobsApi {
  private readonly url: URL;
  private agent: Promise<Agent> | undefined;
  private closed = false;
  private readonly clock: Clock;

  constructor(private readonly o: HttpsJobsClientOptions) {
    if (!LIMITS.thingName.test(o.thingName)) throw new InvalidJobsRequestError(`invalid thing name ${JSON.stringify(o.thingName)}`);
    let url: URL;
    try {
      url = new URL(o.endpoint);
    } catch {
      throw new InvalidJobsRequestError(`invalid data plane endpoint ${JSON.stringify(o.endpoint)}`);
    }
    if (url.protocol !== 'https:') throw new InvalidJobsRequestError(`data plane endpoint must be https://, got ${o.endpoint}`);
    this.url = url;
    this.clock = o.clock ?? systemClock;
  }

  private get thingPath(): string {
    return `/things/${encodeURIComponent(this.o.thingName)}/jobs`;
  }

  async getPending(opts: CallOptions = {}): Promise<GetPendingAccepted> {
    checkNamespace(opts.namespace);
    const q = opts.namespace === undefined ? '' : `?namespaceId=${encodeURIComponent(opts.namespace)}`;
    const body = await this.call('GET', `${this.thingPath}${q}`, undefined, opts);
    const v = this.checked(validate.getPendingAccepted(body), 'GetPendingJobExecutions');
    return { inProgressJobs: v.inProgressJobs, queuedJobs: v.queuedJobs, timestamp: epochSeconds(this.clock) };
  }

  async startNext(req: Omit<StartNextReq, 'clientToken'> = {}, opts: CallOptions = {}): Promise<ExecutionAccepted> {
    checkStartNext(req, opts.namespace);
    const payload: Record<string, unknown> = {};
    if (req.statusDetails !== undefined) payload.statusDetails = req.statusDetails;
    if (req.stepTimeoutInMinutes !== undefined) payload.stepTimeoutInMinutes = req.stepTimeoutInMinutes;
    // `$next` is a literal of StartNextPendingJobExecution's URI template, so it is sent unencoded.
    const body = await this.call('PUT', `${this.thingPath}/$next`, payload, opts);
    return this.execution(body, 'StartNextPendingJobExecution');
  }

  async describe(jobId: string, req: Omit<DescribeReq, 'clientToken'> = {}, opts: CallOptions = {}): Promise<ExecutionAccepted> {
    checkDescribe(jobId, req, opts.namespace);
    const q = new URLSearchParams();
    if (req.includeJobDocument !== undefined) q.set('includeJobDocument', String(req.includeJobDocument));
    if (req.executionNumber !== undefined) q.set('executionNumber', String(req.executionNumber));
    const qs = q.size > 0 ? `?${q.toString()}` : '';
    const body = await this.call('GET', `${this.thingPath}/${encodeURIComponent(jobId)}${qs}`, undefined, opts);
    return this.execution(body, 'DescribeJobExecution');
  }

  async update(jobId: string, req: Omit<UpdateReq, 'clientToken'>, opts: CallOptions = {}): Promise<UpdateAccepted> {
    const payload = checkUpdate(jobId, req, opts.namespace);
    const body = await this.call('POST', `${this.thingPath}/${encodeURIComponent(jobId)}`, payload, opts);
    const v = this.checked(validate.updateAccepted(body), 'UpdateJobExecution');
    const out: UpdateAccepted = { timestamp: epochSeconds(this.clock) };
    if (v.executionState !== undefined) out.executionState = v.executionState;
    if (v.jobDocument !== undefined) out.jobDocument = parseDocument(v.jobDocument);
    return out;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    const agent = this.agent;
    this.agent = undefined;
    // Destroying the agent closes its idle keep-alive sockets: no open handles after close().
    return agent === undefined ? Promise.resolve() : agent.then((a) => a.destroy(), () => undefined);
  }

  private execution(body: Record<string, unknown>, op: string): ExecutionAccepted {
    const v = this.checked(validate.executionAccepted(body), op);
    const out: ExecutionAccepted = { timestamp: epochSeconds(this.clock) };
    if (v.execution !== undefined) {
      out.execution = { ...v.execution };
      if (v.execution.jobDocument !== undefined) out.execution.jobDocument = parseDocument(v.execution.jobDocument);
    }
    return out;
  }

  private checked<T>(c: Checked<T>, op: string): T {
    if (!c.ok) throw new JobsProtocolError(`${op}: malformed response: ${c.reason}`);
    return c.value;
  }

  private async call(method: Method, path: string, payload: unknown, opts: CallOptions): Promise<Record<string, unknown>> {
    if (this.closed) throw new AgentError('Closed', 'the HTTPS jobs client is closed');
    if (opts.signal?.aborted) throw new AbortedError(`${method} ${path}`, opts.signal.reason);
    const r = this.o.retry ?? DEFAULT_RETRY;
    const res = await retry(() => this.once(method, path, payload, opts), {
      maxAttempts: Math.max(1, r.attempts),
      baseMs: r.baseMs,
      maxMs: r.maxMs,
      random: this.o.random,
      signal: opts.signal,
      isRetryable: (err) => isRetryable(err, method),
      retryAfterMs: (err) => (err instanceof JobsHttpsError ? err.retryAfterMs : undefined),
    });
    const parsed = parseJsonObject(res.text.length === 0 ? '{}' : res.text);
    if (!parsed.ok) throw new JobsProtocolError(`${method} ${path}: ${parsed.reason}`);
    return parsed.value;
  }

  private async once(method: Method, path: string, payload: unknown, opts: CallOptions): Promise<RawResponse> {
    const agent = await this.getAgent();
    if (this.closed) throw new AgentError('Closed', 'the HTTPS jobs client is closed');
    const res = await this.send(agent, method, path, payload, opts);
    if (res.status >= 200 && res.status < 300) return res;
    throw decodeHttpsError(res.status, res.headers, res.text);
  }

  private send(agent: Agent, method: Method, path: string, payload: unknown, opts: CallOptions): Promise<RawResponse> {
    const what = `${method} ${path}`;
    const timeoutMs = opts.timeoutMs ?? this.o.timeoutMs ?? 10_000;
    const body = payload === undefined ? undefined : Buffer.from(JSON.stringify(payload));
    return new Promise<RawResponse>((resolve, reject) => {
      // The signal may have fired while the agent was loading or between retries.
      if (opts.signal?.aborted) {
        reject(new AbortedError(what, opts.signal.reason));
        return;
      }
      const headers: Record<string, string | number> = { accept: 'application/json' };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = body.length;
      }
      // node:https loads with the first HTTPS request: the MQTT-only agent never pays for it.
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy loading is the point
      const req = (require('node:https') as typeof Https).request({ agent, protocol: 'https:', hostname: this.url.hostname, port: this.url.port || 443, method, path, headers });
      const timer = setTimeout(() => req.destroy(new TimeoutError(what, timeoutMs)), timeoutMs);
      timer.unref();
      const onAbort = (): void => void req.destroy(new AbortedError(what, opts.signal?.reason));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const settle = (): void => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
      };
      const stage = trackStage(req);
      req.once('error', (err) => {
        settle();
        reject(classify(err, what, stage()));
      });
      req.once('response', (res) => {
        readAll(res).then(
          (text) => {
            settle();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
          },
          (err: unknown) => {
            settle();
            reject(classify(err, what, 'secure'));
          },
        );
      });
      req.end(body);
    });
  }

  private getAgent(): Promise<Agent> {
    this.agent ??= this.loadAgent().catch((err: unknown) => {
      // Let a later call try again (the files may be written by provisioning meanwhile).
      this.agent = undefined;
      throw err;
    });
    return this.agent;
  }

  private async loadAgent(): Promise<Agent> {
    const { certificateFile, privateKeyFile, rootCaFile } = this.o.tls;
    let files: [Buffer, Buffer, Buffer];
    try {
      files = await Promise.all([readFile(certificateFile), readFile(privateKeyFile), readFile(rootCaFile)]);
    } catch (err) {
      throw new AgentError('TlsFiles', `cannot read the TLS files: ${(err as Error).message}`, { cause: err });
    }
    const [cert, key, ca] = files;
    const host = this.url.hostname.replace(/^\[|\]$/g, '');
    return createHttpsAgent({
      keepAlive: true,
      // Idle sockets are closed well before a server's keep-alive timeout, so a request is never
      // written onto a connection the server is closing (which a POST could not safely retry).
      timeout: 15_000,
      maxSockets: 4,
      cert,
      key,
      ca,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      // SNI carries host names only (RFC 6066); an IP endpoint is verified against the IP SAN.
      ...(isIP(host) === 0 ? { servername: host } : {}),
    }, this.o.network, host, this.o.timeoutMs);
  }
}

function isRetryable(err: unknown, method: Method): boolean {
  if (err instanceof JobsHttpsError) return err.retryable;
  if (err instanceof JobsNetworkError || err instanceof TimeoutError) return method === 'GET';
  return false;
}

type Stage = 'reused' | 'connecting' | 'handshake' | 'secure';

/**
 * Where a request's connection got to. A failure after the TCP connect but before the TLS
 * handshake completed is the handshake failing (e.g. the server refused our certificate), not the
 * network.
 */
function trackStage(req: ClientRequest): () => Stage {
  let stage: Stage = 'reused';
  req.once('socket', (sock: TLSSocket) => {
    if (req.reusedSocket) return;
    stage = sock.connecting ? 'connecting' : 'handshake';
    sock.once('connect', () => (stage = 'handshake'));
    sock.once('secureConnect', () => (stage = 'secure'));
  });
  return () => stage;
}

function classify(err: unknown, what: string, stage: Stage): Error {
  if (err instanceof AgentError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (isTlsFailure(err)) return new JobsTlsError(`${what}: TLS failure: ${msg}`, err);
  if (stage === 'handshake') {
    return new JobsTlsError(`${what}: the server closed the connection during the TLS handshake (client certificate refused?): ${msg}`, err);
  }
  return new JobsNetworkError(`${what}: ${msg}`, err);
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_RESPONSE_BYTES) res.destroy(new JobsProtocolError(`response larger than ${MAX_RESPONSE_BYTES} bytes`));
      else chunks.push(c);
    });
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.once('error', reject);
    res.once('aborted', () => reject(new Error('response aborted')));
  });
}

function parseDocument(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
}

// ---- Request validation: a request the service would refuse is never sent (docs/PROTOCOL.md §6.3). ----

const bad = (message: string): never => {
  throw new InvalidJobsRequestError(message);
};

export function checkNamespace(ns: string | undefined): void {
  if (ns !== undefined && !LIMITS.namespaceId.test(ns)) bad(`invalid namespace ${JSON.stringify(ns)}`);
}

function checkJobId(jobId: string, allowNext: boolean): void {
  if (allowNext && jobId === '$next') return;
  if (!LIMITS.jobId.test(jobId)) bad(`invalid job id ${JSON.stringify(jobId)}`);
}

function checkDetails(d: Details | undefined): void {
  if (d === undefined) return;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) bad('statusDetails must be an object');
  for (const [k, v] of Object.entries(d)) {
    if (!LIMITS.detailKey.test(k)) bad(`statusDetails key ${JSON.stringify(k)} is invalid`);
    if (typeof v !== 'string' || v.length === 0 || v.length > LIMITS.detailValueMax || /\p{C}/u.test(v)) {
      bad(`statusDetails.${k} must be 1..${LIMITS.detailValueMax} characters without control characters`);
    }
  }
}

function checkInt(v: unknown, what: string, ok: (n: number) => boolean): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || !ok(v))) bad(`${what} is out of range: ${String(v)}`);
}

const stepOk = (n: number): boolean => n >= LIMITS.stepTimeoutMin && n <= LIMITS.stepTimeoutMax;

export function checkStartNext(req: Omit<StartNextReq, 'clientToken'>, ns: string | undefined): void {
  if (ns !== undefined) bad('StartNextPendingJobExecution cannot be scoped to a namespace over HTTPS');
  checkDetails(req.statusDetails);
  checkInt(req.stepTimeoutInMinutes, 'stepTimeoutInMinutes', stepOk);
}

export function checkDescribe(jobId: string, req: Omit<DescribeReq, 'clientToken'>, ns: string | undefined): void {
  checkJobId(jobId, true);
  if (jobId === '$next' && ns !== undefined) bad('DescribeJobExecution of $next cannot be scoped to a namespace over HTTPS');
  checkNamespace(ns);
  checkInt(req.executionNumber, 'executionNumber', (n) => n >= 0);
}

/** Validates an update and returns its HTTPS body (expectedVersion as the long the model says). */
export function checkUpdate(jobId: string, req: Omit<UpdateReq, 'clientToken'>, ns: string | undefined): Record<string, unknown> {
  checkJobId(jobId, false);
  checkNamespace(ns);
  if (!(DEVICE_STATUSES as readonly unknown[]).includes(req.status)) bad(`status ${JSON.stringify(req.status)} cannot be set by a device`);
  checkDetails(req.statusDetails);
  let expected: number | undefined;
  if (req.expectedVersion !== undefined) {
    expected = typeof req.expectedVersion === 'string' && /^\d{1,15}$/.test(req.expectedVersion) ? Number(req.expectedVersion) : (req.expectedVersion as number);
    checkInt(expected, 'expectedVersion', (n) => n >= 0);
  }
  checkInt(req.executionNumber, 'executionNumber', (n) => n >= 0);
  checkInt(req.stepTimeoutInMinutes, 'stepTimeoutInMinutes', (n) => n === -1 || stepOk(n));
  const body: Record<string, unknown> = { status: req.status };
  if (req.statusDetails !== undefined) body.statusDetails = req.statusDetails;
  if (expected !== undefined) body.expectedVersion = expected;
  if (req.executionNumber !== undefined) body.executionNumber = req.executionNumber;
  if (req.stepTimeoutInMinutes !== undefined) body.stepTimeoutInMinutes = req.stepTimeoutInMinutes;
  if (req.includeJobExecutionState !== undefined) body.includeJobExecutionState = req.includeJobExecutionState === true;
  if (req.includeJobDocument !== undefined) body.includeJobDocument = req.includeJobDocument === true;
  return body;
}
