/**
 * Plumbing shared by the sim's HTTP fronts: bounded body reading, restJson1 responses and errors
 * (docs/PROTOCOL.md §6.4), path/query parsing with per-segment percent-decoding (docs/PROTOCOL.md §6.5), response faults,
 * and a server lifecycle whose close() leaves no open sockets. Nothing here knows a route.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../lib/log';
import { MAX_ADVANCE_MS } from '../clock';
import type { CreateJobInput, Faults, Result, ServiceError } from '../types';

/** One control-plane request as a route sees it. */
export interface Req {
  params: Record<string, string>;
  query: URLSearchParams;
  body: Record<string, unknown>;
  headers: IncomingMessage['headers'];
}

export type Outcome = Result<unknown> | Promise<Result<unknown>>;

export interface Route {
  method: string;
  path: string[];
  run: (r: Req) => Outcome;
}

/** Largest request body either front accepts; a full update with 10×1024-char details is ~11 KiB. */
export const MAX_BODY_BYTES = 128 * 1024;

export function serviceError(name: string, status: number, message: string, executionState?: unknown): ServiceError {
  const e: ServiceError = { name, status, message };
  if (executionState !== undefined) e.executionState = executionState;
  return e;
}

export const invalidRequest = (message: string): ServiceError => serviceError('InvalidRequestException', 400, message);

/** Thrown by readBody when the body exceeds the limit; the front answers 413 and closes. */
export class BodyTooLarge extends Error {}

/** Reads the whole body, or rejects with BodyTooLarge as soon as `limit` is passed (no buffering beyond it). */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: Error | undefined): void => {
      if (done) return;
      done = true;
      req.removeListener('data', onData);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > limit) {
        // Stop reading: the socket is closed after the 413 so the rest is never parsed.
        req.pause();
        finish(new BodyTooLarge(`request body exceeds ${limit} bytes`));
      } else chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => finish(undefined));
    req.once('error', (e) => finish(e));
    req.once('close', () => finish(new Error('request closed before its body ended')));
  });
}

export type JsonBody = { ok: true; value: Record<string, unknown> } | { ok: false; error: ServiceError };

/** restJson1 bodies are JSON objects; an empty body means `{}` (SDKs omit it when no member is set). */
export function parseJsonBody(buf: Buffer): JsonBody {
  const text = buf.toString('utf8');
  if (text.trim().length === 0) return { ok: true, value: {} };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: invalidRequest(`request body is not valid JSON: ${(err as Error).message}`) };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    return { ok: false, error: invalidRequest('request body must be a JSON object') };
  }
  return { ok: true, value: v as Record<string, unknown> };
}

export interface ParsedUrl {
  /** Path segments, each percent-decoded on its own so an encoded '/' never splits a label. */
  segments: string[];
  query: URLSearchParams;
}

/** Parses the request target; undefined for a malformed one (bad percent-encoding, not origin-form). */
export function parseUrl(rawUrl: string | undefined): ParsedUrl | undefined {
  if (rawUrl === undefined || !rawUrl.startsWith('/')) return undefined;
  const q = rawUrl.indexOf('?');
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const parts = path.split('/').slice(1);
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  const segments: string[] = [];
  for (const p of parts) {
    try {
      segments.push(decodeURIComponent(p));
    } catch {
      return undefined;
    }
  }
  try {
    return { segments, query: new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1)) };
  } catch {
    return undefined;
  }
}

/** A boolean query parameter: absent → undefined; anything but true/false → error (docs/PROTOCOL.md §6.3). */
export function queryBool(query: URLSearchParams, name: string): { ok: true; value: boolean | undefined } | { ok: false; error: ServiceError } {
  const v = query.get(name);
  if (v === null) return { ok: true, value: undefined };
  if (v === 'true' || v === 'false') return { ok: true, value: v === 'true' };
  return { ok: false, error: invalidRequest(`${name} must be true or false`) };
}

/** A long query parameter (non-negative, safe integer). */
export function queryLong(query: URLSearchParams, name: string, min = 0): { ok: true; value: number | undefined } | { ok: false; error: ServiceError } {
  const v = query.get(name);
  if (v === null) return { ok: true, value: undefined };
  if (!/^-?\d{1,16}$/.test(v)) return { ok: false, error: invalidRequest(`${name} must be an integer`) };
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) return { ok: false, error: invalidRequest(`${name} is out of range`) };
  return { ok: true, value: n };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, requestId: string): void {
  if (res.headersSent || res.destroyed) return;
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': requestId,
  });
  res.end(text);
}

