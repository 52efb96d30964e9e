/** The narrow MQTT facade everything above the transport talks to. */
import type { EventEmitter } from 'node:events';

export type QoS = 0 | 1;

export interface TransportOptions {
  /** Host name or IP of the broker (no scheme). */
  host: string;
  port: number;
  clientId: string;
  /** 4 = MQTT 3.1.1, 5 = MQTT 5. */
  protocolVersion: 4 | 5;
  /** ALPN `x-amzn-mqtt-ca` (AWS IoT on port 443). */
  alpn: boolean;
  keepAliveSeconds: number;
  tls: { certificateFile: string; privateKeyFile?: string; rootCaFile: string };
  /** Per publish/subscribe bound. */
  operationTimeoutMs?: number;
  /** Bound on one connection attempt (TLS + CONNACK). */
  connectTimeoutMs?: number;
  reconnect?: { baseMs: number; maxMs: number };
  cleanSession?: boolean;
}

export interface IncomingMessage {
  topic: string;
  payload: Buffer;
}

/**
 * Events: 'connect' (first and every re-connect; arg: {sessionPresent}), 'disconnect' (arg: Error|undefined),
 * 'message' (IncomingMessage), 'error' (TransportError, non-fatal, e.g. a failed reconnect attempt).
 */
export interface Transport extends EventEmitter {
  /** Resolves on the first CONNACK; rejects with a TransportError (typed TLS cause) within the connect timeout. */
  connect(): Promise<void>;
  readonly connected: boolean;
  subscribe(filters: string[], qos?: QoS): Promise<void>;
  unsubscribe(filters: string[]): Promise<void>;
  /** Rejects for wildcard topics and when not acknowledged in time (QoS 1) or offline. */
  publish(topic: string, payload: string | Buffer, qos?: QoS): Promise<void>;
  /** Idempotent; leaves no open handles. */
  close(): Promise<void>;
}
