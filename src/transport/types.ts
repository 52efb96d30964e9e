/** The narrow MQTT facade everything above the transport talks to. */
import type { EventEmitter } from 'node:events';
import type { Dialer } from '../net';

export type QoS = 0 | 1;

/** A private key held in a PKCS#11 token (aws-crt transport only). The PIN is resolved already. */
export interface Pkcs11TransportOptions {
  /** Path of the PKCS#11 module (.so), e.g. /usr/lib/softhsm/libsofthsm2.so. */
  library: string;
  tokenLabel?: string;
  slotId?: number;
  keyLabel: string;
  /** User PIN, read from pinFile/pinEnv at start-up (see readPin); never from the config file. */
  pin: string;
}

export interface TransportOptions {
  /** Implementation: 'mqtt' (mqtt.js, default) or 'aws-crt' (AWS IoT Device SDK v2, PKCS#11 capable). */
  transport?: 'mqtt' | 'aws-crt';
  /** Key in a token instead of tls.privateKeyFile; only with transport 'aws-crt'. */
  pkcs11?: Pkcs11TransportOptions;
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
  /** The way out (a proxy, or direct); absent: direct. The device's TLS runs inside a proxy's tunnel. */
  network?: Dialer;
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
  /**
   * Drop the connection now and reconnect as after a loss, reading the certificate and key files
   * again: how a new identity takes effect. Nothing happens while not connected.
   */
  restart(): void;
  /** Idempotent; leaves no open handles. */
  close(): Promise<void>;
}
