/**
 * One aws-crt connection (MQTT 3.1.1 MqttClientConnection or MQTT 5 Mqtt5Client) behind one small
 * interface, so CrtTransport holds the reconnect/timeout/resubscribe logic once. A session is one
 * connection attempt and, if it succeeds, one connection: aws-crt's own reconnect is never used
 * (the transport reconnects with the shared backoff and a fresh session, as the mqtt.js one does).
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type * as Sdk from 'aws-iot-device-sdk-v2';
import { errorMessage } from '../lib/errors';
import { denialOf, RC_NOT_AUTHORIZED } from './close-reason';
import { classifyCrtError, connackRefusal, crtErrorName } from './crt-errors';
import { releaseNative, type CrtModules } from './crt-load';
import { crtProxyOptions } from './crt-proxy';
import { TransportError } from './errors';
import type { IncomingMessage, Pkcs11TransportOptions, QoS, TransportOptions } from './types';

/** What aws-crt tells of a dropped connection, as close-reason.ts reads it. */
export interface CrtLoss {
  /** aws-crt's error; `peerClosed` when it only says the broker closed the socket. */
  error: Error;
  /** The broker closed the socket with no error of ours (AWS_ERROR_MQTT_UNEXPECTED_HANGUP). */
  peerClosed: boolean;
  /** MQTT 5: the reason code of the broker's DISCONNECT, when one came. */
  reasonCode?: number;
}

export interface SessionHandlers {
  onMessage(msg: IncomingMessage): void;
  /** The established connection dropped (not called for close()). */
  onLost(loss: CrtLoss): void;
}

/** aws-crt's "the connection was closed unexpectedly": the peer hung up, not a socket error or timeout of ours. */
function lossOf(err: unknown, reasonCode?: number): CrtLoss {
  return { error: new Error(errorMessage(err)), peerClosed: /UNEXPECTED_HANGUP/.test(crtErrorName(err) || errorMessage(err)), ...(reasonCode !== undefined ? { reasonCode } : {}) };
}

export interface CrtSession {
  /** Resolves with CONNACK's sessionPresent; rejects with a classified TransportError. */
  connect(): Promise<boolean>;
  subscribe(filters: string[], qos: QoS): Promise<void>;
  unsubscribe(filters: string[]): Promise<void>;
  publish(topic: string, payload: string | Buffer, qos: QoS): Promise<void>;
  /** Disconnect and free the native client; idempotent. */
  close(): Promise<void>;
}

const STOP_TIMEOUT_MS = 2_000;

function where(o: TransportOptions): string {
  return `${o.host}:${o.port}`;
}

/** The label to connect with now: the key-label file (rewritten by a rotation), else keyLabel. */
function keyLabelNow(p: Pkcs11TransportOptions): string {
  if (p.keyLabelFile === undefined) return p.keyLabel;
  try {
    return readFileSync(p.keyLabelFile, 'utf8').trim() || p.keyLabel;
  } catch {
    return p.keyLabel;
  }
}

/** PKCS#11 options for the builders; the library handle is shared by all sessions of a transport. */
function pkcs11Options(o: TransportOptions, lib: Sdk.io.Pkcs11Lib): Sdk.io.TlsContextOptions.Pkcs11Options {
  const p = o.pkcs11!;
  return {
    pkcs11_lib: lib,
    user_pin: p.pin,
    private_key_object_label: keyLabelNow(p),
    cert_file_path: o.tls.certificateFile,
    ...(p.tokenLabel !== undefined ? { token_label: p.tokenLabel } : {}),
    ...(p.slotId !== undefined ? { slot_id: p.slotId } : {}),
  };
}

/**
 * aws-crt hands an empty payload over as a detached ArrayBuffer (length 0): constructing a view
 * on it throws, and an exception inside a native callback aborts the process. Never throw here.
 */
