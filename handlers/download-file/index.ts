/**
 * `download-file`: `{"operation":"download-file","url":"https://…","path":"/var/lib/app/fw.bin",
 * "sha256":"…"}`. Downloads next to the target (`.NAME.part`), resumes a partial download with a
 * Range request, checks size and sha256, fsyncs, and renames into place atomically. Presigned S3
 * URLs (query strings) are used exactly as given. Progress is reported in 10 % steps.
 * Options: `maxBytes` (default 4 GiB), `caFile`, `allowHttp` (default false), `allowedDirectories`.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { HandlerContext, HandlerResult, JobHandler } from '../../src/handlers/api';
import { RejectError } from '../../src/index';
import { checkRunAsUser, isRecord, optNumber, processDetails, runAsUserOf } from '../_shared/util';
import { DownloadError, openSource } from './source';

export interface DownloadDocument {
  operation?: string;
  url: string;
  /** Absolute destination path. */
  path: string;
  sha256?: string;
  maxBytes?: number;
  /** The file ends up owned by this user, who must be allowed to write the destination directory. */
  runAsUser?: string;
}

const DEFAULT_MAX = 4 * 1024 ** 3;

function validate(document: unknown): string | undefined {
  if (!isRecord(document)) return 'the job document must be an object';
  let url: URL;
  try {
    url = new URL(String(document.url));
  } catch {
    return 'url must be an absolute URL';
  }
  if (!['https:', 'http:', 'file:'].includes(url.protocol)) return 'url must be https:// or file://';
  const p = document.path;
  if (typeof p !== 'string' || !path.isAbsolute(p) || p.endsWith('/') || p.includes('\0') || path.normalize(p) !== p) return 'path must be a normalised absolute file path';
  if (document.sha256 !== undefined && !(typeof document.sha256 === 'string' && /^[0-9a-fA-F]{64}$/.test(document.sha256))) return 'sha256 must be 64 hex digits';
  const m = document.maxBytes;
  if (m !== undefined && !(typeof m === 'number' && Number.isInteger(m) && m > 0)) return 'maxBytes must be a positive whole number';
  return checkRunAsUser(document);
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

async function checkPlace(ctx: HandlerContext<DownloadDocument>, dest: string, user: string | undefined): Promise<void> {
  const allowed = ctx.options.allowedDirectories;
  if (Array.isArray(allowed) && !allowed.some((d) => typeof d === 'string' && dest.startsWith(path.resolve(d) + path.sep))) {
    throw new RejectError(`path ${dest} is outside the allowed directories (${allowed.join(', ')})`);
  }
  if (user === undefined) return;
  // The kernel answers for that user: the agent never writes where the job's user could not.
  const r = await ctx.exec.run(['test', '-w', path.dirname(dest)], { runAsUser: user, signal: ctx.signal });
  if (r.exitCode !== 0) throw new RejectError(`user ${user} may not write to ${path.dirname(dest)}`);
}

/** Reports progress in 10 % steps; only when the total size is known. */
function progressMeter(ctx: HandlerContext<unknown>, total: number | undefined): (done: number) => void {
  let reported = -1;
  return (done) => {
    if (!total) return;
    const pct = Math.min(100, Math.floor((done / total) * 10) * 10);
    if (pct > reported) {
      reported = pct;
      ctx.progress({ downloaded: `${pct}%` });
    }
  };
}

async function fsyncPath(p: string, flags: string): Promise<void> {
  const fh = await open(p, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function download(ctx: HandlerContext<DownloadDocument>, part: string, limit: number): Promise<{ bytes: number; digest: string }> {
  const ca = typeof ctx.options.caFile === 'string' ? await readFile(ctx.options.caFile, 'utf8') : undefined;
  const src = await openSource(new URL(ctx.document.url), { offset: await sizeOf(part), signal: ctx.signal, ca, allowHttp: ctx.options.allowHttp === true, network: ctx.network });
  if (src.total !== undefined && src.total > limit) {
    src.stream.destroy();
    throw new DownloadError(`${src.total} bytes is larger than the limit of ${limit} bytes`);
  }
  const hash = createHash('sha256');
  if (src.start > 0) for await (const c of createReadStream(part, { end: src.start - 1 })) hash.update(c as Buffer);
  const report = progressMeter(ctx, src.total);
  let done = src.start;
  report(done);
  const fh = await open(part, src.start > 0 ? 'a' : 'w', 0o644);
  try {
    // Each chunk is on disk before the next is read: whatever arrived before a failure can be resumed.
    for await (const chunk of src.stream) {
      const c = chunk as Buffer;
      done += c.length;
      if (done > limit) throw new DownloadError(`larger than the limit of ${limit} bytes`);
      hash.update(c);
      await fh.write(c);
      report(done);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { bytes: done, digest: hash.digest('hex') };
}

async function run(ctx: HandlerContext<DownloadDocument>): Promise<HandlerResult> {
  const doc = ctx.document;
  const user = runAsUserOf(doc as unknown as Record<string, unknown>);
  await checkPlace(ctx, doc.path, user);
  const part = path.join(path.dirname(doc.path), `.${path.basename(doc.path)}.part`);
  const limit = Math.min(doc.maxBytes ?? Infinity, optNumber(ctx.options, 'maxBytes', DEFAULT_MAX));
  let got: { bytes: number; digest: string };
  try {
    got = await download(ctx, part, limit);
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    // The partial file stays: a rerun resumes it.
    if (err instanceof DownloadError && /larger than the limit/.test(err.message)) await unlink(part).catch(() => undefined);
    return { status: 'FAILED', details: { reason: `download failed: ${err instanceof Error ? err.message : String(err)}` } };
  }
  if (doc.sha256 && got.digest !== doc.sha256.toLowerCase()) {
    await unlink(part);
    return { status: 'FAILED', details: { reason: 'sha256 mismatch', expected: doc.sha256.toLowerCase(), actual: got.digest } };
  }
  if (user !== undefined) {
    const r = await ctx.exec.run(['chown', `${user}:`, part], { signal: ctx.signal });
    if (r.exitCode !== 0) return { status: 'FAILED', details: processDetails(r, { reason: `cannot hand the file to ${user}` }) };
  }
  await rename(part, doc.path);
  await fsyncPath(path.dirname(doc.path), 'r');
  return { status: 'SUCCEEDED', details: { path: doc.path, bytes: String(got.bytes), sha256: got.digest } };
}

const downloadFile: JobHandler<DownloadDocument> = {
  name: 'download-file',
  // A rerun continues the partial download; the rename into place happens once, at the end.
  restartPolicy: 'rerun',
  timeoutSeconds: 3600,
  validate,
  run,
};

export default downloadFile;
