import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createTestContext, runTestJob } from '../../src/index';
import download, { type DownloadDocument } from './index';

const body = randomBytes(300_000);
const sha = createHash('sha256').update(body).digest('hex');

interface Server {
  base: string;
  requests: Array<{ url: string; range?: string }>;
  /** Cut the next full response after this many bytes. */
  cutNextAt?: number;
  close(): Promise<void>;
}

async function serve(): Promise<Server> {
  const s: Server = { base: '', requests: [], close: () => new Promise((r) => server.close(() => r())) };
  const server = http.createServer((req, res) => {
    s.requests.push({ url: req.url ?? '', range: req.headers.range });
    if (!req.url?.startsWith('/fw.bin?')) return void res.writeHead(403).end('AccessDenied');
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const from = m ? Number(m[1]) : 0;
    if (m) res.writeHead(206, { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}`, 'content-length': body.length - from });
    else res.writeHead(200, { 'content-length': body.length });
    if (s.cutNextAt !== undefined && !m) {
      const cut = s.cutNextAt;
      s.cutNextAt = undefined;
      res.write(body.subarray(0, cut), () => res.destroy());
      return;
    }
    res.end(body.subarray(from));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return s;
}

const presigned = '/fw.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=abc123';

describe('download-file handler', () => {
  let srv: Server;
  let dir: string;
  beforeEach(async () => {
    srv = await serve();
    dir = mkdtempSync(path.join(os.tmpdir(), 'download-'));
  });
  afterEach(() => srv.close());

  const job = (doc: Partial<DownloadDocument>, options: Record<string, unknown> = { allowHttp: true }) => {
    const ctx = createTestContext<DownloadDocument>({ document: { url: srv.base + presigned, path: path.join(dir, 'fw.bin'), ...doc } as DownloadDocument, options });
    return { ctx, outcome: runTestJob(download, ctx) };
  };

  it('downloads a presigned URL exactly as given, checks sha256, reports progress, renames into place', async () => {
    const { ctx, outcome } = job({ sha256: sha });
    await expect(outcome).resolves.toEqual({ result: { status: 'SUCCEEDED', details: { path: path.join(dir, 'fw.bin'), bytes: '300000', sha256: sha } } });
    expect(srv.requests[0]?.url).toBe(presigned);
    expect(readFileSync(path.join(dir, 'fw.bin')).equals(body)).toBe(true);
    expect(existsSync(path.join(dir, '.fw.bin.part'))).toBe(false);
    expect(ctx.progressCalls.at(0)).toEqual({ downloaded: '0%' });
    expect(ctx.progressCalls.at(-1)).toEqual({ downloaded: '100%' });
  });

  it('resumes a partial download with a Range request', async () => {
    srv.cutNextAt = 100_000;
    const first = await job({ sha256: sha }).outcome;
    expect(first).toMatchObject({ result: { status: 'FAILED', details: { reason: expect.stringContaining('download failed') } } });
    const kept = statSync(path.join(dir, '.fw.bin.part')).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(100_000);
    const second = await job({ sha256: sha }).outcome;
    expect(second).toMatchObject({ result: { status: 'SUCCEEDED', details: { sha256: sha } } });
    expect(srv.requests.at(-1)?.range).toBe(`bytes=${kept}-`);
    expect(readFileSync(path.join(dir, 'fw.bin')).equals(body)).toBe(true);
  });

  it('fails on a checksum mismatch and leaves nothing in place', async () => {
    const r = await job({ sha256: 'a'.repeat(64) }).outcome;
    expect(r).toEqual({ result: { status: 'FAILED', details: { reason: 'sha256 mismatch', expected: 'a'.repeat(64), actual: sha } } });
    expect(existsSync(path.join(dir, 'fw.bin'))).toBe(false);
    expect(existsSync(path.join(dir, '.fw.bin.part'))).toBe(false);
  });

  it('enforces the size limit, from the document or the options', async () => {
    await expect(job({ maxBytes: 1000 }).outcome).resolves.toMatchObject({ result: { status: 'FAILED', details: { reason: expect.stringContaining('larger than the limit of 1000 bytes') } } });
    await expect(job({}, { allowHttp: true, maxBytes: 2000 }).outcome).resolves.toMatchObject({ result: { status: 'FAILED', details: { reason: expect.stringContaining('2000') } } });
  });

  it('reports HTTP errors and refuses plain http unless allowed', async () => {
    await expect(job({ url: srv.base + '/other' }).outcome).resolves.toMatchObject({ result: { status: 'FAILED', details: { reason: 'download failed: HTTP 403 Forbidden' } } });
    await expect(job({}, {}).outcome).resolves.toMatchObject({ result: { status: 'FAILED', details: { reason: expect.stringContaining('plain http is not allowed') } } });
  });

  it('copies file:// sources', async () => {
    const src = path.join(dir, 'source.bin');
    writeFileSync(src, body);
    await expect(job({ url: pathToFileURL(src).href, path: path.join(dir, 'copy.bin'), sha256: sha }).outcome).resolves.toMatchObject({ result: { status: 'SUCCEEDED' } });
    expect(readFileSync(path.join(dir, 'copy.bin')).equals(body)).toBe(true);
  });

  it('hands the file to runAsUser only where that user may write', async () => {
    await expect(job({ runAsUser: 'nobody' }).outcome).rejects.toThrow(`user nobody may not write to ${dir}`);
    chmodSync(dir, 0o777);
    await expect(job({ runAsUser: 'nobody' }).outcome).resolves.toMatchObject({ result: { status: 'SUCCEEDED' } });
    expect(statSync(path.join(dir, 'fw.bin')).uid).toBe(65534);
  });

  it('keeps downloads inside the allowed directories', async () => {
    await expect(job({}, { allowHttp: true, allowedDirectories: ['/srv/downloads'] }).outcome).rejects.toThrow('outside the allowed directories');
  });

  it.each([
    [{ url: 'ftp://x/y' }, 'https:// or file://'],
    [{ url: 'not a url' }, 'absolute URL'],
    [{ path: 'relative/fw.bin' }, 'normalised absolute file path'],
    [{ path: '/tmp/../etc/passwd' }, 'normalised absolute file path'],
    [{ sha256: 'abc' }, 'sha256'],
  ])('rejects %j', async (doc, reason) => {
    await expect(job(doc).outcome).resolves.toEqual({ rejected: expect.stringContaining(reason) });
  });
});
