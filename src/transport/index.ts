/** Picks the transport implementation: mqtt.js (default) or aws-crt (keys in a PKCS#11 token). */
import type * as CrtLoadMod from './crt-load';
import type * as CrtProbeMod from './crt-probe';
import type * as CrtTransportMod from './crt-transport';
import { TransportError } from './errors';
import { MqttTransport } from './mqtt-transport';
import type { Transport, TransportOptions } from './types';

export { MqttTransport } from './mqtt-transport';
export type { Pkcs11ProbeInput } from './crt-probe';
export { TransportError, type TransportErrorKind } from './errors';
export type { IncomingMessage, Pkcs11TransportOptions, QoS, Transport, TransportOptions } from './types';

/*
 * The aws-crt side (its loader pulls in node:vm and node:v8) is loaded only by a configuration that
 * uses it: an agent on the default transport never holds its code (idle memory, bench/RESULTS.md).
 */
/* eslint-disable @typescript-eslint/no-require-imports -- lazy loading is the point */
export function readPin(...args: Parameters<typeof CrtLoadMod.readPin>): string {
  return (require('./crt-load') as typeof CrtLoadMod).readPin(...args);
}

export function probePkcs11(...args: Parameters<typeof CrtProbeMod.probePkcs11>): Promise<void> {
  return (require('./crt-probe') as typeof CrtProbeMod).probePkcs11(...args);
}

/**
 * `transport: 'aws-crt'` loads the AWS IoT Device SDK v2 now (it is optional) and throws a
 * TransportError saying why when it cannot; the default never touches it.
 */
export function createTransport(opts: TransportOptions): Transport {
  if (opts.transport === 'aws-crt') return new (require('./crt-transport') as typeof CrtTransportMod).CrtTransport(opts);
  if (opts.pkcs11) throw new TransportError('credentials', 'a PKCS#11 key needs mqtt.transport "aws-crt"');
  return new MqttTransport(opts);
}
/* eslint-enable @typescript-eslint/no-require-imports */
