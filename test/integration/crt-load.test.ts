/**
 * Selecting aws-crt where the SDK cannot load, the default transport never loading it, and the PIN
 * from a file or the environment. Nothing here loads aws-crt into the test process.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/lib/errors';
import { loadCrt, readPin } from '../../src/transport/crt-load';
import { CrtTransport } from '../../src/transport/crt-transport';
import { TransportError } from '../../src/transport/errors';
import { createTransport, MqttTransport } from '../../src/transport/index';
import type { TransportOptions } from '../../src/transport/types';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crt-load-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base: TransportOptions = {
  host: '127.0.0.1',
  port: 1,
  clientId: 'c',
  protocolVersion: 4,
  alpn: false,
  keepAliveSeconds: 30,
  tls: { certificateFile: '/x/cert.pem', privateKeyFile: '/x/key.pem', rootCaFile: '/x/ca.pem' },
};

test('aws-crt selected on a platform without the SDK fails at start-up saying why', () => {
  const notFound = Object.assign(new Error("Cannot find module 'aws-iot-device-sdk-v2'"), { code: 'MODULE_NOT_FOUND' });
  const load = (): never => {
    throw notFound;
  };
  let caught: unknown;
  try {
    new CrtTransport({ ...base, transport: 'aws-crt' }, { load: () => loadCrt(load) });
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(TransportError);
  expect((caught as TransportError).retryable).toBe(false);
  expect((caught as Error).message).toMatch(/aws-crt transport selected but aws-iot-device-sdk-v2 is not installed .*no prebuilt binary for this platform/);
  expect((caught as Error).cause).toBe(notFound);
});

test('a native module that fails to load (wrong architecture) is reported with its own error', () => {
  const load = (): never => {
    throw new Error('wrong ELF class: ELFCLASS64');
  };
  expect(() => loadCrt(load)).toThrow(/aws-iot-device-sdk-v2 cannot be loaded on this platform: wrong ELF class/);
});

test('the default transport never loads the SDK; a PKCS#11 key without aws-crt is refused', () => {
  expect(createTransport(base)).toBeInstanceOf(MqttTransport);
  expect(Object.keys(require.cache).some((k) => k.includes('aws-crt') || k.includes('aws-iot-device-sdk-v2'))).toBe(false);
  const p11 = { library: '/x.so', tokenLabel: 't', keyLabel: 'k', pin: '1' };
  expect(() => createTransport({ ...base, pkcs11: p11 })).toThrow(/PKCS#11 key needs mqtt.transport "aws-crt"/);
});

test('aws-crt without a key file or a pkcs11 section is refused before loading anything', () => {
  const load = jest.fn();
  expect(() => new CrtTransport({ ...base, transport: 'aws-crt', tls: { certificateFile: 'c', rootCaFile: 'r' } }, { load })).toThrow(
    /needs tls.privateKeyFile or a pkcs11 section/,
  );
  expect(load).not.toHaveBeenCalled();
});

describe('readPin', () => {
  test('from a file: the first line, without its newline', async () => {
    const f = join(dir, 'pin');
    await writeFile(f, '12 34\nignored\n', { mode: 0o600 });
    await chmod(f, 0o600);
    expect(readPin({ pinFile: f }, {})).toBe('12 34');
  });

  test('from the environment', () => {
    expect(readPin({ pinEnv: 'HSM_PIN' }, { HSM_PIN: '4321' })).toBe('4321');
  });

  test('missing or empty sources are configuration errors naming the key', async () => {
    expect(() => readPin({ pinEnv: 'HSM_PIN' }, {})).toThrow(ConfigError);
    expect(() => readPin({ pinEnv: 'HSM_PIN' }, {})).toThrow(/pkcs11.pinEnv: the environment variable HSM_PIN is not set or empty/);
    expect(() => readPin({ pinFile: join(dir, 'nope') }, {})).toThrow(/pkcs11.pinFile: cannot read .*nope/);
    const empty = join(dir, 'empty');
    await writeFile(empty, '\n');
    expect(() => readPin({ pinFile: empty }, {})).toThrow(/pkcs11.pinFile: .*empty is empty/);
    expect(() => readPin({}, {})).toThrow(/set pinFile or pinEnv/);
  });
});
