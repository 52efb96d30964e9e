/**
 * Why the broker closed an established connection, as far as the client can tell (docs/PROTOCOL.md
 * §11). AWS IoT closes a connection when another client connects with the same client id (MQTT 5:
 * DISCONNECT 0x8E "session taken over"; MQTT 3.1.1: a bare close), and also when the connection
 * publishes or subscribes where its IoT policy does not allow it (3.1.1: a bare close again). The
 * two look alike on 3.1.1, so they are told apart by what the client was doing: a close while one
 * of our own PUBLISH/SUBSCRIBE waits for its acknowledgement points at that topic; repeated closes
 * of idle, young connections with no error of ours point at a take-over. Pure: the transports feed
 * it what they saw and act on the verdict.
 */
import type { Denial, TakeOver } from './types';

/** MQTT 5 reason codes the verdict depends on (OASIS MQTT 5.0 §2.4). */
export const RC_SESSION_TAKEN_OVER = 0x8e;
export const RC_NOT_AUTHORIZED = 0x87;
export const RC_SERVER_SHUTTING_DOWN = 0x8b;

/** Bare closes of young, idle connections in a row before a 3.1.1 take-over is called likely. */
export const LIKELY_TAKEOVER_CLOSES = 3;
/** A connection that lived this long is not "soon after CONNACK": it resets the count. */
export const YOUNG_CONNECTION_MS = 30_000;
/** An unacknowledged operation sent this recently is what a bare close answers. */
export const DENIAL_WINDOW_MS = 5_000;

export interface PendingOperation {
  operation: 'publish' | 'subscribe';
  /** Topic (publish) or filter (subscribe). */
  topic: string;
  sentAt: number;
}

/** What the transport saw of one lost connection. */
export interface ClosedConnection {
  /** MQTT 5 DISCONNECT reason code from the server, if one came. */
  reasonCode?: number;
  /** An error on our side (socket error, our keep-alive timeout): then it is the network's doing. */
  error?: Error;
  connectedAt: number;
  closedAt: number;
  /** Our operations still waiting for PUBACK/SUBACK at the close. */
  pending: readonly PendingOperation[];
}

export type CloseVerdict =
  | { kind: 'taken-over'; takeOver: TakeOver }
  | { kind: 'denied'; denial: Denial }
  | { kind: 'server-shutdown' }
  | { kind: 'lost' };

/** The IoT policy action and resource a denied operation needs (resource ARN without region/account). */
export function policyFor(operation: 'publish' | 'subscribe', topic: string): Pick<Denial, 'policyAction' | 'resource'> {
  return operation === 'publish'
    ? { policyAction: 'iot:Publish', resource: `topic/${topic}` }
    : { policyAction: 'iot:Subscribe', resource: `topicfilter/${topic}` };
}

export function denialOf(op: Pick<PendingOperation, 'operation' | 'topic'>, evidence: string, likely: boolean): Denial {
  return { operation: op.operation, topic: op.topic, ...policyFor(op.operation, op.topic), evidence, likely };
}

/** Tells take-overs, denials and ordinary losses apart across consecutive connections of one client. */
export class CloseClassifier {
  private bareCloses = 0;
  /** The operation the previous connection was closed on, if it was (a denial repeats on every connection). */
  private closedOn: string | undefined;
  /** A take-over was seen and the other client has not been seen gone yet. */
  private active = false;

  constructor(private readonly threshold = LIKELY_TAKEOVER_CLOSES) {}

  /** A connection attempt failed (refused, timed out): a restarting broker or network, not a take-over. */
  attemptFailed(): void {
    this.bareCloses = 0;
  }

  /** The other client has gone (the connection outlived the take-over back-off). */
  settled(): void {
    this.bareCloses = 0;
    this.active = false;
  }

  get takenOver(): boolean {
    return this.active;
  }

  classify(c: ClosedConnection): CloseVerdict {
    const recent = c.pending.filter((p) => c.closedAt - p.sentAt <= DENIAL_WINDOW_MS);
    const closedOn = this.closedOn;
    this.closedOn = undefined;
    if (c.reasonCode === RC_SESSION_TAKEN_OVER) {
      this.bareCloses = 0;
      this.active = true;
      return { kind: 'taken-over', takeOver: { certain: true, evidence: 'MQTT 5 DISCONNECT reason 0x8E (session taken over)' } };
    }
    const first = recent[0];
    if (c.reasonCode === RC_NOT_AUTHORIZED && first) {
      this.bareCloses = 0;
      return { kind: 'denied', denial: denialOf(first, `MQTT 5 DISCONNECT reason 0x87 (not authorized) after our ${first.operation}`, false) };
    }
    if (c.reasonCode === RC_SERVER_SHUTTING_DOWN) {
      this.bareCloses = 0;
      return { kind: 'server-shutdown' };
    }
    if (c.reasonCode !== undefined || c.error !== undefined) {
      this.bareCloses = 0;
      return { kind: 'lost' };
    }
    if (first) {
      // Not counted either way. A denial repeats on every connection: one close on an operation may be
      // a take-over that happened to come while a request was out; the same operation twice is not.
      const key = `${first.operation} ${first.topic}`;
      const again = recent.find((p) => `${p.operation} ${p.topic}` === closedOn);
      this.closedOn = again ? closedOn : key;
      if (!again) return { kind: 'lost' };
      return { kind: 'denied', denial: denialOf(again, `the broker closed the connection ${Math.round(c.closedAt - again.sentAt)} ms after our ${again.operation}, before acknowledging it, on two connections in a row`, true) };
    }
    const young = c.closedAt - c.connectedAt < YOUNG_CONNECTION_MS;
    this.bareCloses = young ? this.bareCloses + 1 : 0;
    // Once a take-over was seen, the other client's back-off makes our connections live long: any
    // bare idle close is still it, until a connection outlives that back-off (settled()).
    if (this.bareCloses < this.threshold && !this.active) return { kind: 'lost' };
    this.active = true;
    const seen = this.bareCloses >= this.threshold
      ? `the broker closed ${this.bareCloses} connections in a row within ${YOUNG_CONNECTION_MS / 1000} s of a good CONNACK, while idle, with no error on our side`
      : 'the broker closed an idle connection with no error on our side, after earlier take-overs';
    return {
      kind: 'taken-over',
      takeOver: {
        certain: false,
        evidence: seen,
      },
    };
  }
}