/**
 * A restJson1 error: the name in `x-amzn-ErrorType` and again as `code` in the body, so header- and
 * body-based decoders agree; `executionState` rides along where the service supplied one (docs/PROTOCOL.md §6.4).
 */
export function sendError(res: ServerResponse, err: ServiceError, requestId: string): void {
  if (res.headersSent || res.destroyed) return;
  sentErrors.set(res, err);
  const body: Record<string, unknown> = { message: err.message, code: err.name };
  if (err.executionState !== undefined) body.executionState = err.executionState;
  const text = JSON.stringify(body);
  res.writeHead(err.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': requestId,
    'x-amzn-errortype': err.name,
  });
  res.end(text);
}

export const newRequestId = (): string => randomUUID();

const sentErrors = new WeakMap<ServerResponse, ServiceError>();

/**
 * Logs the refusal a response carried, once it has gone out: the request (its path names the thing)
 * and the reason, at info so a user rehearsing a device sees why a request failed.
 */
export function logRefusals(req: IncomingMessage, res: ServerResponse, log: Logger, front: string): void {
  res.once('finish', () => {
    const err = sentErrors.get(res);
    if (err === undefined) return;
    log.info({ front, request: `${req.method ?? '?'} ${req.url ?? ''}`, status: err.status, code: err.name, reason: err.message }, 'request refused');
  });
}

/**
 * The start every front shares: a request id, the body within its limit (413 and no keep-alive
 * beyond it) and a well-formed request target. Undefined when the answer has already been sent.
 */
export async function readRequest(req: IncomingMessage, res: ServerResponse): Promise<{ requestId: string; body: Buffer; url: ParsedUrl } | undefined> {
  const requestId = newRequestId();
  let body: Buffer;
  try {
    body = await readBody(req);
  } catch (err) {
    if (err instanceof BodyTooLarge) {
      res.shouldKeepAlive = false;
      sendError(res, serviceError('RequestEntityTooLargeException', 413, err.message), requestId);
    }
    return undefined;
  }
  const url = parseUrl(req.url);
  if (url === undefined) {
    sendError(res, invalidRequest('malformed request target'), requestId);
    return undefined;
  }
  return { requestId, body, url };
}

/** Per-thing response faults the fronts apply (throttling and internal errors happen in the service). */
export interface ResponseFaults {
  delayMs: number;
  drop: boolean;
}

export function responseFaults(faults: Faults | undefined, random: () => number): ResponseFaults {
  const delayMs = Math.max(0, Math.min(faults?.responseDelayMs ?? 0, 600_000));
  const p = faults?.dropResponse ?? 0;
  return { delayMs: Number.isFinite(delayMs) ? delayMs : 0, drop: p > 0 && random() < p };
}

/**
 * Delivers a response after the thing's injected delay, or drops it: the connection is destroyed
 * without an answer, which a client sees as a reset — the HTTP analogue of a lost MQTT response.
 */
export function deliver(res: ServerResponse, f: ResponseFaults, send: () => void): void {
  const go = (): void => {
    if (res.destroyed) return;
    if (f.drop) res.socket?.destroy();
    else send();
  };
  if (f.delayMs <= 0) go();
  else setTimeout(go, f.delayMs).unref();
}

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

/** Listens, and returns a close() that ends every open connection (keep-alive sockets included). */
export function listen(server: HttpServer | HttpsServer, host: string, port: number): Promise<RunningServer> {
  // Outlive clients' idle timeouts (ours: 15 s) so it is the client that closes an idle connection.
  server.keepAliveTimeout = 30_000;
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.removeListener('error', onError);
      // After start-up a server error must not crash the process; log-less by design here.
      server.on('error', () => undefined);
      const actual = (server.address() as AddressInfo).port;
      let closing: Promise<void> | undefined;
      resolve({
        port: actual,
        close: () => {
          closing ??= new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          });
          return closing;
        },
      });
    });
  });
}

/** Answers unparseable HTTP with a plain 400 instead of letting the parser error surface. */
export function guardClientErrors(server: HttpServer | HttpsServer): void {
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
}

// ---- Control-plane input: type checks only; the service owns the rules (ranges, patterns, state).

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = <T>(message: string): Result<T> => ({ ok: false, error: invalidRequest(message) });

/**
 * CreateJob body: the job id comes from the path, every body member goes to the service, which
 * checks each one against AWS's model (state/job-fields.ts) and refuses unknown or unsupported ones.
 */
export function checkCreateJob(jobId: string, b: Obj): Result<CreateJobInput> {
  return { ok: true, value: { ...b, jobId } as CreateJobInput };
}

