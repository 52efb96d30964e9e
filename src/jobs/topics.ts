/**
 * Topic grammar of the AWS IoT Jobs reserved topics (docs/PROTOCOL.md §1.1, §1.7). Pure functions only.
 * A namespace `ns` selects the namespaced forms used by AWS's own Greengrass clients.
 */
import { LIMITS } from './types';

export type Operation = 'get' | 'start-next' | 'describe' | 'update';
export type ResponseKind = 'accepted' | 'rejected';

export function jobsPrefix(thing: string): string {
  return `$aws/things/${thing}/jobs`;
}

/** `{job}/namespace-{ns}` or `{job}`; `job` may be `$next` for describe. */
function jobSegment(job: string, ns?: string): string {
  return ns ? `${job}/namespace-${ns}` : job;
}

export const topics = {
  getPending: (thing: string, ns?: string) =>
    ns ? `${jobsPrefix(thing)}/namespace-${ns}/get` : `${jobsPrefix(thing)}/get`,
  startNext: (thing: string, ns?: string) =>
    ns ? `${jobsPrefix(thing)}/start-next-namespace-${ns}` : `${jobsPrefix(thing)}/start-next`,
  describe: (thing: string, job: string, ns?: string) => `${jobsPrefix(thing)}/${jobSegment(job, ns)}/get`,
  update: (thing: string, job: string, ns?: string) => `${jobsPrefix(thing)}/${jobSegment(job, ns)}/update`,
  notify: (thing: string, ns?: string) =>
    ns ? `${jobsPrefix(thing)}/notify-namespace-${ns}` : `${jobsPrefix(thing)}/notify`,
  /** The API reference's form, `…/jobs/{jobId}/notify-namespace-{ns}/` (docs/PROTOCOL.md §1.7). */
  notifyNamespaceDocForm: (thing: string, job: string, ns: string) =>
    `${jobsPrefix(thing)}/${job}/notify-namespace-${ns}/`,
  notifyNext: (thing: string, ns?: string) =>
    ns ? `${jobsPrefix(thing)}/notify-next-namespace-${ns}` : `${jobsPrefix(thing)}/notify-next`,
  response: (requestTopic: string, kind: ResponseKind) => `${requestTopic}/${kind}`,
};

export interface ParsedRequest {
  thing: string;
  op: Operation;
  /** For describe/update: the job id (`$next` allowed for describe only at the caller's discretion). */
  jobId?: string;
  namespace?: string;
}

export type ParseResult =
  | { ok: true; request: ParsedRequest }
  /** Under the jobs prefix but maps to no operation (→ InvalidTopic). */
  | { ok: false; thing: string; reason: string }
  /** Not a jobs request topic at all. */
  | null;

const NS = '[a-zA-Z0-9_-]+';
const JOB = '(?:\\$next|[a-zA-Z0-9_-]{1,64})';

/**
 * Parse a topic a device published to. Returns null when the topic is not under a jobs prefix,
 * `{ok:false}` when it is but names no operation, and the operation otherwise. Thing-level `get`
 * and `start-next` win over jobs literally named `get` / `start-next` (docs/PROTOCOL.md §1.1).
 */
export function parseRequestTopic(topic: string): ParseResult {
  const m = /^\$aws\/things\/([^/]+)\/jobs\/(.*)$/.exec(topic);
  if (!m) return null;
  const thing = m[1] as string;
  const rest = m[2] as string;
  if (!LIMITS.thingName.test(thing)) return { ok: false, thing, reason: `invalid thing name in topic: ${topic}` };
  if (rest === 'get') return { ok: true, request: { thing, op: 'get' } };
  if (rest === 'start-next') return { ok: true, request: { thing, op: 'start-next' } };
  let r = new RegExp(`^namespace-(${NS})/get$`).exec(rest);
  if (r) return { ok: true, request: { thing, op: 'get', namespace: r[1] as string } };
  r = new RegExp(`^start-next-namespace-(${NS})$`).exec(rest);
  if (r) return { ok: true, request: { thing, op: 'start-next', namespace: r[1] as string } };
  r = new RegExp(`^(${JOB})(?:/namespace-(${NS}))?/(get|update)$`).exec(rest);
  if (r) {
    const request: ParsedRequest = { thing, op: r[3] === 'get' ? 'describe' : 'update', jobId: r[1] as string };
    if (r[2] !== undefined) request.namespace = r[2];
    return { ok: true, request };
  }
  return { ok: false, thing, reason: `no jobs operation for topic ${topic}` };
}

