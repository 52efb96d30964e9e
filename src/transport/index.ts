/** Picks the transport implementation: mqtt.js (default) or aws-crt (keys in a PKCS#11 token). */
import { CrtTransport } from './crt-transport';
import { TransportError } from './errors';
import { MqttTransport } from './mqtt-transport';
import type { Transport, TransportOptions } from './types';

export { MqttTransport } from './mqtt-transport';
export { CrtTransport } from './crt-transport';
export { readPin } from './crt-load';
export { probePkcs11, type Pkcs11ProbeInput } from './crt-probe';
export { TransportError, type TransportErrorKind } from './errors';
export type { IncomingMessage, Pkcs11TransportOptions, QoS, Transport, TransportOptions } from './types';

/**
 * `transport: 'aws-crt'` loads the AWS IoT Device SDK v2 now (it is optional) and throws a
 * TransportError saying why when it cannot; the default never touches it.
 */
export function createTransport(opts: TransportOptions): Transport {
  if (opts.transport === 'aws-crt') return new CrtTransport(opts);
  if (opts.pkcs11) throw new TransportError('credentials', 'a PKCS#11 key needs mqtt.transport "aws-crt"');
  return new MqttTransport(opts);
}
