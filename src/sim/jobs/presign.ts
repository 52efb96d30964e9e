/**
 * Presigned-URL placeholders in job documents (docs/PROTOCOL.md §2.6, §10.22): both
 * `${aws:iot:s3-presigned-url:URL}` and the current guide's `${aws:iot:s3-presigned-url-v2:URL}`
 * become a URL shaped like the one AWS delivers — by default virtual-hosted, with the SigV4 query of
 * a role's temporary credentials — and different on every delivery, so an agent that takes document
 * text for identity fails here as it would in production.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { SimOptions } from '../types';

const PLACEHOLDER = /\$\{aws:iot:s3-presigned-url(?:-v2)?:([^}"\\]+)\}/g;

export function hasPlaceholders(text: string): boolean {
  PLACEHOLDER.lastIndex = 0;
  return PLACEHOLDER.test(text);
}

export interface PresignCtx {
  nowMs: number;
  /** Counts deliveries, so two deliveries in one millisecond still differ. */
  delivery: number;
  expiresSec?: number;
  style: SimOptions['presignedUrlStyle'];
  /** The sim's own object front: S3 URLs point there (path style) and carry a signature it checks. */
  objects?: ObjectsOrigin;
}

export interface ObjectsOrigin {
  /** `https://127.0.0.1:PORT` */
  origin: string;
  secret: Buffer;
}

interface S3Target {
  bucket: string;
  /** undefined for the region-less `s3.amazonaws.com` */
  region: string | undefined;
  key: string;
}

/** Path-style `https://s3[.-]REGION.amazonaws.com/BUCKET/KEY` or `https://s3.amazonaws.com/BUCKET/KEY`. */
const PATH_STYLE = /^https:\/\/s3(?:[.-]([a-z0-9-]+))?\.amazonaws\.com\/([^/?#]+)\/([^?#]+)$/;
/** Virtual-hosted `https://BUCKET.s3[.-]REGION.amazonaws.com/KEY`. */
const VIRTUAL_HOSTED = /^https:\/\/([a-z0-9][a-z0-9.-]*)\.s3(?:[.-]([a-z0-9-]+))?\.amazonaws\.com\/([^?#]+)$/;
/** A bucket that can be a host label under a wildcard certificate (no dots): S3's own rule for virtual hosting. */
const DNS_BUCKET = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

function s3Target(url: string): S3Target | undefined {
  const p = PATH_STYLE.exec(url);
  if (p) return { region: p[1], bucket: p[2] ?? '', key: p[3] ?? '' };
  const v = VIRTUAL_HOSTED.exec(url);
  if (v) return { bucket: v[1] ?? '', region: v[2], key: v[3] ?? '' };
  return undefined;
}

/** The object URL as delivered: virtual-hosted when asked for and the bucket allows it, else as written. */
function objectUrl(url: string, t: S3Target | undefined, style: PresignCtx['style']): string {
  if (style === 'as-written' || t === undefined || !DNS_BUCKET.test(t.bucket)) return url;
  return `https://${t.bucket}.s3${t.region === undefined ? '' : `.${t.region}`}.amazonaws.com/${t.key}`;
}

function isoBasic(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** What the object front's signature covers: the object and the validity window. */
function objectSignature(secret: Buffer, path: string, date: string, expires: string): string {
  return createHmac('sha256', secret).update(`${path}\n${date}\n${expires}`).digest('hex');
}

/** Why a request to the object front is not a valid presigned GET at `nowMs`, or undefined. */
export function presignedProblem(secret: Buffer, rawPath: string, q: URLSearchParams, nowMs: number): string | undefined {
  const date = q.get('X-Amz-Date') ?? '';
  const expires = q.get('X-Amz-Expires') ?? '';
  const sig = Buffer.from(q.get('X-Amz-Signature') ?? '', 'utf8');
  const want = Buffer.from(objectSignature(secret, rawPath, date, expires), 'utf8');
  if (sig.length !== want.length || !timingSafeEqual(sig, want)) return 'The request signature we calculated does not match the signature you provided.';
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date);
  const start = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) : NaN;
  if (!(nowMs <= start + Number(expires) * 1000)) return 'Request has expired';
  return undefined;
}

function presignOne(url: string, c: PresignCtx): string {
  const t = s3Target(url);
  const self = c.objects !== undefined && t !== undefined;
  const base = self ? `${c.objects!.origin}/${t.bucket}/${t.key}` : objectUrl(url, t, c.style);
  const h = (what: string): string => createHash('sha256').update(`${what}|${url}|${c.nowMs}|${c.delivery}`).digest('hex');
  const date = isoBasic(c.nowMs);
  // The service signs with a role's temporary credentials: an ASIA key id and a session token.
  const keyId = `ASIA${h('key').slice(0, 16).toUpperCase()}`;
  const scope = `${date.slice(0, 8)}%2F${t?.region ?? 'us-east-1'}%2Fs3%2Faws4_request`;
  const name = (t?.key ?? url).split('/').pop() ?? 'object';
  const expires = String(c.expiresSec ?? 3600);
  const signature = self ? objectSignature(c.objects!.secret, `/${t.bucket}/${t.key}`, date, expires) : h('sig');
  // Sorted as SigV4 canonicalises them; only URL-safe characters, so the JSON around stays valid.
  const query = [
    'X-Amz-Algorithm=AWS4-HMAC-SHA256',
    'X-Amz-Content-Sha256=UNSIGNED-PAYLOAD',
    `X-Amz-Credential=${keyId}%2F${scope}`,
    `X-Amz-Date=${date}`,
    `X-Amz-Expires=${expires}`,
    `X-Amz-Security-Token=IQoJb3JpZ2luX2Vj${h('token')}`,
    `X-Amz-Signature=${signature}`,
    'X-Amz-SignedHeaders=host',
    `response-content-disposition=attachment%3B%20filename%3D${encodeURIComponent(name)}`,
  ].join('&');
  return `${base}${base.includes('?') ? '&' : '?'}${query}`;
}

/** Replace every placeholder of either form in a document's text. */
export function presign(text: string, c: PresignCtx): string {
  return text.replace(PLACEHOLDER, (_m, url: string) => presignOne(url, c));
}
