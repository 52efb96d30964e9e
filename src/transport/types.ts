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
  /**
   * A file naming the key label to use instead, read at every connection attempt (a certificate
   * rotation switches to a new token key by rewriting it); missing or empty: keyLabel.
   */
  keyLabelFile?: string;
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
  /**
   * Back-off ceiling after a take-over (another client with our client id): waits grow from
   * maxMs/64 to maxMs with equal jitter, and a connection that outlives maxMs means the other one
   * has gone. Default 300 000 (mqtt.takeoverBackoffSeconds).
   */
  takeoverBackoffMs?: number;
  cleanSession?: boolean;
  /** The way out (a proxy, or direct); absent: direct. The device's TLS runs inside a proxy's tunnel. */
  network?: Dialer;
}

/** Another client connected with our client id and the broker closed our connection. */
export interface TakeOver {
  /** true: the broker said so (MQTT 5 reason 0x8E); false: inferred from a pattern of closes (MQTT 3.1.1). */
  certain: boolean;
  /** What was observed, for the log. */
  evidence: string;
  /** The wait before the next attempt (the take-over back-off). */
  retryInMs?: number;
}

/** The broker refused one of our operations, by reason code or by closing the connection right after it. */
export interface Denial {
  operation: 'publish' | 'subscribe';
  topic: string;
  /** The IoT policy action the operation needs, e.g. iot:Publish. */
  policyAction: 'iot:Publish' | 'iot:Subscribe';
  /** The policy resource, after `arn:aws:iot:REGION:ACCOUNT:`, e.g. `topic/$aws/things/x/jobs/get`. */
  resource: string;
  evidence: string;
  /** true when inferred from a close (MQTT 3.1.1), false when a reason code said so. */
  likely: boolean;
}

export interface IncomingMessage {
  topic: string;
  payload: Buffer;
}

/**
 * Events: 'connect' (first and every re-connect; arg: {sessionPresent}), 'disconnect' (arg: Error|undefined;
 * a TransportError of kind 'taken-over' or 'denied' says why the broker closed it), 'message'
 * (IncomingMessage), 'error' (TransportError, non-fatal, e.g. a failed reconnect attempt), 'denied'
 * (Denial: a refused PUBLISH/SUBSCRIBE, by reason code or by a close), 'settled' (a connection
 * outlived the take-over back-off: the other client has gone).
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
