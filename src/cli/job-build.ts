/** Building a job payload from `job sign`'s flags (docs/ARCHITECTURE.md §6): times, audience, seq, artifacts. */
import { randomBytes } from 'node:crypto';
import { DEVICE_CLIENT_HANDLER, chooseHandler } from '../handlers/document';
import type { JobHandler } from '../handlers/api';
import { digestFile } from '../trust';
import type { Artifact, JobPayload } from '../trust';
import { UsageError } from './args';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

export function durationSeconds(text: string, flag: string): number {
  const m = /^([1-9][0-9]*)([smhd])$/.exec(text);
  if (!m) throw new UsageError(`--${flag}: expected N followed by s, m, h or d (e.g. 24h), got ${JSON.stringify(text)}`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

export function isoSeconds(text: string, flag: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) throw new UsageError(`--${flag}: expected an ISO-8601 time such as 2026-05-01T12:00:00Z, got ${JSON.stringify(text)}`);
  return Math.floor(ms / 1000);
}

export function parseSeq(text: string): { stream: string; n: number } {
  const i = text.lastIndexOf(':');
  const stream = text.slice(0, i);
  const n = Number(text.slice(i + 1));
  if (i <= 0 || !Number.isSafeInteger(n) || n < 0) throw new UsageError(`--seq: expected STREAM:N with N a whole number, got ${JSON.stringify(text)}`);
  return { stream, n };
}

/** The op a handler document selects on a device: the Device Client forms, or its `operation`. */
export function defaultOp(doc: Record<string, unknown>): string {
  const only = new Map([[DEVICE_CLIENT_HANDLER, {} as JobHandler<never>]]);
  const choice = chooseHandler(doc, only);
  if ('handler' in choice) return choice.handler;
  if (typeof doc.operation === 'string' && doc.operation) return doc.operation;
  throw new UsageError('the document selects no handler ("steps" or "operation"); name the op with --op');
}

/**
 * `--artifact NAME=FILE@URL`: FILE's SHA-256 and size are signed; an S3 URL
 * (https://s3.REGION.amazonaws.com/BUCKET/KEY, or https://s3.amazonaws.com/BUCKET/KEY) becomes
 * a presigned-URL placeholder in `urls`, any other https URL is signed as it is.
 */
export async function buildArtifact(spec: string): Promise<{ name: string; artifact: Artifact; placeholder?: string }> {
  const m = /^([A-Za-z0-9_-]{1,64})=(.+)@(https:\/\/\S+)$/.exec(spec);
  if (!m) throw new UsageError(`--artifact: expected NAME=FILE@https://…, got ${JSON.stringify(spec)}`);
  const [, name, file, url] = m as unknown as [string, string, string, string];
  const digest = await digestFile(file);
  const u = new URL(url);
  const s3 = /^s3(?:\.([a-z0-9-]+))?\.amazonaws\.com$/.exec(u.hostname);
  if (!s3) return { name, artifact: { url, ...digest } };
  const [, bucket, ...keyParts] = u.pathname.split('/');
  if (!bucket || keyParts.length === 0) throw new UsageError(`--artifact ${name}: the S3 URL must be https://s3.REGION.amazonaws.com/BUCKET/KEY`);
  const key = decodeURIComponent(keyParts.join('/'));
  const region = s3[1];
  const artifact: Artifact = { s3: { ...(region ? { region } : {}), bucket, key }, ...digest };
  const kind = region ? 's3-presigned-url-v2' : 's3-presigned-url';
  return { name, artifact, placeholder: `\${aws:iot:${kind}:${url}}` };
}

export interface PayloadFlags {
  doc: Record<string, unknown>;
  jobId: string;
  namespace: string;
  things: string[];
  labels: string[];
  op?: string;
  expiresIn: number;
  notBefore?: number;
  seq?: { stream: string; n: number };
  maxAttempts?: number;
  continuous: boolean;
  artifacts: Record<string, Artifact>;
  now: number;
}

export function buildPayload(f: PayloadFlags): JobPayload {
  const p: JobPayload = {
    v: 1,
    jti: randomBytes(16).toString('base64url'),
    iat: f.now,
    exp: f.now + f.expiresIn,
    job: { id: f.jobId, ns: f.namespace, ...(f.continuous ? { continuous: true } : {}) },
    aud: { ...(f.things.length ? { things: f.things } : {}), ...(f.labels.length ? { labels: f.labels } : {}) },
    op: f.op ?? defaultOp(f.doc),
    doc: f.doc as JobPayload['doc'],
  };
  if (f.notBefore !== undefined) p.nbf = f.notBefore;
  if (f.seq) p.seq = f.seq;
  if (f.maxAttempts !== undefined) p.maxAttempts = f.maxAttempts;
  if (Object.keys(f.artifacts).length) p.artifacts = f.artifacts;
  return p;
}
