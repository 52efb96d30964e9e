/**
 * A device key made inside a real SoftHSM token: generated there when the label is new, reused when
 * it exists, and a CSR signed by the token that a CA issues a certificate from.
 */
import { webcrypto } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { ensureTokenKey, tokenCsr, tokenKeyMatches } from '../../src/identity/pkcs11-key';
import type { TokenKey } from '../../src/identity/pkcs11-key';
import { createCa, issueCertFromCsr, issueCert } from '../../src/lib/pki';
import { createSoftHsmToken } from '../support/softhsm';

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
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  // Explicit provider: jest's sandbox has its own global crypto, whose keys node:crypto does not accept.
  expect(await csr.verify(webcrypto as unknown as Parameters<typeof csr.verify>[0])).toBe(true);
  expect(Buffer.from(csr.publicKey.rawData)).toEqual(first);
  const ca = await createCa({ commonName: 'fleet-ca' });
  const { certPem } = await issueCertFromCsr(ca, csrPem, { commonName: 'gw-1' });
  expect(await tokenKeyMatches(key, certPem)).toBe(true);
  expect(await tokenKeyMatches(key, (await issueCert(ca, { commonName: 'other' })).certPem)).toBe(false);
});

test('a wrong PIN is a clear error, tried once', async () => {
  await expect(tokenCsr({ ...key, pin: '000000', label: 'another-key' }, 'x')).rejects.toThrow(/pkcs11 generating a key in the token \(key another-key\): .*PIN_INCORRECT/);
});