/** True for topics a device may not publish to: responses and notifications (docs/PROTOCOL.md §8 case 10). */
export function isServiceOnlyTopic(topic: string): boolean {
  return /^\$aws\/things\/[^/]+\/jobs\/.*(\/accepted|\/rejected|notify[^/]*\/?)$/.test(topic);
}

export function hasWildcard(topic: string): boolean {
  return topic.includes('+') || topic.includes('#');
}

export type DeviceTopic =
  | { kind: 'response'; result: ResponseKind; request: ParsedRequest }
  | { kind: 'notify'; namespace?: string }
  | { kind: 'notify-next'; namespace?: string };

/**
 * Classify a topic a device receives: a response to one of its requests, or a notification.
 * Accepts both namespaced notify forms (docs/PROTOCOL.md §1.7 and the API reference's `{job}/notify-namespace-{ns}/`).
 */
export function parseDeviceTopic(topic: string): DeviceTopic | null {
  const resp = /^(.*)\/(accepted|rejected)$/.exec(topic);
  if (resp) {
    const req = parseRequestTopic(resp[1] as string);
    return req?.ok ? { kind: 'response', result: resp[2] as ResponseKind, request: req.request } : null;
  }
  const m = /^\$aws\/things\/[^/]+\/jobs\/(.*)$/.exec(topic);
  if (!m) return null;
  const rest = m[1] as string;
  if (rest === 'notify') return { kind: 'notify' };
  if (rest === 'notify-next') return { kind: 'notify-next' };
  let r = new RegExp(`^notify-namespace-(${NS})$`).exec(rest) ?? new RegExp(`^${JOB}/notify-namespace-(${NS})/?$`).exec(rest);
  if (r) return { kind: 'notify', namespace: r[1] as string };
  r = new RegExp(`^notify-next-namespace-(${NS})$`).exec(rest);
  if (r) return { kind: 'notify-next', namespace: r[1] as string };
  return null;
}

/**
 * Everything a device subscribes to before its first request (docs/ARCHITECTURE.md §3): response wildcards per
 * operation, notify, notify-next, and per namespace its notify forms and response topics.
 */
export function deviceSubscriptions(thing: string, namespaces: readonly string[] = [], withDefault = true): string[] {
  const p = jobsPrefix(thing);
  const out: string[] = [];
  if (withDefault) {
    out.push(`${p}/get/+`, `${p}/start-next/+`, `${p}/+/get/+`, `${p}/+/update/+`, `${p}/notify`, `${p}/notify-next`);
  }
  for (const ns of namespaces) {
    // A namespace's GetPending answers on `…/jobs/namespace-{ns}/get/+`, which the default `…/+/get/+`
    // already covers; without the default namespace it needs its own filter (an overlapping one
    // would deliver every answer twice).
    if (!withDefault) out.push(`${p}/namespace-${ns}/get/+`);
    out.push(
      `${p}/+/namespace-${ns}/get/+`,
      `${p}/+/namespace-${ns}/update/+`,
      `${p}/notify-namespace-${ns}`,
      `${p}/+/notify-namespace-${ns}/`,
      `${p}/notify-next-namespace-${ns}`,
    );
  }
  return out;
}

/** AWS IoT Core allows 50 subscriptions per connection and 8 filters per SUBSCRIBE (docs/PROTOCOL.md §7). */
export const SUBSCRIPTION_LIMITS = { perConnection: 50, perSubscribe: 8 } as const;