function toBuffer(payload: unknown): Buffer {
  try {
    if (Buffer.isBuffer(payload)) return payload;
    if (payload instanceof ArrayBuffer) return payload.byteLength === 0 ? Buffer.alloc(0) : Buffer.from(payload.slice(0));
    if (ArrayBuffer.isView(payload)) {
      return payload.byteLength === 0 ? Buffer.alloc(0) : Buffer.from(payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.byteLength));
    }
    return Buffer.from(typeof payload === 'string' ? payload : '');
  } catch {
    return Buffer.alloc(0);
  }
}

/** MQTT 3.1.1: `disconnect()` frees the native connection and releases the event loop. */
function session311(crt: CrtModules, o: TransportOptions, lib: Sdk.io.Pkcs11Lib | undefined, h: SessionHandlers): CrtSession {
  const { iot, mqtt } = crt;
  const b = lib
    ? iot.AwsIotMqttConnectionConfigBuilder.new_mtls_pkcs11_builder(pkcs11Options(o, lib))
    : iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path(o.tls.certificateFile, o.tls.privateKeyFile ?? '');
  b.with_endpoint(o.host)
    .with_port(o.port)
    .with_client_id(o.clientId)
    .with_certificate_authority_from_path(undefined, o.tls.rootCaFile)
    .with_keep_alive_seconds(o.keepAliveSeconds)
    .with_clean_session(o.cleanSession ?? true);
  const proxy = crtProxyOptions(crt, o);
  if (proxy) b.with_http_proxy_options(proxy);
  // build() resolves the PKCS#11 token, key and PIN: it throws for a wrong one.
  const conn = new mqtt.MqttClient().new_connection(b.build());
  let established = false;
  let closed = false;
  conn.on('error', () => undefined);
  conn.on('message', (topic: string, payload: unknown) => h.onMessage({ topic, payload: toBuffer(payload) }));
  conn.on('interrupt', (err: unknown) => {
    if (!established || closed) return;
    established = false;
    h.onLost(lossOf(err));
  });
  return {
    async connect() {
      try {
        const sessionPresent = await conn.connect();
        established = true;
        return sessionPresent;
      } catch (err) {
        throw classifyCrtError(err, where(o));
      }
    },
    async subscribe(filters, qos) {
      for (const f of filters) {
        const r = await conn.subscribe(f, qos as number as Sdk.mqtt.QoS);
        if (r.error_code || (r.qos as number) === 128) {
          throw new TransportError('subscribe-refused', `${f}: SUBACK ${r.error_code ?? r.qos}`);
        }
      }
    },
    async unsubscribe(filters) {
      for (const f of filters) await conn.unsubscribe(f);
    },
    async publish(topic, payload, qos) {
      await conn.publish(topic, payload, qos as number as Sdk.mqtt.QoS);
    },
    async close() {
      if (closed) return;
      closed = true;
      conn.removeAllListeners();
      conn.on('error', () => undefined);
      // Also stops aws-crt's own reconnect after an interruption.
      await conn.disconnect().catch(() => undefined);
    },
  };
}

function mqtt5Builder(crt: CrtModules, o: TransportOptions, lib: Sdk.io.Pkcs11Lib | undefined): Sdk.iot.AwsIotMqtt5ClientConfigBuilder {
  const { iot, mqtt5 } = crt;
  const B = iot.AwsIotMqtt5ClientConfigBuilder;
  const b = lib
    ? B.newDirectMqttBuilderWithMtlsFromPkcs11(o.host, pkcs11Options(o, lib))
    : B.newDirectMqttBuilderWithMtlsFromPath(o.host, o.tls.certificateFile, o.tls.privateKeyFile ?? '');
  const proxy = crtProxyOptions(crt, o);
  if (proxy) b.withHttpProxyOptions(proxy);
  return b
    .withPort(o.port)
    .withCertificateAuthorityFromPath(undefined, o.tls.rootCaFile)
    .withConnectProperties({ clientId: o.clientId, keepAliveIntervalSeconds: o.keepAliveSeconds })
    .withSessionBehavior(o.cleanSession === false ? mqtt5.ClientSessionBehavior.RejoinAlways : mqtt5.ClientSessionBehavior.Clean)
    .withOfflineQueueBehavior(mqtt5.ClientOperationQueueBehavior.FailAllOnDisconnect);
}

