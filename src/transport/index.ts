/** Picks the transport implementation; the aws-crt variant (PKCS#11 keys) plugs in here. */
import { MqttTransport } from './mqtt-transport';
import type { Transport, TransportOptions } from './types';

export { MqttTransport } from './mqtt-transport';
export { TransportError, type TransportErrorKind } from './errors';
export type { IncomingMessage, QoS, Transport, TransportOptions } from './types';

export function createTransport(opts: TransportOptions): Transport {
  return new MqttTransport(opts);
}
