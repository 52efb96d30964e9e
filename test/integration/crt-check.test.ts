/**
 * check-config's PKCS#11 checks against a real SoftHSM token: the probe (library, token, PIN, key,
 * tried as a connection would) runs in a child process, wired into checkConfig as the CLI does.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfig, type Pkcs11Probe } from '../../src/config/check';
import type { AgentConfig } from '../../src/config/types';
import { CrtProc } from '../support/crt-proc';
import { makeTestPki, type TestPki } from '../support/pki';
import { createSoftHsmToken, type SoftHsmToken } from '../support/softhsm';

let dir: string;
let pki: TestPki;
let token: SoftHsmToken;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crt-check-'));
  pki = await makeTestPki(dir, ['thing1']);
  token = await createSoftHsmToken(dir, pki.ca, 'thing1');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** probePkcs11 in a child process (aws-crt stays out of the test process); must exit by itself. */
async function probe(p: Pkcs11Probe): Promise<void> {
  const proc = new CrtProc({ probe: p } as never, token.env);
  const r = await proc.waitFor((e) => e.ev === 'probe');
  const exit = await proc.exited;
  expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
  if (r['ok'] !== true) throw new Error(r.message);
}

async function config(p11: Partial<NonNullable<AgentConfig['pkcs11']>>): Promise<AgentConfig> {
  const pinFile = join(dir, 'pin');
  await writeFile(pinFile, `${token.pin}\n`, { mode: 0o600 });
  await chmod(pinFile, 0o600);
  return {
    thingName: 'thing1',
    mqtt: { endpoint: '127.0.0.1', port: 8883, clientId: 'thing1-jobs', protocolVersion: 4, alpn: false, keepAliveSeconds: 30, transport: 'aws-crt', takeoverBackoffSeconds: 300 },
    tls: { certificateFile: token.certificateFile, rootCaFile: pki.caFile },
    pkcs11: { library: token.library, tokenLabel: token.tokenLabel, keyLabel: token.keyLabel, pinFile, ...p11 },
    jobs: { namespaces: [], defaultNamespace: true, mqttNamespaces: [], concurrency: 1, safetyPollSeconds: 900, requestTimeoutSeconds: 10, drainGraceSeconds: 30, outboxLimit: 1000, progressIntervalSeconds: 5 },
    handlers: { directories: [], scriptDirectories: [], defaultTimeoutSeconds: 60, allowShell: false, options: {} },
    stateDirectory: join(dir, 'state'),
    log: { level: 'info' },
  };
}

const opts = { greengrassRoot: '/nonexistent-greengrass', pkcs11Probe: probe };

test('a working token, PIN and key: no PKCS#11 problem', async () => {
  const res = await checkConfig(await config({}), opts);
  expect(res.errors).toEqual([]);
});

test('a wrong PIN is explained, naming where the PIN comes from', async () => {
  const res = await checkConfig(await config({ pinFile: undefined, pinEnv: 'TEST_PIN' }), { ...opts, env: { TEST_PIN: '999999' } });
  expect(res.errors).toEqual([expect.stringMatching(/^pkcs11: .*PKCS#11 PIN is wrong \(pkcs11\.pinFile \/ pkcs11\.pinEnv\).*CKR_PIN_INCORRECT/)]);
});

test('an unknown token is explained', async () => {
  const res = await checkConfig(await config({ tokenLabel: 'no-such-token' }), opts);
  expect(res.errors).toEqual([expect.stringMatching(/^pkcs11: .*no PKCS#11 token matches pkcs11\.tokenLabel \/ pkcs11\.slotId.*TOKEN_NOT_FOUND/)]);
});

test('an unknown key label is explained', async () => {
  const res = await checkConfig(await config({ keyLabel: 'other-key' }), opts);
  expect(res.errors).toEqual([expect.stringMatching(/^pkcs11: .*no private key with pkcs11\.keyLabel/)]);
});

test('a wrong library path: missing file, and a file that is not a PKCS#11 module', async () => {
  let res = await checkConfig(await config({ library: join(dir, 'missing.so') }), opts);
  expect(res.errors).toEqual([expect.stringMatching(/^pkcs11\.library: .*missing\.so does not exist/)]);
  const notLib = join(dir, 'not-a-lib.so');
  await writeFile(notLib, 'text');
  res = await checkConfig(await config({ library: notLib }), opts);
  expect(res.errors).toEqual([expect.stringMatching(/^pkcs11: .*PKCS#11 library \(pkcs11\.library\) cannot be loaded.*SHARED_LIBRARY_LOAD_FAILURE/)]);
});
