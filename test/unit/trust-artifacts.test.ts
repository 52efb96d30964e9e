/**
 * Artifacts of signed job documents, the pure parts: a signed S3 `endpoint` (an S3-compatible store
 * or the local service's object front) against delivered URLs, `${artifact:NAME}` references and
 * their substitution, and the sim's self-served presigned URLs with their signature check.
 */
import { artifactRefProblem, artifactRefs, checkPresignedUrl, payloadProblems, substituteArtifacts, verifyJob } from '../../src/trust';
import type { JobPayload, S3Locator, Verdict } from '../../src/trust';
import { presign, presignedProblem } from '../../src/sim/jobs/presign';
import { NOW, envelope, fleet, payload } from '../support/trust';

const f = fleet();
const Q = 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x&X-Amz-Date=1&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=ab';
const loc: S3Locator = { region: 'eu-west-1', bucket: 'acme-fw', key: 'gw/fw.bin', endpoint: 'https://127.0.0.1:9443' };

function check(p: JobPayload, urls?: Record<string, string>): Verdict {
  return verifyJob({ document: envelope(p, [f.ci], urls), trust: f.store, execution: { jobId: 'job-1', namespace: '' }, identity: { thingName: 'gw-1', labels: [] }, now: NOW });
}

describe('a signed S3 endpoint', () => {
  test('a URL to exactly that origin, path style, for the signed bucket and key is accepted', () => {
    expect(checkPresignedUrl(`https://127.0.0.1:9443/acme-fw/gw/fw.bin?${Q}`, loc)).toEqual({ ok: true });
  });

  test.each([
    ['another port', `https://127.0.0.1:9444/acme-fw/gw/fw.bin?${Q}`],
    ['another host', `https://localhost:9443/acme-fw/gw/fw.bin?${Q}`],
    ['AWS itself', `https://s3.eu-west-1.amazonaws.com/acme-fw/gw/fw.bin?${Q}`],
    ['another key', `https://127.0.0.1:9443/acme-fw/gw/other.bin?${Q}`],
    ['another bucket', `https://127.0.0.1:9443/evil/gw/fw.bin?${Q}`],
    ['http', `http://127.0.0.1:9443/acme-fw/gw/fw.bin?${Q}`],
  ])('%s is url-mismatch', (_what, url) => {
    expect(checkPresignedUrl(url, loc)).toMatchObject({ ok: false, reason: 'url-mismatch' });
  });

  test('without a signed endpoint a port is still refused', () => {
    const { endpoint: _e, ...aws } = loc;
    expect(checkPresignedUrl(`https://s3.eu-west-1.amazonaws.com:8443/acme-fw/gw/fw.bin?${Q}`, aws)).toMatchObject({ ok: false, detail: 'names a port' });
  });

  test.each(['https://127.0.0.1:9443/', 'https://h/path', 'http://h', 'https://u@h', 'https://H.example', 'https://h:443', 'https://h?x'])('endpoint %s is not an origin: malformed payload', (endpoint) => {
    const p = payload({ artifacts: { fw: { s3: { ...loc, endpoint }, sha256: 'a'.repeat(64), size: 1 } } });
    expect(payloadProblems(p).join()).toMatch(/endpoint/);
  });
});

describe('${artifact:NAME} in the signed doc', () => {
  const arts: JobPayload['artifacts'] = { fw: { url: 'https://dl.example/fw.bin', sha256: 'a'.repeat(64), size: 1 }, cfg: { url: 'https://dl.example/c.json', sha256: 'b'.repeat(64), size: 1 } };
  const doc = { operation: 'run-script', args: ['--image=${artifact:fw}', '${artifact:cfg}', 3], nested: { path: '${artifact:fw}' }, '${artifact:fw}': 'keys stay' };

  test('every string value is rewritten to the local path; other values and keys are left alone', () => {
    expect(artifactRefs(doc)).toEqual(['fw', 'cfg']);
    expect(substituteArtifacts(doc, { fw: '/s/fw/fw.bin', cfg: '/s/cfg/c.json' })).toEqual({
      operation: 'run-script',
      args: ['--image=/s/fw/fw.bin', '/s/cfg/c.json', 3],
      nested: { path: '/s/fw/fw.bin' },
      '${artifact:fw}': 'keys stay',
    });
  });

  test('a reference to an artifact that was not signed is malformed-envelope', () => {
    expect(artifactRefProblem({ doc: { a: '${artifact:fw}' } })).toMatch(/"fw"/);
    expect(artifactRefProblem({ doc, artifacts: arts })).toBeUndefined();
    const v = check(payload({ doc: { version: '1.0', steps: [], x: '${artifact:nope}' } as never, artifacts: arts }));
    expect(v).toMatchObject({ ok: false, reason: 'malformed-envelope' });
  });

  test('a missing local path throws rather than leaving the placeholder for a handler', () => {
    expect(() => substituteArtifacts(doc, { fw: '/x' })).toThrow(/cfg/);
  });
});

describe("the sim's self-served presigned URLs", () => {
  const secret = Buffer.alloc(32, 7);
  const objects = { origin: 'https://127.0.0.1:9443', secret };
  const text = JSON.stringify({ fw: '${aws:iot:s3-presigned-url-v2:https://s3.eu-west-1.amazonaws.com/acme-fw/gw/fw.bin}' });
  const nowMs = Date.UTC(2026, 4, 1);
  const url = new URL((JSON.parse(presign(text, { nowMs, delivery: 1, style: 'virtual-hosted', objects, expiresSec: 60 })) as { fw: string }).fw);

  test('point at the object front, pass the agent check for a signed endpoint, and verify there', () => {
    expect(url.origin).toBe('https://127.0.0.1:9443');
    expect(url.pathname).toBe('/acme-fw/gw/fw.bin');
    expect(checkPresignedUrl(url.href, loc)).toEqual({ ok: true });
    expect(presignedProblem(secret, url.pathname, url.searchParams, nowMs + 59_000)).toBeUndefined();
  });

  test('are refused for another object, another secret, a changed query or after they expire', () => {
    expect(presignedProblem(secret, '/acme-fw/gw/other.bin', url.searchParams, nowMs)).toMatch(/signature/);
    expect(presignedProblem(Buffer.alloc(32, 8), url.pathname, url.searchParams, nowMs)).toMatch(/signature/);
    const longer = new URLSearchParams(url.searchParams);
    longer.set('X-Amz-Expires', '3600');
    expect(presignedProblem(secret, url.pathname, longer, nowMs)).toMatch(/signature/);
    expect(presignedProblem(secret, url.pathname, url.searchParams, nowMs + 61_000)).toMatch(/expired/);
  });
});
