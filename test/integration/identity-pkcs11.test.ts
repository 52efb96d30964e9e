/**
 * A device key made inside a real SoftHSM token: generated there when the label is new, reused when
 * it exists, and a CSR signed by the token that a CA issues a certificate from.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { ensureTokenKey, tokenCsr, tokenKeyMatches } from '../../src/identity/pkcs11-key';
import type { TokenKey } from '../../src/identity/pkcs11-key';
import { createCa, issueCert } from '../../src/lib/pki';
import { createSoftHsmToken } from '../support/softhsm';

const run = promisify(execFile);
let dir: string;
let key: TokenKey;
const savedConf = process.env.SOFTHSM2_CONF;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'identity-p11-'));
  const ca = await createCa({ commonName: 'ca' });
  const token = await createSoftHsmToken(dir, ca, 'claim-thing');
  process.env.SOFTHSM2_CONF = token.conf;
  key = { p11: { library: token.library, tokenLabel: token.tokenLabel, keyLabel: 'provisioned-key', pinEnv: 'X' }, pin: token.pin, label: 'provisioned-key' };
});
afterAll(async () => {
  if (savedConf === undefined) delete process.env.SOFTHSM2_CONF;
  else process.env.SOFTHSM2_CONF = savedConf;
  await rm(dir, { recursive: true, force: true });
});

test('makes the key inside the token once, signs a CSR there, and recognises its certificate', async () => {
  const first = await ensureTokenKey(key);
  expect(await ensureTokenKey(key)).toEqual(first);
  const csrPem = await tokenCsr(key, 'iot-jobs-agent');
  expect(Buffer.from(new x509.Pkcs10CertificateRequest(csrPem).publicKey.rawData)).toEqual(first);
  // OpenSSL checks the token's signature and issues the certificate: a verifier independent of ours.
  const ca = await createCa({ commonName: 'fleet-ca' });
  await writeFile(join(dir, 'ca.pem'), ca.certPem);
  await writeFile(join(dir, 'ca.key'), ca.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'req.pem'), csrPem);
  await run('openssl', ['req', '-in', join(dir, 'req.pem'), '-verify', '-noout']);
  await run('openssl', ['x509', '-req', '-in', join(dir, 'req.pem'), '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-days', '1', '-out', join(dir, 'cert.pem')]);
  const certPem = await readFile(join(dir, 'cert.pem'), 'utf8');
  expect(await tokenKeyMatches(key, certPem)).toBe(true);
  expect(await tokenKeyMatches(key, (await issueCert(ca, { commonName: 'other' })).certPem)).toBe(false);
});

test('a wrong PIN is a clear error, tried once', async () => {
  await expect(tokenCsr({ ...key, pin: '000000', label: 'another-key' }, 'x')).rejects.toThrow(/pkcs11 generating a key in the token \(key another-key\): .*PIN_INCORRECT/);
});
