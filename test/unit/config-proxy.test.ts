/** The `proxy` key: schema and cross-key rules, and the file checks of check-config (password file like the key file). */
import { promises as fsp, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkConfig } from '../../src/config/check';
import { loadConfig } from '../../src/config/load';
import { ConfigError } from '../../src/lib/errors';
import { createCa, issueCert } from '../../src/lib/pki';

let dir: string;

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'proxy-cfg-'));
  const ca = await createCa({ commonName: 'test CA' });
  const device = await issueCert(ca, { commonName: 'gw' });
  await fsp.writeFile(path.join(dir, 'device.crt'), device.certPem);
  await fsp.writeFile(path.join(dir, 'device.key'), device.keyPem, { mode: 0o600 });
  await fsp.writeFile(path.join(dir, 'ca.pem'), ca.certPem);
});
afterEach(() => fsp.rm(dir, { recursive: true, force: true }));

function load(proxy: unknown, mqtt: Record<string, unknown> = {}) {
  const file = path.join(dir, 'agent.json');
  writeFileSync(file, JSON.stringify({
    thingName: 'gw',
    mqtt: { endpoint: 'localhost', clientId: 'gw-jobs', ...mqtt },
    tls: { certificateFile: 'device.crt', privateKeyFile: 'device.key', rootCaFile: 'ca.pem' },
    stateDirectory: 'state',
    ...(proxy === undefined ? {} : { proxy }),
  }));
  return loadConfig({ file });
}

function problems(proxy: unknown, mqtt?: Record<string, unknown>): string[] {
  try {
    load(proxy, mqtt);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
}

describe('the proxy key', () => {
  it('accepts a proxy object (noProxy defaults to none, files resolved beside the config) and false', () => {
    const c = load({ url: 'http://proxy.corp:3128', username: 'gw', passwordFile: 'proxy-password' });
    expect(c.proxy).toEqual({ url: 'http://proxy.corp:3128', username: 'gw', passwordFile: path.join(dir, 'proxy-password'), noProxy: [] });
    expect(load(false).proxy).toBe(false);
    expect(load(undefined).proxy).toBeUndefined();
  });

  it('names what is wrong', () => {
    expect(problems(true)).toEqual([expect.stringMatching(/^proxy: true is not a proxy/)]);
    expect(problems({ url: 'http://gw:secret@proxy:3128' })).toEqual([expect.stringMatching(/^proxy\.url: no credentials in the URL/)]);
    expect(problems({ url: 'ftp://proxy:21' })).toEqual([expect.stringMatching(/^proxy\.url: must match pattern/)]);
    expect(problems({ url: 'http://proxy:3128', passwordFile: '/p' })).toEqual(['proxy.username: required with proxy.passwordFile']);
    expect(problems({ url: 'http://proxy:3128', pasword: 'x' })).toEqual([expect.stringMatching(/^proxy\.pasword: not allowed/)]);
    expect(problems({ username: 'gw' })).toEqual(['proxy.url: required']);
  });

  it('takes the URL from IOT_JOBS_AGENT_PROXY_URL', () => {
    const file = path.join(dir, 'agent.json');
    load(undefined);
    expect(loadConfig({ file, env: { IOT_JOBS_AGENT_PROXY_URL: 'socks5://s:1080' } }).proxy).toEqual({ url: 'socks5://s:1080', noProxy: [] });
  });
});

describe('check-config on the proxy', () => {
  const noGreengrass = () => ({ greengrassRoot: path.join(dir, 'no-greengrass') });

  it('checks the password file like the key file', async () => {
    const pw = path.join(dir, 'proxy-password');
    await fsp.writeFile(pw, 's3cret\n', { mode: 0o644 });
    await fsp.chmod(pw, 0o644);
    const r = await checkConfig(load({ url: 'http://proxy:3128', username: 'gw', passwordFile: 'proxy-password' }), noGreengrass());
    expect(r.errors).toEqual([`proxy.passwordFile: ${pw} is accessible by group or others (mode 0644); run: chmod 600 ${pw}`]);
    expect(r.errors.join('\n')).not.toContain('s3cret');
    await fsp.chmod(pw, 0o600);
    expect((await checkConfig(load({ url: 'http://proxy:3128', username: 'gw', passwordFile: 'proxy-password' }), noGreengrass())).errors).toEqual([]);
    await fsp.rm(pw);
    expect((await checkConfig(load({ url: 'http://proxy:3128', username: 'gw', passwordFile: 'proxy-password' }), noGreengrass())).errors).toEqual([`proxy.passwordFile: ${pw} does not exist`]);
  });

  it('checks the HTTPS proxy CA, and refuses SOCKS5 for the aws-crt transport', async () => {
    await fsp.writeFile(path.join(dir, 'proxy-ca.pem'), 'not a certificate');
    const r = await checkConfig(load({ url: 'https://proxy:3129', caFile: 'proxy-ca.pem' }), noGreengrass());
    expect(r.errors).toEqual([`proxy.caFile: ${path.join(dir, 'proxy-ca.pem')} holds no PEM certificate`]);
    const crt = await checkConfig(load({ url: 'socks5://proxy:1080' }, { transport: 'aws-crt' }), noGreengrass());
    expect(crt.errors).toEqual([expect.stringMatching(/^proxy\.url: mqtt\.transport "aws-crt" cannot use a SOCKS5 proxy/)]);
  });
});
