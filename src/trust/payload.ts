/** The signed payload of a job envelope (docs/SIGNING.md): its type and its validation. */
import { Shape } from './shape';
import type { JsonObject } from './shape';
import { isJsonObject } from './strict-json';

export interface S3Locator {
  region?: string;
  bucket: string;
  key: string;
  versionId?: string;
  /**
   * A non-AWS S3 origin (`https://host[:port]`, path-style requests): an S3-compatible store or the
   * local Jobs service's object front. Signed, so a delivered URL can only point where the operator said.
   */
  endpoint?: string;
}

export interface Artifact {
  /** Delivered through a presigned URL in the envelope's `urls` under the same name. */
  s3?: S3Locator;
  /** Or fetched from this signed https URL. */
  url?: string;
  sha256: string;
  size: number;
}

export interface JobPayload {
  v: 1;
  jti: string;
  iat: number;
  nbf?: number;
  exp: number;
  job: { id: string; ns: string; continuous?: boolean };
  aud: { things?: string[]; labels?: string[] };
  op: string;
  doc: JsonObject;
  seq?: { stream: string; n: number };
  maxAttempts?: number;
  artifacts?: Record<string, Artifact>;
}

const FIELDS = ['v', 'jti', 'iat', 'exp', 'job', 'aud', 'op', 'doc'] as const;
const OPTIONAL = ['nbf', 'seq', 'maxAttempts', 'artifacts'] as const;
export const ARTIFACT_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const JTI = /^[A-Za-z0-9_-]{16,128}$/;
const LABEL = /^[^\p{C}]{1,256}$/u;
const MAX_TIME = 253402300799; // 9999-12-31T23:59:59Z

/** Returns every problem with a payload (empty when it is valid). */
export function payloadProblems(v: unknown): string[] {
  const s = new Shape();
  const p = s.object(v, 'payload', FIELDS, OPTIONAL);
  if (!p) return s.problems;
  if (p.v !== 1) s.add('payload.v: expected 1');
  s.str(p.jti, 'payload.jti', JTI);
  const iat = s.int(p.iat, 'payload.iat', 0, MAX_TIME);
  const exp = s.int(p.exp, 'payload.exp', 0, MAX_TIME);
  const nbf = p.nbf === undefined ? undefined : s.int(p.nbf, 'payload.nbf', 0, MAX_TIME);
  if (nbf !== undefined && exp !== undefined && nbf >= exp) s.add('payload.nbf: must be before exp');
  if (iat !== undefined && exp !== undefined && exp <= iat) s.add('payload.exp: must be after iat');
  const job = s.object(p.job, 'payload.job', ['id', 'ns'], ['continuous']);
  s.str(job?.id, 'payload.job.id', /^[a-zA-Z0-9_-]{1,64}$/);
  s.str(job?.ns, 'payload.job.ns', /^[a-zA-Z0-9_-]{0,64}$/);
  if (job?.continuous !== undefined) s.bool(job.continuous, 'payload.job.continuous');
  const aud = s.object(p.aud, 'payload.aud', [], ['things', 'labels']);
  const things = aud?.things === undefined ? [] : s.names(aud.things, 'payload.aud.things', /^[a-zA-Z0-9:_-]{1,128}$/);
  const labels = aud?.labels === undefined ? [] : s.names(aud.labels, 'payload.aud.labels', LABEL);
  if (aud && things.length + labels.length === 0) s.add('payload.aud: name at least one thing or label');
  s.str(p.op, 'payload.op', /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);
  if (!isJsonObject(p.doc)) s.add('payload.doc: expected an object (the handler document)');
  if (p.seq !== undefined) {
    const seq = s.object(p.seq, 'payload.seq', ['stream', 'n']);
    s.str(seq?.stream, 'payload.seq.stream', /^[^\p{C}]{1,128}$/u);
    s.int(seq?.n, 'payload.seq.n', 0);
  }
  if (p.maxAttempts !== undefined) s.int(p.maxAttempts, 'payload.maxAttempts', 1, 1000);
  if (p.artifacts !== undefined) artifactProblems(s, p.artifacts);
  return s.problems;
}

function artifactProblems(s: Shape, v: unknown): void {
  const arts = s.record(v, 'payload.artifacts');
  for (const [name, av] of Object.entries(arts ?? {})) {
    const at = `payload.artifacts.${name}`;
    if (!ARTIFACT_NAME.test(name)) s.add(`${at}: artifact names match ${ARTIFACT_NAME.source}`);
    const a = s.object(av, at, ['sha256', 'size'], ['s3', 'url']);
    if (!a) continue;
    s.str(a.sha256, `${at}.sha256`, /^[0-9a-f]{64}$/);
    s.int(a.size, `${at}.size`, 0);
    if ((a.s3 === undefined) === (a.url === undefined)) s.add(`${at}: exactly one of "s3" and "url"`);
    if (a.url !== undefined) {
      const url = s.str(a.url, `${at}.url`, /^https:\/\/\S+$/, 2048);
      if (url !== undefined && !URL.canParse(url)) s.add(`${at}.url: not a URL`);
    }
    if (a.s3 !== undefined) {
      const l = s.object(a.s3, `${at}.s3`, ['bucket', 'key'], ['region', 'versionId', 'endpoint']);
      s.str(l?.bucket, `${at}.s3.bucket`, /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
      s.str(l?.key, `${at}.s3.key`, /^[^\p{C}]{1,1024}$/u);
      if (l?.region !== undefined) s.str(l.region, `${at}.s3.region`, /^[a-z]{2}(-[a-z]+)+-\d$/);
      if (l?.versionId !== undefined) s.str(l.versionId, `${at}.s3.versionId`, /^[^\p{C}\s]{1,1024}$/u);
      if (l?.endpoint !== undefined) endpointProblems(s, l.endpoint, `${at}.s3.endpoint`);
    }
  }
}

/** An origin and nothing else: `https://host[:port]`, no credentials, path, query or fragment. */
function endpointProblems(s: Shape, v: unknown, at: string): void {
  const e = s.str(v, at, /^https:\/\/[^\s/?#@]+$/, 300);
  if (e === undefined) return;
  if (!URL.canParse(e) || new URL(e).origin !== e) s.add(`${at}: expected an origin such as https://objects.example:9000`);
}

/** The number of executions of the job this envelope may run (default 1). */
export function maxAttemptsOf(p: Pick<JobPayload, 'maxAttempts'>): number {
  return p.maxAttempts ?? 1;
}
