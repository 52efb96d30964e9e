/**
 * The pure verifier (docs/SIGNING.md): an execution's job document against the trust store, the
 * device's identity and a given effective time. Order: envelope, signatures, payload, policy,
 * job binding, audience, validity window, URLs, trust update. Nothing here touches disk or clock;
 * the stateful checks (rules.ts) follow in the agent.
 */
import { artifactRefProblem } from './artifact-refs';
import { NonCanonicalError, parseCanonical } from './canonical';
import { parseEnvelope } from './envelope';
import { payloadProblems } from './payload';
import type { JobPayload } from './payload';
import { checkPolicy } from './policy';
import { TrustError } from './reasons';
import type { Reason } from './reasons';
import { NBF_SKEW_SECONDS } from './rules';
import { quote } from './shape';
import { checkSignatures, noSignatureReason } from './signatures';
import { StrictJsonError } from './strict-json';
import { validateTrustStore, verifyTrustUpdate } from './store';
import type { TrustStore } from './store';
import { checkUrls } from './urls';
import { b64urlDecode } from './b64url';

export interface VerifyInput {
  /** The execution's `jobDocument` as delivered. */
  document: unknown;
  trust: TrustStore;
  /** The execution it came with; `namespace` is "" for the default namespace. */
  execution: { jobId: string; namespace: string };
  /** The device's own identity: its thing name and `trust.labels`. */
  identity: { thingName: string; labels: readonly string[] };
  /** Effective time in seconds since the epoch (rules.ts `effectiveTime`). */
  now: number;
}

export interface Accepted {
  ok: true;
  payload: JobPayload;
  kids: string[];
  trustVersion: number;
  /** Set when `op` is `trust-update`: the new store, verified to follow the current one. */
  trustUpdate?: TrustStore;
  /** Signatures that did not count (unknown or revoked kids beside enough good ones). */
  ignored: string[];
}

export interface Rejected {
  ok: false;
  reason: Reason;
  detail: string;
  kids: string[];
  trustVersion: number;
  /** Present once the signatures and the op's policy held: the envelope is authentic, so its jti may be recorded. */
  payload?: JobPayload;
}

export type Verdict = Accepted | Rejected;

export function verifyJob(input: VerifyInput): Verdict {
  const { trust } = input;
  const reject = (reason: Reason, detail: string, kids: string[] = [], payload?: JobPayload): Rejected => ({
    ok: false,
    reason,
    detail,
    kids,
    trustVersion: trust.version,
    ...(payload ? { payload } : {}),
  });
  try {
    return verifySteps(input, reject);
  } catch (e) {
    if (e instanceof TrustError) return reject(e.reason, e.message);
    throw e;
  }
}

type RejectFn = (reason: Reason, detail: string, kids?: string[], payload?: JobPayload) => Rejected;

function verifySteps(input: VerifyInput, reject: RejectFn): Verdict {
  const { trust } = input;
  const env = parseEnvelope(input.document);
  const sigs = checkSignatures(env, trust);
  if (sigs.kids.length === 0) {
    const r = noSignatureReason(sigs);
    return reject(r.reason, r.detail);
  }
  const kids = sigs.kids;
  const payload = decodePayload(env.jws.payload);
  const policy = trust.policies.get(payload.op);
  const pr = checkPolicy(payload.op, policy, kids, trust.rolesOf);
  if (!pr.ok) return reject(pr.reason, pr.detail, kids);
  // From here the envelope is authentic: verdicts carry the payload so its jti can be recorded.
  const fail = (reason: Reason, detail: string): Rejected => reject(reason, detail, kids, payload);
  if (payload.job.continuous && !policy!.continuous) return fail('role-not-permitted', `op ${quote(payload.op)} may not run as a continuous job`);
  if (policy!.requireSeq && !payload.seq) return fail('role-not-permitted', `op ${quote(payload.op)} requires "seq"`);
  const binding = checkBinding(payload, input);
  if (binding) return fail(binding.reason, binding.detail);
  const time = checkWindow(payload, input.now, policy!.maxValiditySeconds);
  if (time) return fail(time.reason, time.detail);
  const urls = checkUrls(payload.artifacts, env.urls);
  if (!urls.ok) return fail(urls.reason, urls.detail);
  const refs = artifactRefProblem(payload);
  if (refs) return fail('malformed-envelope', refs);
  const accepted: Accepted = { ok: true, payload, kids, trustVersion: trust.version, ignored: sigs.refused.map((r) => r.detail) };
  if (payload.op === 'trust-update') {
    try {
      const next = validateTrustStore(payload.doc);
      verifyTrustUpdate(trust, next);
      accepted.trustUpdate = next;
    } catch (e) {
      if (e instanceof TrustError) return fail('trust-store-error', e.message);
      throw e;
    }
  }
  return accepted;
}

/** base64url → strict, canonical JSON → a valid payload; anything else is `malformed-envelope`. */
export function decodePayload(b64: string): JobPayload {
  const bytes = b64urlDecode(b64, 'payload');
  let value: unknown;
  try {
    value = parseCanonical(bytes, { maxDepth: 32, maxLength: 64 * 1024 });
  } catch (e) {
    if (e instanceof StrictJsonError || e instanceof NonCanonicalError) throw new TrustError('malformed-envelope', `payload: ${e.message}`);
    throw e;
  }
  const problems = payloadProblems(value);
  if (problems.length) throw new TrustError('malformed-envelope', `payload: ${problems.slice(0, 5).join('; ')}`);
  return value as JobPayload;
}

type Problem = { reason: Reason; detail: string } | undefined;

function checkBinding(p: JobPayload, input: VerifyInput): Problem {
  if (p.job.id !== input.execution.jobId) return { reason: 'job-id-mismatch', detail: `signed for job ${quote(p.job.id)}, delivered as ${quote(input.execution.jobId)}` };
  if (p.job.ns !== input.execution.namespace) return { reason: 'namespace-mismatch', detail: `signed for namespace ${quote(p.job.ns)}, delivered in ${quote(input.execution.namespace)}` };
  const things = p.aud.things ?? [];
  const labels = p.aud.labels ?? [];
  if (things.length && !things.includes(input.identity.thingName)) return { reason: 'audience-mismatch', detail: `this thing is not among the ${things.length} signed thing name(s)` };
  if (labels.length && !labels.some((l) => input.identity.labels.includes(l))) return { reason: 'audience-mismatch', detail: `this device holds none of the signed labels` };
  return undefined;
}

/** The validity window at `now`: `nbf` (or `iat`) tolerates 300 s of skew, `exp` none. */
export function checkWindow(p: Pick<JobPayload, 'iat' | 'nbf' | 'exp'>, now: number, maxValiditySeconds?: number): Problem {
  if (maxValiditySeconds !== undefined && p.exp - p.iat > maxValiditySeconds) {
    return { reason: 'validity-too-long', detail: `valid for ${p.exp - p.iat} s; the policy allows ${maxValiditySeconds} s` };
  }
  const start = Math.max(p.iat, p.nbf ?? p.iat);
  if (now + NBF_SKEW_SECONDS < start) return { reason: 'not-yet-valid', detail: `valid from ${iso(start)}; effective time is ${iso(now)}` };
  if (now >= p.exp) return { reason: 'expired', detail: `expired at ${iso(p.exp)}; effective time is ${iso(now)}` };
  return undefined;
}

function iso(s: number): string {
  return new Date(s * 1000).toISOString().replace('.000Z', 'Z');
}
