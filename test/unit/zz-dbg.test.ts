import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tokenCsr } from '../../src/identity/pkcs11-key';
import { createCa } from '../../src/lib/pki';
import { createSoftHsmToken } from '../../test/support/softhsm';
test('dbg', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dbg-'));
  const token = await createSoftHsmToken(dir, await createCa({ commonName: 'ca' }), 'x');
  process.env.SOFTHSM2_CONF = token.conf;
  const key = { p11: { library: token.library, tokenLabel: token.tokenLabel, keyLabel: 'k', pinEnv: 'X' }, pin: token.pin, label: 'k2' };
  const res: string[] = [];
  for (let i = 0; i < 8; i++) {
    const pem = await tokenCsr(key, 'iot');
    writeFileSync(join(dir, 'c.pem'), pem);
    try { execFileSync('openssl', ['req', '-in', join(dir, 'c.pem'), '-verify', '-noout'], { stdio: 'pipe' }); res.push('ok'); } catch (e) { res.push('BAD ' + execFileSync('openssl', ['asn1parse', '-in', join(dir, 'c.pem')]).toString().split('\n').slice(-4).join('|')); }
  }
  console.log(res.join('\n'));
}, 60000);
