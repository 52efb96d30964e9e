import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestContext, runTestJob } from '../../src/index';
import { startHttpsFileServer, type HttpsFileServer } from '../../test/fixtures/https-server';
import download, { type DownloadDocument } from './index';

const presigned = '/firmware/v2.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20260101%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Signature=0123abcd';

describe('download-file over https', () => {
  let dir: string;
  let srv: HttpsFileServer;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'download-https-'));
    srv = await startHttpsFileServer(dir, randomBytes(200_000));
  });
  afterAll(async () => {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const job = (dest: string, o: { url?: string; sha256?: string; options?: Record<string, unknown> } = {}) => {
    const document: DownloadDocument = { url: o.url ?? srv.origin + presigned, path: path.join(dir, dest), ...(o.sha256 ? { sha256: o.sha256 } : {}) };
    const ctx = createTestContext<DownloadDocument>({ document, options: o.options ?? { caFile: srv.caFile } });
    return { ctx, outcome: runTestJob(download, ctx) };
  };

  it('downloads from a server whose CA is given in caFile, the presigned URL unchanged', async () => {
    const { ctx, outcome } = job('a.bin', { sha256: srv.sha256 });
    await expect(outcome).resolves.toEqual({ result: { status: 'SUCCEEDED', details: { path: path.join(dir, 'a.bin'), bytes: '200000', sha256: srv.sha256 } } });
    expect(srv.requests.at(-1)).toEqual({ url: presigned, range: undefined });
    expect(readFileSync(path.join(dir, 'a.bin')).equals(srv.body)).toBe(true);
    expect(ctx.progressCalls.at(-1)).toEqual({ downloaded: '100%' });
  });

  it('refuses a server certificate it cannot verify and writes nothing in place', async () => {
    const before = srv.requests.length;
    const { outcome } = job('untrusted.bin', { options: {} });
    await expect(outcome).resolves.toEqual({ result: { status: 'FAILED', details: { reason: expect.stringMatching(/^download failed: .*(certificate|self.signed)/i) } } });
    expect(srv.requests).toHaveLength(before); // the TLS handshake failed before any request was sent
    expect(existsSync(path.join(dir, 'untrusted.bin'))).toBe(false);
  });

  it('resumes a partial file with a Range request over https', async () => {
    writeFileSync(path.join(dir, '.part.bin.part'), srv.body.subarray(0, 50_000));
    const { outcome } = job('part.bin', { sha256: srv.sha256 });
    await expect(outcome).resolves.toMatchObject({ result: { status: 'SUCCEEDED', details: { bytes: '200000', sha256: srv.sha256 } } });
    expect(srv.requests.at(-1)).toEqual({ url: presigned, range: 'bytes=50000-' });
    expect(readFileSync(path.join(dir, 'part.bin')).equals(srv.body)).toBe(true);
    expect(existsSync(path.join(dir, '.part.bin.part'))).toBe(false);
  });

  it('treats a complete partial file as done when the server answers 416', async () => {
    writeFileSync(path.join(dir, '.whole.bin.part'), srv.body);
    const { outcome } = job('whole.bin', { sha256: srv.sha256 });
    await expect(outcome).resolves.toMatchObject({ result: { status: 'SUCCEEDED', details: { sha256: srv.sha256 } } });
    expect(srv.requests.at(-1)?.range).toBe('bytes=200000-');
  });

  it('reports an HTTP error status from the https server', async () => {
    const { outcome } = job('gone.bin', { url: `${srv.origin}/missing/v2.bin` });
    await expect(outcome).resolves.toEqual({ result: { status: 'FAILED', details: { reason: 'download failed: HTTP 404 Not Found' } } });
  });
});
