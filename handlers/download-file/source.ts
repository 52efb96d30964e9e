/** Opens a download source at a byte offset: https (http only when allowed), following redirects, or file://. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type * as Http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type * as Https from 'node:https';
import { isIP } from 'node:net';
import { type Duplex, Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { NetworkAccess } from '../../src/handlers/api';

export interface SourceOptions {
  offset: number;
  signal: AbortSignal;
  /** Extra trusted CA (PEM) for https. */
  ca?: string;
  allowHttp: boolean;
  /** The agent's way out (its proxy): every connection goes through it. */
  network: NetworkAccess;
}

export interface Source {
  stream: Readable;
  /** Where the stream starts in the file: `offset` when the server resumed, else 0. */
  start: number;
  /** Total size, when known. */
  total?: number;
}

const MAX_REDIRECTS = 5;

export class DownloadError extends Error {}

type Created = (err: Error | null, stream: Duplex) => void;

/**
 * The connection for one request, opened the agent's way (through its proxy when one applies); for
 * https the TLS runs over it here, verified against `ca` or the system store.
 */
function connector(url: URL, o: SourceOptions): (opts: unknown, done: Created) => undefined {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const secure = url.protocol === 'https:';
  const port = Number(url.port || (secure ? 443 : 80));
  return (_opts, done) => {
    o.network.connect(host, port, { signal: o.signal }).then(
      (socket) => {
        if (!secure) return done(null, socket);
        // RFC 6066: no IP address as SNI; verification still checks the IP SAN.
        const tls = tlsConnect({ socket, host, rejectUnauthorized: true, ALPNProtocols: ['http/1.1'], ...(isIP(host) === 0 ? { servername: host } : {}), ...(o.ca ? { ca: o.ca } : {}) });
        done(null, tls);
      },
      (err: Error) => done(err, undefined as unknown as Duplex),
    );
    return undefined;
  };
}

function get(url: URL, headers: Record<string, string>, o: SourceOptions): Promise<IncomingMessage> {
  // node:http(s) load with the first download, not with the agent: an idle agent never needs them.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy loading is the point
  const lib = url.protocol === 'https:' ? (require('node:https') as typeof Https) : (require('node:http') as typeof Http);
  return new Promise((resolve, reject) => {
    // The URL object goes through as is: a presigned query string must reach the server byte for byte.
    const req = lib.get(url, { headers, signal: o.signal, createConnection: connector(url, o) as never }, resolve);
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new DownloadError('no data from the server for 60 s')));
  });
}

function contentRange(res: IncomingMessage): { first: number; total?: number } | undefined {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers['content-range'] ?? '');
  if (!m) return undefined;
  return { first: Number(m[1]), total: m[2] === '*' ? undefined : Number(m[2]) };
}

async function openHttp(url: URL, o: SourceOptions, redirects = 0): Promise<Source> {
  if (url.protocol === 'http:' && !o.allowHttp) throw new DownloadError('plain http is not allowed (use https)');
  const res = await get(url, o.offset > 0 ? { Range: `bytes=${o.offset}-` } : {}, o);
  const status = res.statusCode ?? 0;
  if (status >= 300 && status < 400 && res.headers.location) {
    res.resume();
    if (redirects >= MAX_REDIRECTS) throw new DownloadError('too many redirects');
    const next = new URL(res.headers.location, url);
    if (url.protocol === 'https:' && next.protocol !== 'https:') throw new DownloadError(`refusing a redirect from https to ${next.protocol}`);
    return openHttp(next, o, redirects + 1);
  }
  if (status === 206) {
    const range = contentRange(res);
    if (range?.first === o.offset) return { stream: res, start: o.offset, total: range.total };
    res.resume();
    return openHttp(url, { ...o, offset: 0 }, redirects);
  }
  if (status === 416 && o.offset > 0) {
    res.resume();
    // Asked beyond the end: the partial file may already be complete, which the checksum will tell.
    const total = Number(/\/(\d+)$/.exec(res.headers['content-range'] ?? '')?.[1] ?? NaN);
    if (total === o.offset) return { stream: Readable.from([]), start: o.offset, total };
    return openHttp(url, { ...o, offset: 0 }, redirects);
  }
  if (status !== 200) {
    res.resume();
    throw new DownloadError(`HTTP ${status} ${res.statusMessage ?? ''}`.trim());
  }
  const len = Number(res.headers['content-length']);
  return { stream: res, start: 0, total: Number.isFinite(len) ? len : undefined };
}

async function openFile(url: URL, o: SourceOptions): Promise<Source> {
  const file = fileURLToPath(url);
  const size = (await stat(file)).size;
  const start = o.offset <= size ? o.offset : 0;
  return { stream: createReadStream(file, { start, signal: o.signal }), start, total: size };
}

export function openSource(url: URL, o: SourceOptions): Promise<Source> {
  return url.protocol === 'file:' ? openFile(url, o) : openHttp(url, o);
}
