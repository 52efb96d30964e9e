/**
 * The operator CLI as a process (`keys generate`, `trust sign|verify`, `job sign|verify`): files,
 * modes, exit codes and reason codes of docs/ARCHITECTURE.md §6, and envelopes an independent JWS library
 * (`jose`) verifies.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as jose from 'jose';

const BIN = join(__dirname, '..', '..', 'bin', 'iot-jobs-agent.js');
const dir = mkdtempSync(join(tmpdir(), 'ija-sign-'));
const at = (name: string): string => join(dir, name);

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: dir, env: { PATH: process.env.PATH } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const readJson = (name: string): any => JSON.parse(readFileSync(at(name), 'utf8'));

async function key(name: string, alg: string): Promise<void> {
  const r = await cli('keys', 'generate', '--alg', alg, '--out', at(name), '--kid', name);
  expect(r).toMatchObject({ code: 0 });
}

function writeStore(file: string, version: number, roots: string[], extra: { roles: Record<string, string[]>; policies: object }): void {
  const keys = Object.assign({}, ...[...roots, ...Object.values(extra.roles).flat()].map((k) => readJson(`${k}.pub.json`)));
  writeFileSync(at(file), JSON.stringify({ signed: { type: 'ija-trust', version, root: { kids: roots, threshold: 2 }, keys, roles: extra.roles, policies: extra.policies }, signatures: [] }, null, 2));
}

const POLICIES = {
  roles: { ci: ['ci-1'], approver: ['approver-1'] },
  policies: { 'device-client-steps': { require: { ci: 1 }, maxValiditySeconds: 172800 }, 'install-package': { require: { ci: 1, approver: 1 } } },
};
const DOC = { version: '1.0', steps: [{ action: { name: 'hello', type: 'runHandler', input: { handler: 'hello.sh' } } }] };

beforeAll(async () => {
  for (const [n, a] of [['root-a', 'ed25519'], ['root-b', 'es256'], ['root-c', 'ed25519'], ['root-d', 'es256'], ['ci-1', 'ed25519'], ['approver-1', 'es256']]) await key(n!, a!);
  writeFileSync(at('doc.json'), JSON.stringify(DOC));
});

describe('keys generate', () => {
  test('writes a 0600 PKCS#8 key, an SPKI public key and the trust store entry', () => {
    expect(statSync(at('ci-1.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(at('ci-1.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(readFileSync(at('root-b.pub'), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(readJson('root-b.pub.json')).toEqual({ 'root-b': { alg: 'ES256', pub: readFileSync(at('root-b.pub'), 'utf8') } });
    expect(readJson('ci-1.pub.json')['ci-1'].alg).toBe('EdDSA');
  });

  test('never overwrites a key (exit 1) and refuses bad usage (exit 2)', async () => {
    const before = readFileSync(at('ci-1.key'));
    expect((await cli('keys', 'generate', '--alg', 'ed25519', '--out', at('ci-1'))).code).toBe(1);
    expect(readFileSync(at('ci-1.key'))).toEqual(before);
    expect((await cli('keys', 'generate', '--alg', 'rsa', '--out', at('x'))).code).toBe(2);
    expect((await cli('keys', 'make', '--alg', 'ed25519', '--out', at('x'))).code).toBe(2);
    expect((await cli('keys', '--help')).code).toBe(0);
  });
});

describe('trust sign / verify', () => {
  beforeAll(async () => {
    writeStore('trust-1.json', 1, ['root-a', 'root-b'], POLICIES);
    expect((await cli('trust', 'sign', '--in', at('trust-1.json'), '--key', at('root-a.key'), '--kid', 'root-a', '--out', at('trust-1.json'))).code).toBe(0);
  });

  test('one of two roots is not enough; the second makes it valid', async () => {
    const one = await cli('trust', 'verify', '--in', at('trust-1.json'));
    expect(one.code).toBe(1);
    expect(one.stdout).toMatch(/^trust-store-error: .*signed by 1 of its root keys, needs 2/);
    expect((await cli('trust', 'sign', '--in', at('trust-1.json'), '--key', at('root-b.key'), '--kid', 'root-b', '--out', at('trust-1.json'))).code).toBe(0);
    const two = await cli('trust', 'verify', '--in', at('trust-1.json'));
    expect(two).toMatchObject({ code: 0 });
    expect(two.stdout).toMatch(/ok: trust store version 1, signed by root-a, root-b/);
  });

  test('a root that already signed is refused', async () => {
    const r = await cli('trust', 'sign', '--in', at('trust-1.json'), '--key', at('root-a.key'), '--kid', 'root-a', '--out', at('again.json'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already signed/);
  });

  test('rotation: the next version needs the old and the new roots, and exactly version + 1', async () => {
    writeStore('trust-2.json', 2, ['root-c', 'root-d'], POLICIES);
    for (const k of ['root-c', 'root-d']) expect((await cli('trust', 'sign', '--in', at('trust-2.json'), '--key', at(`${k}.key`), '--kid', k, '--out', at('trust-2.json'))).code).toBe(0);
    const newOnly = await cli('trust', 'verify', '--in', at('trust-2.json'), '--previous', at('trust-1.json'));
    expect(newOnly.code).toBe(1);
    expect(newOnly.stdout).toMatch(/^trust-store-error: .*0 of version 1's root keys/);
    for (const k of ['root-a', 'root-b']) expect((await cli('trust', 'sign', '--in', at('trust-2.json'), '--key', at(`${k}.key`), '--kid', k, '--out', at('trust-2.json'))).code).toBe(0);
    expect(await cli('trust', 'verify', '--in', at('trust-2.json'), '--previous', at('trust-1.json'))).toMatchObject({ code: 0 });
    const back = await cli('trust', 'verify', '--in', at('trust-1.json'), '--previous', at('trust-2.json'));
    expect(back.code).toBe(1);
    expect(back.stdout).toMatch(/roll back/);
  });
});

describe('job sign / verify', () => {
  const verify = (file: string, ...more: string[]) => cli('job', 'verify', '--trust', at('trust-1.json'), '--in', at(file), '--thing', 'gw-1', ...more);

  test('a signed document verifies; its payload is what the flags say', async () => {
    const r = await cli('job', 'sign', '--doc', at('doc.json'), '--job-id', 'job-1', '--thing', 'gw-1', '--thing', 'gw-2', '--expires-in', '2h', '--key', at('ci-1.key'), '--kid', 'ci-1', '--out', at('job-1.json'));
    expect(r).toMatchObject({ code: 0 });
    const env = readJson('job-1.json');
    expect(Object.keys(env).sort()).toEqual(['ija', 'jws']);
    const p = JSON.parse(Buffer.from(env.jws.payload, 'base64url').toString());
    expect(p).toMatchObject({ v: 1, job: { id: 'job-1', ns: '' }, aud: { things: ['gw-1', 'gw-2'] }, op: 'device-client-steps', doc: DOC });
    expect(p.exp - p.iat).toBe(7200);
    const v = await verify('job-1.json');
    expect(v).toMatchObject({ code: 0 });
    expect(v.stdout).toMatch(/^ACCEPTED\n/);
    expect(v.stdout).toContain(`jti: ${p.jti}`);
  });

  test('reason codes on stdout with exit 1: audience, job id, namespace, tampering, unsigned', async () => {
    expect(await cli('job', 'verify', '--trust', at('trust-1.json'), '--in', at('job-1.json'), '--thing', 'gw-9')).toMatchObject({ code: 1, stdout: 'audience-mismatch\n' });
    expect(await verify('job-1.json', '--job-id', 'job-2')).toMatchObject({ code: 1, stdout: 'job-id-mismatch\n' });
    expect(await verify('job-1.json', '--namespace', 'ops')).toMatchObject({ code: 1, stdout: 'namespace-mismatch\n' });
    const env = readJson('job-1.json');
    const p = JSON.parse(Buffer.from(env.jws.payload, 'base64url').toString());
    p.aud.things.push('gw-9');
    env.jws.payload = Buffer.from(JSON.stringify(p)).toString('base64url');
    writeFileSync(at('tampered.json'), JSON.stringify(env));
    expect(await verify('tampered.json')).toMatchObject({ code: 1, stdout: 'bad-signature\n' });
    expect(await verify('doc.json')).toMatchObject({ code: 1, stdout: 'unsigned\n' });
  });

  test('a not-yet-valid window and a validity longer than the policy are refused', async () => {
    expect((await cli('job', 'sign', '--doc', at('doc.json'), '--job-id', 'job-3', '--thing', 'gw-1', '--not-before', '2099-01-01T00:00:00Z', '--expires-in', '1d', '--key', at('ci-1.key'), '--kid', 'ci-1', '--out', at('future.json'))).code).toBe(2);
    expect((await cli('job', 'sign', '--doc', at('doc.json'), '--job-id', 'job-3', '--thing', 'gw-1', '--not-before', new Date(Date.now() + 3600e3).toISOString(), '--key', at('ci-1.key'), '--kid', 'ci-1', '--out', at('later.json'))).code).toBe(0);
    expect(await verify('later.json')).toMatchObject({ code: 1, stdout: 'not-yet-valid\n' });
    expect((await cli('job', 'sign', '--doc', at('doc.json'), '--job-id', 'job-3', '--thing', 'gw-1', '--expires-in', '3d', '--key', at('ci-1.key'), '--kid', 'ci-1', '--out', at('long.json'))).code).toBe(0);
    expect(await verify('long.json')).toMatchObject({ code: 1, stdout: 'validity-too-long\n' });
  });

  test('a second approver adds a signature without changing the payload', async () => {
    const s1 = await cli('job', 'sign', '--doc', at('doc.json'), '--job-id', 'job-4', '--label', 'fleet:eu', '--op', 'install-package', '--seq', 'fw/gw:12', '--max-attempts', '3', '--key', at('ci-1.key'), '--kid', 'ci-1', '--out', at('ci.json'));
    expect(s1.code).toBe(0);
    expect(await verify('ci.json', '--label', 'fleet:eu')).toMatchObject({ code: 1, stdout: 'threshold-not-met\n' });
    expect((await cli('job', 'sign', '--in', at('ci.json'), '--key', at('approver-1.key'), '--kid', 'approver-1', '--out', at('both.json'))).code).toBe(0);
    expect(readJson('both.json').jws.payload).toBe(readJson('ci.json').jws.payload);
    const v = await verify('both.json', '--label', 'fleet:eu');
    expect(v).toMatchObject({ code: 0 });
    expect(v.stdout).toMatch(/signed by: approver-1, ci-1/);
    expect(v.stdout).toMatch(/seq: fw\/gw 12/);
    expect(await verify('both.json', '--label', 'fleet:us')).toMatchObject({ code: 1, stdout: 'audience-mismatch\n' });
    // The same kid twice is refused, and --in takes no payload flags.
    expect((await cli('job', 'sign', '--in', at('both.json'), '--key', at('ci-1.key'), '--kid', 'ci-1', '--out', at('x.json'))).code).toBe(1);
    expect((await cli('job', 'sign', '--in', at('both.json'), '--job-id', 'j', '--key', at('ci-1.key'), '--kid', 'ci-1', '--out', at('x.json'))).code).toBe(2);
  });

  test('envelopes from the CLI verify in jose, signature by signature', async () => {
    const env = readJson('both.json');
    const pubs: Record<string, [string, string]> = { 'ci-1': ['ci-1.pub', 'EdDSA'], 'approver-1': ['approver-1.pub', 'ES256'] };
    const kids: string[] = [];
    for (const s of env.jws.signatures) {
      const h = jose.decodeProtectedHeader(s);
      const [file, alg] = pubs[h.kid!]!;
      const pub = await jose.importSPKI(readFileSync(at(file), 'utf8'), alg);
      const r = await jose.flattenedVerify({ payload: env.jws.payload, ...s }, pub, { algorithms: [alg] });
      expect(r.protectedHeader).toEqual({ alg, kid: h.kid, typ: 'ija-job+jws' });
      kids.push(h.kid!);
    }
    expect(kids).toEqual(['ci-1', 'approver-1']);
  });

  test('an envelope jose makes (General JWS JSON) passes job verify', async () => {
    const now = Math.floor(Date.now() / 1000);
    const p = { v: 1, jti: 'jose-made-envelope-0001', iat: now, exp: now + 600, job: { id: 'job-7', ns: '' }, aud: { things: ['gw-1'] }, op: 'device-client-steps', doc: DOC };
    // RFC 8785 by hand for this flat-enough value: keys sorted at every level, no whitespace.
    const sortKeys = (v: unknown): unknown => (Array.isArray(v) ? v.map(sortKeys) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as any)[k])])) : v);
    const signer = new jose.GeneralSign(new TextEncoder().encode(JSON.stringify(sortKeys(p))));
    signer.addSignature(await jose.importPKCS8(readFileSync(at('ci-1.key'), 'utf8'), 'EdDSA')).setProtectedHeader({ alg: 'EdDSA', kid: 'ci-1', typ: 'ija-job+jws' });
    writeFileSync(at('jose.json'), JSON.stringify({ ija: 1, jws: await signer.sign() }));
    const v = await verify('jose.json');
    expect(v).toMatchObject({ code: 0 });
    expect(v.stdout).toContain('jti: jose-made-envelope-0001');
  });

  test('--artifact signs the file digest and puts a presigned-URL placeholder in urls', async () => {
    const body = Buffer.from('firmware\n'.repeat(100));
    writeFileSync(at('fw.bin'), body);
    const url = 'https://s3.eu-west-1.amazonaws.com/acme-fw/gw/fw 1.bin';
    const r = await cli('job', 'sign', '--doc', at('doc.json'), '--job-id', 'job-5', '--thing', 'gw-1', '--artifact', `fw=${at('fw.bin')}@${url.replace(' ', '%20')}`, '--key', at('ci-1.key'), '--kid', 'ci-1', '--out', at('art.json'));
    expect(r).toMatchObject({ code: 0 });
    const env = readJson('art.json');
    expect(env.urls).toEqual({ fw: '${aws:iot:s3-presigned-url-v2:https://s3.eu-west-1.amazonaws.com/acme-fw/gw/fw%201.bin}' });
    const p = JSON.parse(Buffer.from(env.jws.payload, 'base64url').toString());
    expect(p.artifacts.fw).toEqual({ s3: { region: 'eu-west-1', bucket: 'acme-fw', key: 'gw/fw 1.bin' }, sha256: createHash('sha256').update(body).digest('hex'), size: body.length });
    // Offline, the placeholder is still there: what a device would see if the job lacked presignedUrlConfig.
    expect(await verify('art.json')).toMatchObject({ code: 1, stdout: 'placeholder-unresolved\n' });
  });

  test('bad usage exits 2 with the problem named', async () => {
    const r = await cli('job', 'sign', '--doc', at('doc.json'), '--job-id', 'job-6', '--thing', 'gw-1', '--expires-in', '10y', '--key', at('ci-1.key'), '--kid', 'ci-1', '--out', at('x.json'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--expires-in/);
    const noAud = await cli('job', 'sign', '--doc', at('doc.json'), '--job-id', 'job-6', '--key', at('ci-1.key'), '--kid', 'ci-1', '--out', at('x.json'));
    expect(noAud.code).toBe(2);
    expect(noAud.stderr).toMatch(/payload.aud: name at least one thing or label/);
    expect((await cli('job', 'verify', '--in', at('job-1.json'))).code).toBe(2);
  });
});