/**
 * MQTT 5: `stop()` + `close()` leave the native client (and a handle that keeps Node's event loop
 * alive) until garbage collection, so close() drops every reference and forces the release.
 */
function session5(crt: CrtModules, o: TransportOptions, lib: Sdk.io.Pkcs11Lib | undefined, h: SessionHandlers): CrtSession {
  const { mqtt5 } = crt;
  const E = mqtt5.Mqtt5Client;
  let client: Sdk.mqtt5.Mqtt5Client | undefined = new E(mqtt5Builder(crt, o, lib).build());
  let established = false;
  client.on('messageReceived', (e: Sdk.mqtt5.MessageReceivedEvent) =>
    h.onMessage({ topic: e.message.topicName, payload: toBuffer(e.message.payload) }),
  );
  client.on('disconnection', (e: Sdk.mqtt5.DisconnectionEvent) => {
    if (!established) return;
    established = false;
    // The broker's DISCONNECT, if it sent one (0x8E session taken over, 0x87 not authorized, ...).
    h.onLost(lossOf(e.error, e.disconnect?.reasonCode));
  });
  const live = (): Sdk.mqtt5.Mqtt5Client => {
    if (!client) throw new TransportError('closed');
    return client;
  };
  return {
    async connect() {
      const c = live();
      const outcome = new Promise<boolean>((resolve, reject) => {
        c.once('connectionSuccess', (e: Sdk.mqtt5.ConnectionSuccessEvent) => resolve(e.connack.sessionPresent));
        c.once('connectionFailure', (e: Sdk.mqtt5.ConnectionFailureEvent) =>
          reject(connackRefusal(e.connack?.reasonCode, where(o)) ?? classifyCrtError(e.error, where(o))),
        );
      });
      c.start();
      const sessionPresent = await outcome;
      established = true;
      return sessionPresent;
    },
    async subscribe(filters, qos) {
      const suback = await live().subscribe({ subscriptions: filters.map((topicFilter) => ({ topicFilter, qos: qos as number as Sdk.mqtt5.QoS })) });
      const refused = suback.reasonCodes.findIndex((c) => c >= 128);
      if (refused >= 0) {
        throw new TransportError('subscribe-refused', `${filters[refused] ?? ''}: SUBACK reason code ${suback.reasonCodes[refused] ?? ''}`);
      }
    },
    async unsubscribe(filters) {
      await live().unsubscribe({ topicFilters: filters });
    },
    async publish(topic, payload, qos) {
      const puback = await live().publish({ topicName: topic, payload, qos: qos as number as Sdk.mqtt5.QoS });
      if (puback && puback.reasonCode >= 128) {
        const denial = puback.reasonCode === RC_NOT_AUTHORIZED ? denialOf({ operation: 'publish', topic }, 'PUBACK reason 0x87 (not authorized)', false) : undefined;
        throw new TransportError('publish-refused', `${topic}: PUBACK reason code ${puback.reasonCode}`, denial ? { denial } : {});
      }
    },
    async close() {
      let c = client;
      if (!c) return;
      client = undefined;
      established = false;
      c.removeAllListeners();
      const stopped = once(c, 'stopped');
      c.stop();
      await Promise.race([stopped, new Promise((r) => setTimeout(r, STOP_TIMEOUT_MS).unref())]);
      c.removeAllListeners();
      c.close();
      // `c` was the last reference: drop it, then collect and let the native release finish.
      c = undefined;
      await releaseNative();
    },
  };
}

/** A new session; throws a classified TransportError when the TLS/PKCS#11 context cannot be built. */
export function createSession(crt: CrtModules, o: TransportOptions, lib: Sdk.io.Pkcs11Lib | undefined, h: SessionHandlers): CrtSession {
  try {
    return o.protocolVersion === 5 ? session5(crt, o, lib, h) : session311(crt, o, lib, h);
  } catch (err) {
    throw classifyCrtError(err, where(o));
  }
}
