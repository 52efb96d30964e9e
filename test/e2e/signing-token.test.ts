/**
 * `trust sign` and `job sign` with keys that never leave a PKCS#11 token (SoftHSM, driven through
 * OpenSC's pkcs11-tool), named by an RFC 7512 URI in `--key`: an ES256 root key signs the trust
 * store, an Ed25519 operational key signs a job, and the results verify in the CLI and in `jose`.
 * A wrong PIN, a missing key and a PIN on the command line are refused with a clear message.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as jose from 'jose';
import { SOFTHSM_LIB } from '../support/softhsm';

const run = promisify(execFile);
const BIN = join(__dirname, '..', '..', 'bin', 'iot-jobs-agent.js');
const dir = mkdtempSync(join(tmpdir(), 'ija-token-sign-'));
const at = (name: string): string => join(dir, name);
const PIN = '246810';
const env = { PATH: process.env.PATH, SOFTHSM2_CONF: at('softhsm2.conf') };

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return cliWith({}, ...args);
}

function cliWith(extra: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: dir, env: { ...env, ...extra } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

const p11 = (): string[] => ['--module', SOFTHSM_LIB, '--token-label', 'ops'];
const uri = (id: string, pinSource = `file:${at('pin')}`): string => `pkcs11:token=ops;id=${id}?module-path=${SOFTHSM_LIB}&pin-source=${pinSource}`;
const readJson = (name: string): any => JSON.parse(readFileSync(at(name), 'utf8'));

/** The token key's public half as SPKI PEM (what `keys generate` writes for a file key). */
async function tokenPub(id: string): Promise<string> {
  await run('pkcs11-tool', [...p11(), '--read-object', '--type', 'pubkey', '--id', id, '-o', at(`pub-${id}`)], { env });
  const raw = readFileSync(at(`pub-${id}`));
  const { createPublicKey } = await import('node:crypto');
  const key = raw.subarray(0, 10).toString('latin1') === '-----BEGIN' ? createPublicKey(raw) : createPublicKey({ key: raw, format: 'der', type: 'spki' });
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

beforeAll(async () => {
  writeFileSync(at('softhsm2.conf'), `directories.tokendir = ${at('tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  await run('mkdir', ['-p', at('tokens')]);
  await run('softhsm2-util', ['--init-token', '--free', '--label', 'ops', '--pin', PIN, '--so-pin', '13579'], { env });
  const login = [...p11(), '--login', '--pin', PIN];
  await run('pkcs11-tool', [...login, '--keypairgen', '--key-type', 'EC:prime256v1', '--id', '01', '--label', 'root-token'], { env });
  await run('pkcs11-tool', [...login, '--keypairgen', '--key-type', 'EC:edwards25519', '--id', '02', '--label', 'ci-token'], { env });
  writeFileSync(at('pin'), `${PIN}\n`, { mode: 0o600 });
  expect((await cli('keys', 'generate', '--alg', 'ed25519', '--out', at('root-file'), '--kid', 'root-file')).code).toBe(0);
  const keys = { ...readJson('root-file.pub.json'), 'root-token': { alg: 'ES256', pub: await tokenPub('01') }, 'ci-token': { alg: 'EdDSA', pub: await tokenPub('02') } };
  const signed = { type: 'ija-trust', version: 1, root: { kids: ['root-file', 'root-token'], threshold: 2 }, keys, roles: { ci: ['ci-token'] }, policies: { 'device-client-steps': { require: { ci: 1 }, maxValiditySeconds: 86400 } } };
  writeFileSync(at('trust.json'), JSON.stringify({ signed, signatures: [] }));
  writeFileSync(at('doc.json'), JSON.stringify({ version: '1.0', steps: [{ action: { name: 'hello', type: 'runHandler', input: { handler: 'hello.sh' } } }] }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('an ES256 root key in the token signs the trust store next to a file key; trust verify accepts it', async () => {
  expect((await cli('trust', 'sign', '--in', at('trust.json'), '--key', at('root-file.key'), '--kid', 'root-file', '--out', at('trust.json'))).code).toBe(0);
  const r = await cli('trust', 'sign', '--in', at('trust.json'), '--key', uri('%01'), '--kid', 'root-token', '--out', at('trust.json'));
  expect(r).toMatchObject({ code: 0 });
  expect(r.stdout).toMatch(/2 of 2/);
  expect(await cli('trust', 'verify', '--in', at('trust.json'))).toMatchObject({ code: 0 });
});

test('an Ed25519 key in the token signs a job (PIN from the environment); the device check and jose verify it', async () => {
  const args = ['job', 'sign', '--doc', at('doc.json'), '--job-id', 'tok-1', '--thing', 'gw-1', '--key', uri('%02', 'env:SIGN_PIN'), '--kid', 'ci-token', '--out', at('job.json')];
  const unset = await cli(...args);
  expect(unset).toMatchObject({ code: 2 });
  expect(unset.stderr).toMatch(/SIGN_PIN.*not set/);
  expect(await cliWith({ SIGN_PIN: PIN }, ...args)).toMatchObject({ code: 0 });
  const v = await cli('job', 'verify', '--trust', at('trust.json'), '--in', at('job.json'), '--thing', 'gw-1');
  expect(v).toMatchObject({ code: 0 });
  const env2 = readJson('job.json');
  const pub = await jose.importSPKI(readJson('trust.json').signed.keys['ci-token'].pub, 'EdDSA');
  await expect(jose.flattenedVerify({ payload: env2.jws.payload, ...env2.jws.signatures[0] }, pub)).resolves.toBeDefined();
});

test('a wrong PIN, a key id the token does not have, and a PIN on the command line are refused; the PIN is never printed', async () => {
  writeFileSync(at('wrong-pin'), '999999\n');
  const wrong = await cli('job', 'sign', '--doc', at('doc.json'), '--job-id', 'tok-2', '--thing', 'gw-1', '--key', uri('%02', `file:${at('wrong-pin')}`), '--kid', 'ci-token', '--out', at('job2.json'));
  expect(wrong.code).toBe(1);
  expect(wrong.stderr).toMatch(/PKCS#11 signing \(key id 02\)/);
  expect(wrong.stderr + wrong.stdout).not.toMatch(/999999/);
  const missing = await cli('job', 'sign', '--doc', at('doc.json'), '--job-id', 'tok-2', '--thing', 'gw-1', '--key', uri('%7f'), '--kid', 'ci-token', '--out', at('job2.json'));
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/PKCS#11 reading the public key \(key id 7f\)/);
  const onLine = await cli('job', 'sign', '--doc', at('doc.json'), '--job-id', 'tok-2', '--thing', 'gw-1', '--key', `pkcs11:token=ops;id=%02?module-path=${SOFTHSM_LIB}&pin-value=${PIN}`, '--kid', 'ci-token', '--out', at('job2.json'));
  expect(onLine.code).toBe(2);
  expect(onLine.stderr).toMatch(/pin-value puts the PIN on the command line/);
});
