/**
 * AWS IoT's connect/disconnect lifecycle events on the embedded broker (docs/PROTOCOL.md §11):
 * `$aws/events/presence/connected/{clientId}` and `…/disconnected/{clientId}` with the fields AWS
 * documents, and the disconnect reasons the sim can tell apart: DUPLICATE_CLIENTID (another client
 * connected with the same id), CLIENT_INITIATED_DISCONNECT (an MQTT DISCONNECT), MQTT_KEEP_ALIVE_TIMEOUT,
 * AUTH_ERROR (a publish the policy refuses, see the `denyPublish` fault), SERVER_INITIATED_DISCONNECT
 * (the sim shutting down) and CONNECTION_LOST (anything else: the socket went away).
 */
import { randomUUID } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { certificateIdOfDer } from '../../lib/certs';

export const PRESENCE_PREFIX = '$aws/events/presence/';

export type DisconnectReason =
  | 'DUPLICATE_CLIENTID'
  | 'CLIENT_INITIATED_DISCONNECT'
  | 'MQTT_KEEP_ALIVE_TIMEOUT'
  | 'AUTH_ERROR'
  | 'SERVER_INITIATED_DISCONNECT'
  | 'CLIENT_ERROR'
  | 'CONNECTION_LOST';

/** The part of an aedes client this module reads. */
export interface LifecycleClient {
  id: string;
  conn: unknown;
  /** Set by aedes when the client sent DISCONNECT. */
  _disconnected?: boolean;
}

interface Session {
  sessionIdentifier: string;
  principalIdentifier: string;
  versionNumber: number;
  reason?: DisconnectReason;
}

export interface LifecycleOptions {
  /** Publishes one event (QoS 1, not retained) to the broker's subscribers. */
  publish(topic: string, event: object): void;
  /** The service clock, ms since the epoch (AWS's `timestamp` is in ms). */
  now(): number;
}

/** Client ids with a wildcard get no lifecycle events on AWS: they could not be a topic level. */
function hasEvents(clientId: string): boolean {
  return clientId.length > 0 && !/[#+/]/.test(clientId);
}

export class LifecycleEvents {
  private readonly sessions = new Map<LifecycleClient, Session>();
  /** Per client id: the versionNumber of its latest connection (AWS: monotonically increasing per client id). */
  private readonly versions = new Map<string, number>();
  private shuttingDown = false;

  constructor(private readonly o: LifecycleOptions) {}

  /** Why `client` is about to be closed, when the sim knows better than "the connection was lost". */
  willClose(client: LifecycleClient, reason: DisconnectReason): void {
    const s = this.sessions.get(client);
    if (s && s.reason === undefined) s.reason = reason;
  }

  /** A client with `clientId` passed authentication: an older connection with that id is about to be taken over. */
  authenticated(clientId: string, existing: LifecycleClient | undefined, client: LifecycleClient): void {
    if (existing && existing !== client) this.willClose(existing, 'DUPLICATE_CLIENTID');
  }

  shutdown(): void {
    this.shuttingDown = true;
  }

  connected(client: LifecycleClient): void {
    const versionNumber = (this.versions.get(client.id) ?? -1) + 1;
    this.versions.set(client.id, versionNumber);
    const sock = client.conn as Partial<TLSSocket>;
    const raw = typeof sock.getPeerCertificate === 'function' ? sock.getPeerCertificate().raw : undefined;
    const session: Session = { sessionIdentifier: randomUUID(), principalIdentifier: raw ? certificateIdOfDer(raw) : '', versionNumber };
    this.sessions.set(client, session);
    if (!hasEvents(client.id)) return;
    this.o.publish(`${PRESENCE_PREFIX}connected/${client.id}`, {
      clientId: client.id,
      timestamp: this.o.now(),
      eventType: 'connected',
      sessionIdentifier: session.sessionIdentifier,
      principalIdentifier: session.principalIdentifier,
      ipAddress: (sock.remoteAddress ?? '').replace(/^::ffff:/, ''),
      versionNumber,
    });
  }

  disconnected(client: LifecycleClient): void {
    const s = this.sessions.get(client);
    this.sessions.delete(client);
    if (!s || !hasEvents(client.id)) return;
    const reason: DisconnectReason = client._disconnected === true ? 'CLIENT_INITIATED_DISCONNECT' : (s.reason ?? (this.shuttingDown ? 'SERVER_INITIATED_DISCONNECT' : 'CONNECTION_LOST'));
    this.o.publish(`${PRESENCE_PREFIX}disconnected/${client.id}`, {
      clientId: client.id,
      timestamp: this.o.now(),
      eventType: 'disconnected',
      sessionIdentifier: s.sessionIdentifier,
      principalIdentifier: s.principalIdentifier,
      clientInitiatedDisconnect: reason === 'CLIENT_INITIATED_DISCONNECT',
      disconnectReason: reason,
      versionNumber: s.versionNumber,
    });
  }
}
