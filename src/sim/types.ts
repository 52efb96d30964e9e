/**
 * The contract between the pure Jobs state machine (`service.ts`) and its fronts (MQTT broker /
 * external broker, HTTPS data plane, HTTP control plane). The service is synchronous: every call
 * returns its result and pushes any MQTT messages it causes into the `publish` sink immediately.
 */
import type { Clock } from '../lib/clock';

/** jobExecutionsRetryConfig's shape (rules in jobs/retry.ts). */
export type RetryFailureType = 'FAILED' | 'TIMED_OUT' | 'ALL';

export interface RetryConfig {
  criteriaList: { failureType: RetryFailureType; numberOfRetries: number }[];
}

/** The open questions of docs/PROTOCOL.md §10, as switches. Defaults are its recommended readings. */
export interface SimOptions {
  /** §10.1 HTTPS ThrottlingException status. */
  throttlingStatus: 429 | 400;
  /** §10.2 code for updating a terminal execution. */
  terminalUpdateCode: 'InvalidStateTransition' | 'TerminalStateReached';
  /** §10.3 DescribeJobExecution of a terminal execution: return it, or reject TerminalStateReached (410 on HTTPS). */
  describeTerminal: 'return' | 'TerminalStateReached';
  /** §10.4 IN_PROGRESS → REJECTED. */
  allowRejectFromInProgress: boolean;
  /** §10.5 QUEUED → SUCCEEDED/FAILED directly. */
  allowTerminalFromQueued: boolean;
  /** §10.8 statusDetails on update: replace (default) or merge. */
  statusDetailsMode: 'replace' | 'merge';
  /** §10.8 max statusDetails entries. */
  maxStatusDetailsEntries: number;
  /** §10.9 include thingName in MQTT execution objects. */
  mqttThingName: boolean;
  /** §10.13 cap on executions in GetPendingJobExecutions and notify (IN_PROGRESS first). */
  maxPendingListed: number;
  /** §10.13 unknown thing on GetPending: empty lists (default) or ResourceNotFound. */
  unknownThingGetPending: 'empty' | 'ResourceNotFound';
  /** §10.14 zero-length payload: treat as `{}` (default) or InvalidJson. */
  emptyPayload: 'object' | 'InvalidJson';
  /** §10.15 versionNumber bump on service-side transitions (cancel, timeout, removal). */
  bumpVersionOnServiceTransition: boolean;
  /** §10.17 apply stepTimeoutInMinutes on start-next of an already IN_PROGRESS execution. */
  stepTimeoutOnRestart: boolean;
  /** §10.12 / docs/ARCHITECTURE.md §3: which namespaced notify topic form(s) to emit. */
  namespaceNotifyForm: 'short' | 'doc' | 'both';
  /** §8.10 a client publishing to a response/notify topic: ignore (default) or reject/disconnect (front decides). */
  servicePublishPolicy: 'ignore' | 'disconnect';
  /** §1.2 embedded broker: deliver responses only to the requester (true) or via normal subscriptions. */
  responsesToRequesterOnly: boolean;
  /** §8.1 check order for a duplicate terminal update with expectedVersion: version first (default) or terminal first. */
  duplicateTerminalCheck: 'version-first' | 'terminal-first';
  /** §2.6 substitute `${aws:iot:s3-presigned-url:…}` and `${aws:iot:s3-presigned-url-v2:…}` placeholders per delivery. */
  presignPlaceholders: boolean;
  /**
   * §10.22 the URL a placeholder becomes: virtual-hosted (`https://BUCKET.s3.REGION.amazonaws.com/KEY`,
   * default) whatever form was written, or the form written (path-style stays path-style).
   */
  presignedUrlStyle: 'virtual-hosted' | 'as-written';
  /**
   * §10.23 statusDetails values: `whitespace` (default) accepts line feed, carriage return and tab and
   * refuses every other `\p{C}` character; `strict` refuses all of `\p{C}` as the API model's pattern says.
   */
  statusDetailsControlChars: 'whitespace' | 'strict';
  /** §10.24 QoS of an answer handed to the requester by the embedded broker: 0 (default) or 1. */
  answerQos: 0 | 1;
  /**
   * §2.6 drop object members whose value is null from job documents on delivery, as AWS was
   * reported to do (2018, 2024); off by default. A signed envelope survives it: its payload is base64url.
   */
  stripNulls: boolean;
  /**
   * docs/ROLLOUT.md §R.1: executions per minute for a job without `jobExecutionsRolloutConfig`;
   * 0 (default) creates them all at once, 1000 reads AWS's documented default as applying to every job.
   */
  defaultRolloutPerMinute: number;
  /** docs/ROLLOUT.md §R.2: abort criteria count each thing once by its latest finished execution, or every finished attempt. */
  abortCounting: 'things' | 'executions';
  /** docs/ROLLOUT.md §R.3: a thing joining a continuous job's group outside every maintenance window waits for the next one (true) or gets its execution at once. */
  lateTargetsWaitForWindow: boolean;
  /**
   * docs/FLEETS.md §A.2: an IN_PROGRESS execution whose thing stops being a target of a continuous
   * job becomes REMOVED (default), or keeps running and may still report ('keep').
   */
  inProgressOnLeave: 'REMOVED' | 'keep';
  /** docs/PROVISIONING.md: `enabled` of a provisioning template created without it (AWS documents no default). */
  templateEnabledByDefault: boolean;
  /** docs/PROVISIONING.md: after a successful RegisterThing the ownership token works again until it expires, or is spent. */
  ownershipTokenReuse: 'until-expiry' | 'single-use';
}

