/**
 * The agent's artifact downloads (src/agent/signed/artifacts.ts, download.ts) against a real HTTPS
 * server with its own CA and through a real tinyproxy: what ends REJECTED (the complete response is
 * not the signed file) and what ends FAILED (it did not arrive), the files' modes, the proxy path,
 * redirects, and clean-up; then through the check stage of a real Execution: the handler gets the
 * verified local path, and audit mode never runs a doc whose artifacts are not on disk.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ArtifactStager } from '../../src/agent/signed/artifacts';
import { silentLogger } from '../../src/lib/log';
import { createCa, issueCert } from '../../src/lib/pki';
import { createDialer, directDialer, resolveProxy } from '../../src/net';
import type { Artifact, JobPayload } from '../../src/trust';
import { startTinyproxy } from '../support/proxies';
import type { RealProxy } from '../support/proxies';
import { SignedHarness } from '../support/signed-exec';
import { envelope, fleet, payload } from '../support/trust';

const body = randomBytes(100_000);
const sha256 = createHash('sha256').update(body).digest('hex');
let dir: string;
let origin: string;
let caFile: string;
let otherCaFile: string;
let server: https.Server;
let proxy: RealProxy;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ija-artifacts-'));
  const ca = await createCa({ commonName: 'objects CA' });
  const cert = await issueCert(ca, { commonName: 'localhost', server: true, dnsNames: ['localhost'], ips: ['127.0.0.1'] });
  caFile = join(dir, 'ca.pem');
  await writeFile(caFile, ca.certPem);
  otherCaFile = join(dir, 'other-ca.pem');
  await writeFile(otherCaFile, (await createCa({ commonName: 'some other CA' })).certPem);
  server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    if (path === '/fw.bin') return void res.writeHead(200, { 'content-length': body.length }).end(body);
    // No Content-Length: only counting the bytes can notice there are too many.
    if (path === '/endless.bin') return void res.writeHead(200).end(Buffer.concat([body, Buffer.from('and more')]));
    if (path === '/moved.bin') return void res.writeHead(302, { location: '/fw.bin' }).end();
    res.writeHead(404).end('NoSuchKey');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy = await startTinyproxy(dir, { name: 'artifacts' });
});

afterAll(async () => {
  await proxy?.stop();
  server?.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

const art = (over: Partial<Artifact> = {}): Artifact => ({ url: `${origin}/fw.bin`, sha256, size: body.length, ...over });

async function stager(o: { root?: string; caFile?: string; viaProxy?: boolean } = {}): Promise<ArtifactStager> {
  const network = o.viaProxy ? createDialer(resolveProxy({ url: proxy.url, noProxy: [] }, {})) : directDialer;
  return ArtifactStager.open({ root: o.root ?? join(dir, 'stage'), network, caFile: o.caFile ?? caFile, log: silentLogger() });
}

test('through the proxy: the signed bytes land in a 0600 file in a 0700 directory; remove() takes them away', async () => {
  const s = await stager({ viaProxy: true });
  const r = await s.stage('_/job-1-1', { artifacts: { fw: art() } }, undefined);
  if (!r.ok) throw new Error(r.detail);
  const file = r.paths['fw']!;
  expect(file).toBe(join(dir, 'stage', '_', 'job-1-1', 'fw', 'fw.bin'));
  expect((await readFile(file)).equals(body)).toBe(true);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(statSync(dirname(file)).mode & 0o777).toBe(0o700);
  expect(proxy.log()).toMatch(new RegExp(`CONNECT.*127\\.0\\.0\\.1:${new URL(origin).port}`, 'i'));
  await s.remove('_/job-1-1');
  expect(existsSync(join(dir, 'stage', '_', 'job-1-1'))).toBe(false);
});

test('more bytes than signed (no Content-Length): REJECTED as soon as the count passes the size, nothing left', async () => {
  const s = await stager();
  const r = await s.stage('_/job-2-1', { artifacts: { fw: art({ url: `${origin}/endless.bin` }) } }, undefined);
  expect(r).toMatchObject({ ok: false, reject: true });
  expect(!r.ok && r.detail).toMatch(/more than the signed 100000 bytes/);
  expect(existsSync(join(dir, 'stage', '_', 'job-2-1'))).toBe(false);
});

test('right size, wrong SHA-256: REJECTED', async () => {
  const r = await (await stager()).stage('_/job-3-1', { artifacts: { fw: art({ sha256: 'f'.repeat(64) }) } }, undefined);
  expect(r).toMatchObject({ ok: false, reject: true });
  expect(!r.ok && r.detail).toMatch(/SHA-256/);
});

test.each([
  ['a server certificate from a CA the agent does not trust', { caFile: () => otherCaFile, fw: (): Artifact => art() }, /certificate/],
  ['HTTP 404', { caFile: () => caFile, fw: (): Artifact => art({ url: `${origin}/missing.bin` }) }, /HTTP 404/],
  ['a refused connection', { caFile: () => caFile, fw: (): Artifact => art({ url: 'https://127.0.0.1:1/fw.bin' }) }, /ECONNREFUSED/],
])('%s: FAILED (retryable), not REJECTED', async (_what, c, detail) => {
  const r = await (await stager({ caFile: c.caFile() })).stage('_/job-4-1', { artifacts: { fw: c.fw() } }, undefined);
  expect(r).toMatchObject({ ok: false, reject: false });
  expect(!r.ok && r.detail).toMatch(detail);
});

test('a signed https URL may redirect (https only); a presigned S3 URL may not', async () => {
  const s = await stager();
  const moved = await s.stage('_/job-5-1', { artifacts: { fw: art({ url: `${origin}/moved.bin` }) } }, undefined);
  expect(moved).toMatchObject({ ok: true });
  const s3: Artifact = { s3: { bucket: 'acme-fw', key: 'moved.bin', endpoint: origin }, sha256, size: body.length };
  const r = await s.stage('_/job-6-1', { artifacts: { fw: s3 } }, { fw: `${origin}/moved.bin` });
  expect(r).toMatchObject({ ok: false, reject: false });
  expect(!r.ok && r.detail).toMatch(/HTTP 302/);
});

test('opening the stager removes what a crash left behind', async () => {
  const root = join(dir, 'crashed');
  await mkdir(join(root, '_', 'job-7-1', 'fw'), { recursive: true });
  await writeFile(join(root, '_', 'job-7-1', 'fw', 'fw.bin'), 'half');
  await stager({ root });
  expect(existsSync(join(root, '_'))).toBe(false);
  expect(statSync(root).mode & 0o777).toBe(0o700);
});

describe('through the check stage', () => {
  const f = fleet();
  const job = (fw: Artifact): JobPayload => payload({ op: 'run-script', doc: { operation: 'run-script', file: '${artifact:fw}', note: 'keep ${artifact:fw} here' }, artifacts: { fw } });
  let h: SignedHarness;
  afterEach(() => h.close());

  test('the handler gets the signed doc with the verified local path in place of ${artifact:fw}; the file goes afterwards', async () => {
    h = await SignedHarness.create(f.store.doc, { artifacts: await stager({ root: join(dir, 'gate-stage') }) });
    const r = await h.run('job-1', 1, envelope(job(art()), [f.ci]));
    expect(r.status).toBe('SUCCEEDED');
    const file = join(dir, 'gate-stage', '_', 'job-1-1', 'fw', 'fw.bin');
    expect(h.documents).toEqual([{ operation: 'run-script', file, note: `keep ${file} here` }]);
    expect(existsSync(file)).toBe(false);
  });

  test('enforce: wrong bytes are REJECTED before IN_PROGRESS; audit: the same job is FAILED, never run with the placeholder', async () => {
    const bad = art({ sha256: 'e'.repeat(64) });
    h = await SignedHarness.create(f.store.doc, { artifacts: await stager({ root: join(dir, 'gate-stage') }) });
    const enforced = await h.run('job-1', 1, envelope(job(bad), [f.ci]));
    expect({ status: enforced.status, reason: enforced.details['ija:reason'], inProgress: enforced.inProgress }).toEqual({ status: 'REJECTED', reason: 'artifact-digest-mismatch', inProgress: 0 });
    await h.restart({ mode: 'audit', artifacts: await stager({ root: join(dir, 'gate-stage') }) });
    const audited = await h.run('job-2', 1, envelope({ ...job(bad), job: { id: 'job-2', ns: '' } }, [f.ci]));
    expect(audited.status).toBe('FAILED');
    expect(audited.details['ija:reason']).toBe('artifact-digest-mismatch');
    expect(audited.details['ija:detail']).toMatch(/cannot run without the signed artifacts/);
    expect(h.started).toEqual([]);
  });

  test('audit: an envelope refused for another reason still runs with its artifacts downloaded and substituted', async () => {
    h = await SignedHarness.create(f.store.doc, { mode: 'audit', artifacts: await stager({ root: join(dir, 'gate-stage') }) });
    const r = await h.run('job-9', 1, envelope(job(art()), [f.ci]));
    expect(r.details['ija:reason']).toBe('job-id-mismatch');
    expect(r.status).toBe('SUCCEEDED');
    expect(h.documents).toEqual([expect.objectContaining({ file: join(dir, 'gate-stage', '_', 'job-9-1', 'fw', 'fw.bin') })]);
  });
});