/** CancelJobExecution body: expectedVersion (long), statusDetails (string map). */
export function checkCancelExecution(b: Obj): Result<{ expectedVersion?: number; statusDetails?: Record<string, string> }> {
  const out: { expectedVersion?: number; statusDetails?: Record<string, string> } = {};
  if (b.expectedVersion !== undefined) {
    if (typeof b.expectedVersion !== 'number' || !Number.isSafeInteger(b.expectedVersion)) return bad('expectedVersion must be an integer');
    out.expectedVersion = b.expectedVersion;
  }
  if (b.statusDetails !== undefined) {
    if (!isObj(b.statusDetails) || !Object.values(b.statusDetails).every((v) => typeof v === 'string')) return bad('statusDetails must map strings to strings');
    out.statusDetails = b.statusDetails as Record<string, string>;
  }
  return { ok: true, value: out };
}

/** `force` and `executionNumber` query members. */
export function queryFlags(q: URLSearchParams): Result<{ force?: boolean; executionNumber?: number }> {
  const force = queryBool(q, 'force');
  if (!force.ok) return force;
  const num = queryLong(q, 'executionNumber');
  if (!num.ok) return num;
  const out: { force?: boolean; executionNumber?: number } = {};
  if (force.value !== undefined) out.force = force.value;
  if (num.value !== undefined) out.executionNumber = num.value;
  return { ok: true, value: out };
}

export interface ListQueryIn {
  status?: string;
  jobId?: string;
  namespaceId?: string;
  maxResults?: number;
  nextToken?: string;
}

/** ListJobExecutionsFor{Thing,Job} query members. */
export function listQuery(q: URLSearchParams): Result<ListQueryIn> {
  const max = queryLong(q, 'maxResults', 1);
  if (!max.ok) return max;
  const out: ListQueryIn = {};
  if (max.value !== undefined) out.maxResults = max.value;
  for (const k of ['status', 'namespaceId', 'nextToken', 'jobId'] as const) {
    const v = q.get(k);
    if (v !== null) out[k] = v;
  }
  return { ok: true, value: out };
}

const PROBABILITIES = ['throttle', 'internalError', 'dropResponse'] as const;
const DURATIONS = ['responseDelayMs', 'eventualConsistencyMs'] as const;

/** The admin faults body: every key checked, unknown keys refused (a typo must not silently do nothing). */
export function checkFaults(b: Obj): Result<Faults> {
  const known = new Set<string>([...PROBABILITIES, ...DURATIONS, 'duplicateNotifyNext']);
  const unknown = Object.keys(b).find((k) => !known.has(k));
  if (unknown !== undefined) return bad(`unknown fault ${JSON.stringify(unknown)}`);
  const f: Faults = {};
  for (const k of PROBABILITIES) {
    const v = b[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) return bad(`${k} must be a probability between 0 and 1`);
    f[k] = v;
  }
  for (const k of DURATIONS) {
    const v = b[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 600_000) return bad(`${k} must be 0..600000 ms`);
    f[k] = v;
  }
  if (b.duplicateNotifyNext !== undefined) {
    if (typeof b.duplicateNotifyNext !== 'boolean') return bad('duplicateNotifyNext must be a boolean');
    f.duplicateNotifyNext = b.duplicateNotifyNext;
  }
  return { ok: true, value: f };
}

/** `POST /sim/clock`: exactly one of `advanceMs` (whole ms) or `to` (an ISO-8601 instant not before now) → ms to add. */
export function checkClockMove(b: Obj, nowMs: number): Result<number> {
  const unknown = Object.keys(b).find((k) => k !== 'advanceMs' && k !== 'to');
  if (unknown !== undefined) return bad(`unknown clock field ${JSON.stringify(unknown)}; use advanceMs or to`);
  if ((b.advanceMs === undefined) === (b.to === undefined)) return bad('give exactly one of advanceMs or to');
  let ms: number;
  if (b.advanceMs !== undefined) {
    if (typeof b.advanceMs !== 'number' || !Number.isSafeInteger(b.advanceMs) || b.advanceMs < 0) return bad('advanceMs must be a whole number of milliseconds, at least 0');
    ms = b.advanceMs;
  } else {
    const to = typeof b.to === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(b.to) ? Date.parse(b.to) : NaN;
    if (!Number.isFinite(to)) return bad('to must be an ISO-8601 date and time with a zone, e.g. 2026-01-01T10:00:00Z');
    if (to < nowMs) return bad(`to ${String(b.to)} is before the service's current time ${new Date(nowMs).toISOString()}; the clock never goes back`);
    ms = to - nowMs;
  }
  if (ms > MAX_ADVANCE_MS) return bad(`the clock moves at most ${MAX_ADVANCE_MS} ms at a time`);
  return { ok: true, value: ms };
}
