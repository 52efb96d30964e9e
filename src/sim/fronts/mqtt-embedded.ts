/**
 * The sim's own MQTT front: an embedded aedes broker behind TLS with client certificates.
 * Identity is the client certificate's CN (the thing name). Like AWS IoT Core it:
 * - lets a thing subscribe/publish only under `$aws/things/{itself}/`;
 * - consumes requests on the Jobs request topics (they are not forwarded to subscribers);
 * - delivers responses only to the requesting client, subscribed or not (docs/PROTOCOL.md §1.2), unless the
 *   `responsesToRequesterOnly` option is off;
 * - ignores (or disconnects on) a device publishing to a response/notify topic (docs/PROTOCOL.md §8 case 10);
 * - with the registry (`identity`): lets only a known, ACTIVE certificate (or a live claim
 *   certificate) connect, drops its connections when it stops being ACTIVE, and serves the fleet
 *   provisioning API to any connection, answering only the requesting one and only when it is
 *   subscribed to the answer topic.
 * aedes speaks MQTT 3.1.1 only.
 */
import { createServer } from 'node:tls';
import type { PeerCertificate, Server, TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { parseRequestTopic, isServiceOnlyTopic } from '../../jobs/topics';
import type { Logger } from '../../lib/log';
import type { SimRuntime } from '../runtime';
import type { Connection, Publication } from '../types';
import type { IdentityService } from '../identity';
import { isProvisioningAnswerTopic, isProvisioningTopic, parseProvisioningTopic } from '../registry/prov-topics';
import { encodePublication, filterMatches } from './payload';

// aedes 0.51 ships CommonJS with loose typings; the small surface used here is typed locally.
interface AedesClient {
  id: string;
  conn: unknown;
  subscriptions: Record<string, unknown>;
  close(): void;
  publish(packet: object, done: (err?: Error) => void): void;
}
interface AedesPacket {
  topic: string;
  payload: Buffer | string;
  qos: number;
  retain: boolean;
}
interface AedesBroker {
  handle: (socket: TLSSocket) => void;
  clients: Record<string, AedesClient | undefined>;
  publish(packet: object, done: (err?: Error) => void): void;
  close(done: () => void): void;
  on(event: 'clientDisconnect', fn: (client: AedesClient) => void): void;
  authenticate: (client: AedesClient, user: unknown, pass: unknown, cb: (err: Error | null, ok: boolean) => void) => void;
  authorizePublish: (client: AedesClient | null, packet: AedesPacket, cb: (err?: Error | null) => void) => void;
  authorizeSubscribe: (client: AedesClient, sub: { topic: string; qos: number }, cb: (err: Error | null, sub: object | null) => void) => void;
}

export interface EmbeddedBrokerOptions {
  runtime: SimRuntime;
  host: string;
  port: number;
  tls: { caPem: string; certPem: string; keyPem: string };
  log: Logger;
  /** The thing a client certificate speaks for (default: its CN). */
  thingOf?: (cert: PeerCertificate) => string | undefined;
  /** The registry: who may connect, and the provisioning API. */
  identity?: IdentityService;
}

export interface RunningFront {
  port: number;
  close(): Promise<void>;
}

function defaultIdentity(cert: PeerCertificate): string | undefined {
  const cn = cert.subject?.CN;
  return typeof cn === 'string' ? cn : undefined;
}

/** Where consumed requests and refused publications go: no client may subscribe to it. */
const SINK_TOPIC = '$sim/consumed';

/** The ALPN protocol name of MQTT with an X.509 client certificate on AWS IoT's port 443. */
export const AWS_MQTT_ALPN = 'x-amzn-mqtt-ca';

function ownsTopic(thing: string | undefined, topic: string): boolean {
  if (topic.startsWith('$sim/')) return false;
  if (isProvisioningTopic(topic)) return true; // any authenticated connection, claim or thing (rotation)
  if (!topic.startsWith('$aws/')) return true; // application topics are outside the Jobs service's concern
  return thing !== undefined && topic.startsWith(`$aws/things/${thing}/`);
}

export async function startEmbeddedBroker(o: EmbeddedBrokerOptions): Promise<RunningFront> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const aedesFactory = require('aedes') as (opts?: object) => AedesBroker;
  const broker = aedesFactory();
  const identities = new Map<AedesClient, string>();
  const certOf = new Map<AedesClient, string>();
  const service = o.runtime.service;
  const identity = o.identity;

  broker.authenticate = (client, _u, _p, cb) => {
    const sock = client.conn as TLSSocket;
    const peer = typeof sock.getPeerCertificate === 'function' ? sock.getPeerCertificate() : undefined;
    if (identity !== undefined) {
      const who = peer?.raw ? identity.identify(peer.raw) : undefined;
      if (who === undefined) {
        o.log.warn({ clientId: client.id }, 'connection refused: the certificate is unknown or not ACTIVE');
        return cb(null, false);
      }
      certOf.set(client, who.certificateId);
      if (who.thing !== undefined) identities.set(client, who.thing);
      return cb(null, true);
    }
    const cn = peer ? (o.thingOf ?? defaultIdentity)(peer) : undefined;
    if (!cn) return cb(null, false);
    identities.set(client, cn);
    cb(null, true);
  };
  broker.on('clientDisconnect', (client) => {
    identities.delete(client);
    certOf.delete(client);
  });
  const dropStatusListener = identity?.onStatusChange((rec) => {
    if (rec.status === 'ACTIVE') return;
    for (const [client, id] of certOf) {
      if (id !== rec.certificateId) continue;
      o.log.info({ clientId: client.id, certificateId: id, status: rec.status }, 'closing a connection: its certificate is no longer ACTIVE');
      client.close();
    }
  });
  broker.authorizeSubscribe = (client, sub, cb) => {
    if (ownsTopic(identities.get(client), sub.topic)) return cb(null, sub);
    o.log.info({ clientId: client.id, thing: identities.get(client), topic: sub.topic, reason: 'not this thing\'s topic' }, 'subscription refused');
    cb(null, null); // SUBACK 0x80 for this filter
  };
  broker.authorizePublish = (client, packet, cb) => {
    if (!client) return cb(null);
    const thing = identities.get(client);
    if (!ownsTopic(thing, packet.topic)) {
      o.log.info({ clientId: client.id, thing, topic: packet.topic, reason: 'not this thing\'s topic' }, 'publish refused; client disconnected');
      return cb(new Error(`publish to ${packet.topic} not allowed for ${thing ?? 'unknown'}`));
    }
    if (isServiceOnlyTopic(packet.topic) || isProvisioningAnswerTopic(packet.topic)) {
      const disconnect = service.options.servicePublishPolicy === 'disconnect';
      o.log.info({ clientId: client.id, thing, topic: packet.topic, reason: 'devices may not publish service answers or notifications' }, disconnect ? 'publish refused; client disconnected' : 'publish dropped');
      if (disconnect) return cb(new Error('publishing to a Jobs response/notify topic'));
      packet.topic = SINK_TOPIC; // acknowledged, then delivered to nobody
      return cb(null);
    }
    if (identity !== undefined && parseProvisioningTopic(packet.topic) !== null) {
      const topic = packet.topic;
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      const conn: Connection = { clientId: client.id, ...(certOf.has(client) ? { certificateId: certOf.get(client) } : {}), ...(thing !== undefined ? { thing } : {}) };
      packet.topic = SINK_TOPIC;
      cb(null);
      setImmediate(() => void identity.handleMqtt(conn, topic, payload));
      return;
    }
    if (parseRequestTopic(packet.topic) === null) return cb(null);
    const topic = packet.topic;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    // Requests are consumed by the service, never forwarded to subscribers (as on AWS IoT Core).
    packet.topic = SINK_TOPIC;
    cb(null);
    // After the PUBACK path has been taken, so a response never overtakes it.
    setImmediate(() => {
      try {
        service.handleMqtt(client.id, topic, payload);
      } catch (err) {
        o.log.error({ err, topic }, 'jobs service failed on a request');
      }
    });
  };

  const outlet = {
    deliver(p: Publication): void {
      const payload = encodePublication(p);
      const packet = { cmd: 'publish', topic: p.topic, payload, qos: 1, retain: false, dup: false };
      if (p.to !== undefined && isProvisioningTopic(p.topic)) {
        // As on AWS: the requesting connection only, and only if it subscribed to the answer.
        const client = broker.clients[p.to];
        if (client && Object.keys(client.subscriptions).some((f) => filterMatches(f, p.topic))) client.publish({ ...packet, qos: service.options.answerQos }, () => undefined);
        return;
      }
      if (p.to !== undefined && service.options.responsesToRequesterOnly) {
        const client = broker.clients[p.to];
        // QoS of answers is open (docs/PROTOCOL.md §10.24): option answerQos.
        if (client) client.publish({ ...packet, qos: service.options.answerQos }, () => undefined);
        return;
      }
      broker.publish(packet, () => undefined);
    },
  };
  const removeOutlet = o.runtime.addOutlet(outlet);

  const server: Server = createServer(
    {
      ca: o.tls.caPem,
      cert: o.tls.certPem,
      key: o.tls.keyPem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      // AWS IoT selects x-amzn-mqtt-ca for MQTT with a client certificate on port 443 [DOC protocols];
      // the Device Client always offers it. A client offering no ALPN negotiates none, as on 8883.
      ALPNProtocols: [AWS_MQTT_ALPN],
    },
    (socket) => {
      socket.setNoDelay(true);
      broker.handle(socket);
    },
  );
  // A refused handshake is a refusal the user rehearsing a device needs to see (wrong CA, no certificate, ALPN).
  server.on('tlsClientError', (err, sock) => o.log.info({ remote: sock.remoteAddress, reason: err.message }, 'TLS client refused'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      removeOutlet();
      dropStatusListener?.();
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