/** Fault injection, per thing, switchable at run time (`*` = every thing). */
export interface Faults {
  /** Probability 0..1 that a request is answered RequestThrottled / ThrottlingException. */
  throttle?: number;
  /** Probability 0..1 of InternalError / ServiceUnavailableException. */
  internalError?: number;
  /** Delay before a response is sent (front applies it), ms. */
  responseDelayMs?: number;
  /** Probability 0..1 that a response is dropped (front applies it). */
  dropResponse?: number;
  /** After every update of the head, publish a duplicate notify-next naming the current head (rustot#95). */
  duplicateNotifyNext?: boolean;
  /** `$next` reads (describe/start-next) see no newly queued execution for this long, ms (docs/PROTOCOL.md §1.6). */
  eventualConsistencyMs?: number;
}

export interface Publication {
  topic: string;
  /** JSON-serialisable payload. */
  payload: unknown;
  /** Deliver only to this MQTT client id (a response), or to every subscriber when absent (a notification). */
  to?: string;
  /** Which thing this message concerns (fronts apply per-thing faults). */
  thing: string;
  kind: 'response' | 'notification';
  /** Encoding on the wire: JSON (default) or CBOR (the provisioning API's `…/cbor` topics). */
  format?: 'cbor';
}

/** An MQTT connection as the provisioning API sees it. */
export interface Connection {
  clientId: string;
  /** The certificate the connection authenticated with (unknown through an external broker). */
  certificateId?: string;
  thing?: string;
}

/** An error in the AWS restJson1 sense: `name` is the x-amzn-ErrorType. */
export interface ServiceError {
  name: string;
  status: number;
  message: string;
  executionState?: unknown;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ServiceError };

/**
 * CreateJob's members as @aws-sdk/client-iot sends them. Every member is checked against the table
 * in state/job-fields.ts; members named there as unsupported are refused, unknown ones too.
 */
export interface CreateJobInput {
  jobId: string;
  /** Thing and thing-group ARNs (`arn:aws:iot:region:acct:thing/NAME`, `…:thinggroup/NAME`) or bare thing names. */
  targets: string[];
  /** The job document as JSON text. */
  document?: string;
  description?: string;
  namespaceId?: string;
  targetSelection?: 'SNAPSHOT' | 'CONTINUOUS';
  timeoutConfig?: { inProgressTimeoutInMinutes?: number };
  /** Recorded for DescribeJob; the template itself was applied to the request before (docs/TEMPLATES.md). */
  jobTemplateArn?: string;
  documentParameters?: Record<string, string>;
  jobExecutionsRetryConfig?: RetryConfig;
  presignedUrlConfig?: { roleArn?: string; expiresInSec?: number };
  tags?: { Key: string; Value?: string }[];
  /** Anything else the caller sent: checked (and refused when unknown or unsupported). */
  [member: string]: unknown;
}

/** UpdateJob's members. */
export interface UpdateJobInput {
  description?: string;
  timeoutConfig?: { inProgressTimeoutInMinutes?: number };
  jobExecutionsRetryConfig?: RetryConfig;
  presignedUrlConfig?: { roleArn?: string; expiresInSec?: number };
  namespaceId?: string;
  [member: string]: unknown;
}

/** A device-plane request the service refused, for the log (docs/PROTOCOL.md §3.1). */
export interface Refusal {
  thing: string;
  /** MQTT topic or HTTPS operation. */
  request: string;
  clientId?: string;
  clientToken?: unknown;
  code: string;
  message: string;
}

export interface ServiceInit {
  clock: Clock;
  /** Told of every device-plane refusal, so the user rehearsing a device can see why. */
  onRefusal?: (r: Refusal) => void;
  options?: Partial<SimOptions>;
  publish: (p: Publication) => void;
  /** Random source for fault injection (seeded in tests). */
  random?: () => number;
  region?: string;
  accountId?: string;
}
