/**
 * Presigned URLs against the S3 object the payload signed (docs/SIGNING.md §11). AWS replaces a
 * `${aws:iot:s3-presigned-url…}` placeholder with a new URL on every delivery, so the URL itself
 * cannot be signed; what can be checked is that it names the signed bucket and key and nothing
 * else. The artifact's SHA-256 stays the security boundary; this is defence in depth.
 */
import type { Artifact, S3Locator } from './payload';
import type { Reason } from './reasons';
import { quote } from './shape';

export type UrlResult = { ok: true } | { ok: false; reason: Extract<Reason, 'url-mismatch' | 'placeholder-unresolved' | 'unsigned-field'>; detail: string };

const PLACEHOLDER = '${aws:iot:';
/** Query parameters that would fetch something other than the signed object. */
const FORBIDDEN_QUERY = ['versionId', 'partNumber', 'uploadId', 'torrent', 'acl', 'tagging', 'attributes'];

/** Every `urls` entry must belong to an S3 artifact, and every S3 artifact must have a valid one. */
export function checkUrls(artifacts: Readonly<Record<string, Artifact>> | undefined, urls: Readonly<Record<string, string>> | undefined): UrlResult {
  const arts = artifacts ?? {};
  for (const name of Object.keys(urls ?? {})) {
    if (!Object.hasOwn(arts, name) || !arts[name]!.s3) return { ok: false, reason: 'unsigned-field', detail: `urls.${quote(name)} is not named by a signed S3 artifact` };
  }
  for (const [name, art] of Object.entries(arts)) {
    if (!art.s3) continue;
    const url = urls && Object.hasOwn(urls, name) ? urls[name] : undefined;
    if (url === undefined) return { ok: false, reason: 'url-mismatch', detail: `artifact ${quote(name)} has no URL in "urls"` };
    const r = checkPresignedUrl(url, art.s3);
    if (!r.ok) return { ...r, detail: `artifact ${quote(name)}: ${r.detail}` };
  }
  return { ok: true };
}

/** One delivered URL against its signed locator. */
export function checkPresignedUrl(url: string, loc: S3Locator): UrlResult {
  if (url.includes(PLACEHOLDER)) return { ok: false, reason: 'placeholder-unresolved', detail: 'the presigned-URL placeholder was not substituted (job created without presignedUrlConfig?)' };
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return bad('not a URL');
  }
  if (u.protocol !== 'https:') return bad('not https');
  if (u.username || u.password) return bad('carries credentials');
  if (u.port !== '' && loc.endpoint === undefined) return bad('names a port');
  if (u.hash !== '') return bad('carries a fragment');
  const target = s3Target(u, loc);
  if (!target) return bad(`host ${quote(u.host)} is not ${loc.endpoint ?? `S3${loc.region ? ` in ${loc.region}` : ''}`} for bucket ${quote(loc.bucket)}`);
  if (target !== loc.key) return bad(`names key ${quote(target)}, signed ${quote(loc.key)}`);
  return checkQuery(u.searchParams, loc);
}

function bad(detail: string): UrlResult {
  return { ok: false, reason: 'url-mismatch', detail };
}

/**
 * The decoded object key the URL addresses, if its host is S3 for the signed bucket: path style
 * (`s3.REGION.amazonaws.com/BUCKET/KEY`) or virtual-hosted (`BUCKET.s3.REGION.amazonaws.com/KEY`).
 * Which of the two AWS IoT generates is not documented, so both are accepted; the global
 * `s3.amazonaws.com` forms only when the locator names no region (the v1 placeholder). A signed
 * `endpoint` replaces AWS's hosts: exactly that origin, path style.
 */
function s3Target(u: URL, loc: S3Locator): string | undefined {
  if (loc.endpoint !== undefined) {
    if (u.origin !== loc.endpoint || !u.pathname.startsWith(`/${loc.bucket}/`)) return undefined;
    return decodeKey(u.pathname.slice(loc.bucket.length + 2));
  }
  const hosts = loc.region ? [`s3.${loc.region}.amazonaws.com`] : ['s3.amazonaws.com'];
  const host = u.hostname.toLowerCase();
  let rawKey: string | undefined;
  for (const h of hosts) {
    if (host === h && u.pathname.startsWith(`/${loc.bucket}/`)) rawKey = u.pathname.slice(loc.bucket.length + 2);
    if (host === `${loc.bucket}.${h}`) rawKey = u.pathname.slice(1);
  }
  return rawKey === undefined ? undefined : decodeKey(rawKey);
}

function decodeKey(rawKey: string): string | undefined {
  try {
    return decodeURIComponent(rawKey);
  } catch {
    return undefined;
  }
}

/** A SigV4 (or, for the v1 placeholder, SigV2) presigned query, and nothing that picks another object. */
function checkQuery(q: URLSearchParams, loc: S3Locator): UrlResult {
  const v4 = q.has('X-Amz-Algorithm') && q.has('X-Amz-Credential') && q.has('X-Amz-Signature');
  const v2 = q.has('AWSAccessKeyId') && q.has('Signature') && q.has('Expires');
  if (!v4 && !v2) return bad('is not a presigned S3 URL (no SigV4/SigV2 query)');
  for (const p of FORBIDDEN_QUERY) {
    if (!q.has(p)) continue;
    if (p === 'versionId' && loc.versionId !== undefined && q.getAll(p).every((v) => v === loc.versionId)) continue;
    return bad(`query parameter ${quote(p)} selects something other than the signed object`);
  }
  if (loc.versionId !== undefined && q.get('versionId') !== loc.versionId) return bad('does not name the signed versionId');
  return { ok: true };
}
