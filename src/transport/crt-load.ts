/**
 * Loading aws-crt (through aws-iot-device-sdk-v2, an optional dependency) only when the aws-crt
 * transport is selected, reading the PKCS#11 PIN, and releasing native MQTT 5 clients.
 *
 * The SDK has no prebuilt binary for some platforms (32-bit ARM): it must never be imported by the
 * default transport, and selecting it there must fail with a message that says why.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type * as Sdk from 'aws-iot-device-sdk-v2';
import type { Pkcs11Config } from '../config/types';
import { ConfigError, errorMessage } from '../lib/errors';
import { isStandalone, requireFrom, standaloneLibDir } from '../lib/standalone';
import { TransportError } from './errors';

export interface CrtModules {
  http: typeof Sdk.http;
  io: typeof Sdk.io;
  iot: typeof Sdk.iot;
  mqtt: typeof Sdk.mqtt;
  mqtt5: typeof Sdk.mqtt5;
}

export const CRT_PACKAGE = 'aws-iot-device-sdk-v2';

/**
 * Where the SDK comes from: node_modules under plain Node; inside the standalone executable, the
 * node_modules that ship beside it (PREFIX/lib/iot-jobs-agent/node_modules, native addon included).
 */
export function crtSearchDir(): string | undefined {
  return isStandalone() ? join(standaloneLibDir(), 'node_modules') : undefined;
}

function defaultLoad(id: string): unknown {
  const dir = crtSearchDir();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return dir === undefined ? require(id) : requireFrom(join(dir, '..', 'index.js'))(id);
}

/** `require` the SDK now; `load` is injectable so tests can simulate a platform without it. */
export function loadCrt(load: (id: string) => unknown = defaultLoad): CrtModules {
  let sdk: Partial<CrtModules>;
  try {
    sdk = load(CRT_PACKAGE) as Partial<CrtModules>;
  } catch (err) {
    const missing = (err as { code?: string }).code === 'MODULE_NOT_FOUND';
    const dir = crtSearchDir();
    const why = missing
      ? dir === undefined
        ? `${CRT_PACKAGE} is not installed (it is optional; no prebuilt binary for this platform?)`
        : `${CRT_PACKAGE} is not in ${dir} (it ships beside the executable; no prebuilt binary for this platform?)`
      : `${CRT_PACKAGE} cannot be loaded on this platform: ${errorMessage(err)}`;
    throw new TransportError('credentials', `aws-crt transport selected but ${why}; use mqtt.transport "mqtt" with a key file`, {
      cause: err,
    });
  }
  const { http, io, iot, mqtt, mqtt5 } = sdk;
  if (!http || !io || !iot || !mqtt || !mqtt5) {
    throw new TransportError('credentials', `aws-crt transport selected but ${CRT_PACKAGE} lacks http/io/iot/mqtt/mqtt5 exports`);
  }
  return { http, io, iot, mqtt, mqtt5 };
}

/**
 * The user PIN from `pinFile` (first line, trailing newline dropped) or the `pinEnv` variable.
 * Throws ConfigError: without a PIN the agent can never start. Read once: a token may lock after
 * wrong PINs, so nothing retries it.
 */
export function readPin(p11: Pick<Pkcs11Config, 'pinFile' | 'pinEnv'>, env: NodeJS.ProcessEnv = process.env): string {
  let pin: string;
  if (p11.pinFile !== undefined) {
    try {
      pin = readFileSync(p11.pinFile, 'utf8').split(/\r?\n/)[0] ?? '';
    } catch (err) {
      throw new ConfigError([`pkcs11.pinFile: cannot read ${p11.pinFile}: ${errorMessage(err)}`]);
    }
    if (pin === '') throw new ConfigError([`pkcs11.pinFile: ${p11.pinFile} is empty`]);
    return pin;
  }
  if (p11.pinEnv !== undefined) {
    pin = env[p11.pinEnv] ?? '';
    if (pin === '') throw new ConfigError([`pkcs11.pinEnv: the environment variable ${p11.pinEnv} is not set or empty`]);
    return pin;
  }
  throw new ConfigError(['pkcs11: set pinFile or pinEnv (the PIN is never written in the configuration)']);
}

let collect: (() => void) | undefined;

/** Time for the native client's termination (on aws-crt's own thread) to finish after collection. */
const NATIVE_SETTLE_MS = 300;

/**
 * Free the native side of closed aws-crt MQTT 5 clients now, and wait for it. Their native resources
 * (and the handles that keep Node's event loop alive) are released only when the JS object is
 * garbage collected, which can take many seconds; the release then finishes on aws-crt's own
 * thread, and a process that exits meanwhile aborts (napi_release_threadsafe_function during
 * teardown). So: collect once the client is unreferenced, then hold the event loop a moment.
 */
export async function releaseNative(): Promise<void> {
  if (!collect) {
    setFlagsFromString('--expose_gc');
    collect = runInNewContext('gc') as () => void;
  }
  // Let the caller's frame (the last reference) go first.
  await new Promise((resolve) => setImmediate(resolve));
  collect();
  await new Promise((resolve) => setTimeout(resolve, NATIVE_SETTLE_MS));
}
