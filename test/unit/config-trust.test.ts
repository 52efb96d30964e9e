/** The `trust` config key (docs/ARCHITECTURE.md §6): schema, defaults, the rules across keys and check-config's file checks. */
import { promises as fsp, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkConfig } from '../../src/config/check';
import { loadConfig } from '../../src/config/load';
import { type ConfigError } from '../../src/lib/errors';
import { createCa, issueCert } from '../../src/lib/pki';
import { loadTrustStore } from '../../src/trust';
import { fleet } from '../support/trust';

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'cfg-trust-'));
  const ca = await createCa({ commonName: 'test CA' });
  const device = await issueCert(ca, { commonName: 'gw-1' });
  await fsp.writeFile(path.join(dir, 'device.crt'), device.certPem, { mode: 0o644 });
  await fsp.writeFile(path.join(dir, 'device.key'), device.keyPem, { mode: 0o600 });
  await fsp.writeFile(path.join(dir, 'ca.pem'), ca.certPem, { mode: 0o644 });
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

function load(trust: unknown): ReturnType<typeof loadConfig> {
  const file = path.join(dir, 'agent.json');
  writeFileSync(file, JSON.stringify({ thingName: 'gw-1', mqtt: { endpoint: 'localhost' }, tls: { certificateFile: 'device.crt', privateKeyFile: 'device.key', rootCaFile: 'ca.pem' }, stateDirectory: 'state', trust }));
  return loadConfig({ file });
}

function problems(trust: unknown): string[] {
  try {
    load(trust);
    return [];
  } catch (err) {
    return [...(err as ConfigError).problems];
  }
}

describe('trust schema', () => {
  it('defaults: enforce, no labels, nothing unsigned; storeFile resolved against the config file', () => {
    const cfg = load({ storeFile: 'trust.json' });
    expect(cfg.trust).toEqual({ storeFile: path.join(dir, 'trust.json'), mode: 'enforce', labels: [], allowUnsigned: [] });
  });

  it('absent: no signature is checked', () => {
    expect(load(undefined).trust).toBeUndefined();
  });

  it.each<[string, unknown, RegExp]>([
    ['no storeFile', {}, /^trust\.storeFile: required/],
    ['an unknown mode', { storeFile: 'x', mode: 'warn' }, /^trust\.mode: must be one of "enforce", "audit"/],
    ['a typo', { storeFile: 'x', lables: [] }, /^trust\.lables: not allowed \(did you mean "labels"\?\)/],
    ['exec allowed unsigned', { storeFile: 'x', allowUnsigned: [{ handler: 'exec', minIntervalSeconds: 60 }] }, /^trust\.allowUnsigned\[0\]\.handler: "exec" runs any command .* never allowed unsigned/],
    ['runCommand allowed unsigned', { storeFile: 'x', allowUnsigned: [{ handler: 'runCommand', minIntervalSeconds: 60 }] }, /^trust\.allowUnsigned\[0\]\.handler: "runCommand"/],
    ['no interval', { storeFile: 'x', allowUnsigned: [{ handler: 'reboot' }] }, /^trust\.allowUnsigned\[0\]\.minIntervalSeconds: required/],
  ])('%s is refused with the key named', (_n, trust, re) => {
    expect(problems(trust).some((p) => re.test(p))).toBe(true);
  });
});

describe('check-config on trust.storeFile', () => {
  const f = fleet();
  const write = async (name: string, text: string, mode: number): Promise<string> => {
    const file = path.join(dir, name);
    await fsp.writeFile(file, text);
    await fsp.chmod(file, mode);
    return name;
  };
  const check = async (storeFile: string) =>
    checkConfig(load({ storeFile }), { greengrassRoot: path.join(dir, 'none'), trustProbe: (t) => void loadTrustStore(t) });

  it('a root-signed store, 0644: no problem', async () => {
    const r = await check(await write('ok.json', JSON.stringify(f.store.doc), 0o644));
    expect(r.errors).toEqual([]);
  });

  it('writable by group or others: an error naming the fix', async () => {
    const r = await check(await write('loose.json', JSON.stringify(f.store.doc), 0o666));
    expect(r.errors).toEqual([expect.stringMatching(/^trust\.storeFile: .*loose\.json is writable by group or others \(mode 0666\).*chmod go-w/)]);
  });

  it('missing, or not signed by enough roots: the reason', async () => {
    expect((await check('nope.json')).errors).toEqual([expect.stringMatching(/^trust\.storeFile: .*nope\.json does not exist/)]);
    const unsigned = { ...f.store.doc, signatures: f.store.doc.signatures.slice(0, 1) };
    const r = await check(await write('one-root.json', JSON.stringify(unsigned), 0o644));
    expect(r.errors).toEqual([expect.stringMatching(/^trust\.storeFile: trust store version 1 is signed by 1 of its root keys, needs 2/)]);
  });

  it('audit mode is a warning', async () => {
    const file = await write('ok2.json', JSON.stringify(f.store.doc), 0o644);
    const r = await checkConfig(load({ storeFile: file, mode: 'audit' }), { greengrassRoot: path.join(dir, 'none'), trustProbe: (t) => void loadTrustStore(t) });
    expect(r.warnings).toContainEqual(expect.stringMatching(/^trust\.mode: audit/));
  });
});
