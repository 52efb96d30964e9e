/**
 * An S3-like HTTPS front for the objects presigned URLs name (docs/SIGNING.md, "Artifacts"). With
 * `objectsDir` set, the sim serves `GET /BUCKET/KEY` from `objectsDir/BUCKET/KEY`, and every
 * presigned-URL placeholder it substitutes points here (path style) instead of at AWS, with a
 * signature only this front accepts, valid for the job's `presignedUrlConfig.expiresInSec`. TLS uses
 * the sim's server certificate (127.0.0.1 / localhost, issued by the sim's CA). Answers are S3's: 200
 * with Content-Length, 403 AccessDenied, 404 NoSuchKey, 405.
 *
 * A test can cut an object's next responses short (`truncate`): the declared Content-Length is the
 * whole object, then the connection closes mid-body, as a broken network would.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { resolve, sep } from 'node:path';
import { silentLogger } from '../../lib/log';
import type { Logger } from '../../lib/log';
import { presignedProblem } from '../jobs/presign';
import type { ObjectsOrigin } from '../jobs/presign';
import { guardClientErrors, listen } from './http-util';

export interface ObjectFrontOptions {
  dir: string;
  host: string;
  port: number;
  tls: { certPem: string; keyPem: string };
  /** The service's clock (ms): presigned URLs expire on it. */
  now(): number;
  log?: Logger;
}

export interface ObjectFront {
  port: number;
  /** Where placeholders now point, and the secret their signatures use. */
  objects: ObjectsOrigin;
  /** The next `times` responses for `/BUCKET/KEY` stop after `bytes` bytes of the body. */
  truncate(path: string, bytes: number, times?: number): void;
  close(): Promise<void>;
}

function s3Error(res: ServerResponse, status: number, code: string, message: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The file under `dir` a request path names, or undefined for a path that leaves it. */
function fileOf(dir: string, rawPath: string): string | undefined {
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return undefined;
  }
  const parts = path.split('/').slice(1);
  if (parts.length < 2 || parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0'))) return undefined;
  const file = resolve(dir, ...parts);
  return file.startsWith(resolve(dir) + sep) ? file : undefined;
}

export async function startObjectFront(o: ObjectFrontOptions): Promise<ObjectFront> {
  const log = o.log ?? silentLogger();
  const secret = randomBytes(32);
  const cuts = new Map<string, { bytes: number; times: number }>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return s3Error(res, 405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    const url = new URL(req.url ?? '/', 'https://objects.invalid');
    const problem = presignedProblem(secret, url.pathname, url.searchParams, o.now());
    if (problem) return s3Error(res, 403, 'AccessDenied', problem);
    const file = fileOf(o.dir, url.pathname);
    const size = file ? await stat(file).then((s) => (s.isFile() ? s.size : undefined), () => undefined) : undefined;
    if (file === undefined || size === undefined) return s3Error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    if (req.method === 'HEAD') return void res.end();
    const cut = cuts.get(url.pathname);
    if (cut === undefined) return void createReadStream(file).pipe(res);
    if (--cut.times <= 0) cuts.delete(url.pathname);
    log.info({ path: url.pathname, bytes: cut.bytes }, 'object front: cutting the response short');
    const part = (await readFile(file)).subarray(0, cut.bytes);
    // end(), not destroy(): the part is sent first, then the connection closes short of Content-Length.
    res.write(part, () => res.socket?.end());
  };

  const server = createServer({ cert: o.tls.certPem, key: o.tls.keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.warn({ err: String(err) }, 'object front: request failed');
      if (!res.headersSent) s3Error(res, 500, 'InternalError', 'We encountered an internal error. Please try again.');
      else res.destroy();
    });
  });
  guardClientErrors(server);
  const running = await listen(server, o.host, o.port);
  return {
    port: running.port,
    objects: { origin: `https://${o.host.includes(':') ? `[${o.host}]` : o.host}:${running.port}`, secret },
    truncate: (path, bytes, times = 1) => void cuts.set(path, { bytes, times }),
    close: () => running.close(),
  };
}
