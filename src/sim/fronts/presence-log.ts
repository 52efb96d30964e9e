/**
 * AWS IoT's lifecycle events when the sim joins an external broker. A stock broker publishes nothing
 * on `$aws/events/presence/…`, but mosquitto can publish its own log on `$SYS/broker/log/{level}`
 * (`log_dest topic`), and with `connection_messages true` that log names every client id that
 * connects, is taken over, disconnects, times out or drops (docs/PROTOCOL.md §11.4). This module
 * turns those lines into AWS's events. The lines are mosquitto 2.0's; a broker that logs nothing
 * there gives no events.
 */
import { randomUUID } from 'node:crypto';
import { PRESENCE_PREFIX, type DisconnectReason } from './presence';

/** The log topics to subscribe to: notices (connects, disconnects) and errors (take-overs). */
export const MOSQUITTO_LOG_TOPICS = ['$SYS/broker/log/N', '$SYS/broker/log/E'];

export type BrokerLogEvent =
  | { kind: 'connected'; clientId: string; ipAddress: string; username?: string }
  | { kind: 'disconnected'; clientId: string; reason: DisconnectReason };

/** mosquitto 2.0's wording (src/loop.c do_disconnect, src/handle_connect.c) → AWS's disconnectReason. */
const DISCONNECTS: [RegExp, DisconnectReason][] = [
  [/^Client (.+) already connected, closing old connection\.$/, 'DUPLICATE_CLIENTID'],
  [/^Client (.+) disconnected\.$/, 'CLIENT_INITIATED_DISCONNECT'],
  [/^Client (.+) has exceeded timeout, disconnecting\.$/, 'MQTT_KEEP_ALIVE_TIMEOUT'],
  [/^Client (.+) disconnected, not authorised\.$/, 'AUTH_ERROR'],
  [/^Client (.+) disconnected due to (?:malformed packet|protocol error)\.$/, 'CLIENT_ERROR'],
  [/^Client (.+) closed its connection\.$/, 'CONNECTION_LOST'],
  [/^Socket error on client (.+), disconnecting\.$/, 'CONNECTION_LOST'],
];
const CONNECTED = /^New client connected from (.+):\d+ as (.+) \(p\d+, c\d, k\d+(?:, u'(.*)')?\)\.$/;

/** One log line (with or without mosquitto's timestamp prefix) → an event, or undefined for any other line. */
export function parseMosquittoLog(line: string): BrokerLogEvent | undefined {
  // "1796587464: New client …" or, with log_timestamp_format, "19:38:16: New client …".
  const text = line.trim().replace(/^[^A-Z]*?: (?=New client|Client|Socket error)/, '');
  const c = CONNECTED.exec(text);
  if (c) return { kind: 'connected', ipAddress: c[1]!.replace(/^\[|\]$/g, ''), clientId: c[2]!, ...(c[3] ? { username: c[3] } : {}) };
  for (const [re, reason] of DISCONNECTS) {
    const m = re.exec(text);
    if (m) return { kind: 'disconnected', clientId: m[1]!, reason };
  }
  return undefined;
}

interface Session {
  sessionIdentifier: string;
  principalIdentifier: string;
  versionNumber: number;
}

export interface LogLifecycleOptions {
  publish(topic: string, event: object): void;
  now(): number;
  /** Client ids whose events are not published (the sim's own connection). */
  ignore?: (clientId: string) => boolean;
}

/** Client ids with a wildcard or a slash get no lifecycle events on AWS: they could not be a topic level. */
function hasEvents(clientId: string): boolean {
  return clientId.length > 0 && !/[#+/]/.test(clientId);
}

export class BrokerLogLifecycle {
  /** The live session of each client id the log showed connecting. */
  private readonly sessions = new Map<string, Session>();
  private readonly versions = new Map<string, number>();

  constructor(private readonly o: LogLifecycleOptions) {}

  /** One message from a `$SYS/broker/log/…` topic. */
  onLogLine(line: string): void {
    const e = parseMosquittoLog(line);
    if (!e || !hasEvents(e.clientId) || this.o.ignore?.(e.clientId)) return;
    if (e.kind === 'connected') this.connected(e.clientId, e.ipAddress, e.username);
    else this.disconnected(e.clientId, e.reason);
  }

  private connected(clientId: string, ipAddress: string, username: string | undefined): void {
    const versionNumber = (this.versions.get(clientId) ?? -1) + 1;
    this.versions.set(clientId, versionNumber);
    // mosquitto logs no certificate: with use_identity_as_username the user name is its CN.
    const session = { sessionIdentifier: randomUUID(), principalIdentifier: username ?? '', versionNumber };
    this.sessions.set(clientId, session);
    this.o.publish(`${PRESENCE_PREFIX}connected/${clientId}`, { clientId, timestamp: this.o.now(), eventType: 'connected', ...session, ipAddress });
  }

  private disconnected(clientId: string, reason: DisconnectReason): void {
    // A client the log never showed connecting (it connected before the sim joined): a session of its own.
    const s = this.sessions.get(clientId) ?? { sessionIdentifier: randomUUID(), principalIdentifier: '', versionNumber: this.versions.get(clientId) ?? 0 };
    this.sessions.delete(clientId);
    this.o.publish(`${PRESENCE_PREFIX}disconnected/${clientId}`, {
      clientId,
      timestamp: this.o.now(),
      eventType: 'disconnected',
      ...s,
      clientInitiatedDisconnect: reason === 'CLIENT_INITIATED_DISCONNECT',
      disconnectReason: reason,
    });
  }
}
