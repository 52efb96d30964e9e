/** The rules of the stateful checks (replay, rollback, effective time) and the artifact digest. */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactDigest, TrustError, checkReplay, checkSeq, digestFile, effectiveTime, nextHighWater, nextSeqMark, verifyArtifactFile } from '../../src/trust';
import type { LedgerEntry } from '../../src/trust';

const entry = (over: Partial<LedgerEntry> = {}): LedgerEntry => ({ jti: 'j'.repeat(22), jobId: 'job-1', executionNumber: 1, attempts: 1, state: 'FAILED', reported: true, exp: 2e9, ...over });

describe('checkReplay', () => {
  test('a new jti runs as attempt 1', () => {
    expect(checkReplay(undefined, {}, 1)).toEqual({ action: 'run', attempt: 1 });
  });

  test('AWS retries (higher execution number after FAILED) run up to maxAttempts, then replay', () => {
    const p = { maxAttempts: 3 };
    expect(checkReplay(entry({ attempts: 1, executionNumber: 1 }), p, 2)).toEqual({ action: 'run', attempt: 2 });
    expect(checkReplay(entry({ attempts: 2, executionNumber: 2 }), p, 3)).toEqual({ action: 'run', attempt: 3 });
    expect(checkReplay(entry({ attempts: 3, executionNumber: 3 }), p, 4)).toMatchObject({ action: 'reject', reason: 'replay' });
    // Default maxAttempts is 1: no retry at all.
    expect(checkReplay(entry(), {}, 2)).toMatchObject({ action: 'reject', reason: 'replay' });
  });

  test('the same envelope under a recreated job (execution number 1 again) is replay', () => {
    for (const state of ['SUCCEEDED', 'FAILED'] as const) {
      expect(checkReplay(entry({ state, executionNumber: 1 }), { maxAttempts: 5 }, 1)).toMatchObject({ action: 'reject', reason: 'replay' });
    }
    expect(checkReplay(entry({ executionNumber: 3, attempts: 3 }), { maxAttempts: 5 }, 2)).toMatchObject({ action: 'reject', reason: 'replay' });
  });

  test('after success, a higher execution number (continuous job rejoined) is replay', () => {
    expect(checkReplay(entry({ state: 'SUCCEEDED' }), { maxAttempts: 5 }, 2)).toMatchObject({ action: 'reject', reason: 'replay' });
  });

  test('a jti once REJECTED never runs', () => {
    expect(checkReplay(entry({ state: 'REJECTED', reported: false }), { maxAttempts: 5 }, 1)).toMatchObject({ action: 'reject' });
    expect(checkReplay(entry({ state: 'REJECTED' }), { maxAttempts: 5 }, 2)).toMatchObject({ action: 'reject' });
  });

  test('a crash between start and report never runs the job twice', () => {
    expect(checkReplay(entry({ state: 'STARTED', reported: false }), {}, 1)).toEqual({ action: 'interrupted' });
    expect(checkReplay(entry({ state: 'SUCCEEDED', reported: false }), {}, 1)).toEqual({ action: 'report-stored' });
    expect(checkReplay(entry({ state: 'FAILED', reported: false }), {}, 1)).toEqual({ action: 'report-stored' });
  });

  test('a run that was interrupted counts as an attempt when AWS retries it', () => {
    expect(checkReplay(entry({ state: 'STARTED', reported: false, attempts: 1 }), { maxAttempts: 2 }, 2)).toEqual({ action: 'run', attempt: 2 });
    expect(checkReplay(entry({ state: 'STARTED', reported: false, attempts: 1 }), {}, 2)).toMatchObject({ action: 'reject' });
  });
});

describe('checkSeq', () => {
  const seq = (n: number, jti = 'a') => ({ seq: { stream: 'fw', n }, jti });
  test('must rise per stream; equal only for the same envelope', () => {
    expect(checkSeq(undefined, seq(1))).toEqual({ ok: true });
    expect(checkSeq({ n: 5, jti: 'a' }, seq(6, 'b'))).toEqual({ ok: true });
    expect(checkSeq({ n: 5, jti: 'a' }, seq(5, 'a'))).toEqual({ ok: true });
    expect(checkSeq({ n: 5, jti: 'a' }, seq(5, 'b'))).toMatchObject({ ok: false, reason: 'rollback' });
    expect(checkSeq({ n: 5, jti: 'a' }, seq(4, 'b'))).toMatchObject({ ok: false, reason: 'rollback' });
    expect(checkSeq({ n: 5, jti: 'a' }, { jti: 'b' })).toEqual({ ok: true });
  });
  test('the mark never goes down', () => {
    expect(nextSeqMark(undefined, seq(3, 'x'))).toEqual({ n: 3, jti: 'x' });
    expect(nextSeqMark({ n: 7, jti: 'y' }, seq(3, 'x'))).toEqual({ n: 7, jti: 'y' });
    expect(nextSeqMark({ n: 7, jti: 'y' }, { jti: 'z' })).toEqual({ n: 7, jti: 'y' });
  });
});

describe('effectiveTime', () => {
  const build = 1_780_000_000;
  test('a 1970 system clock is floored at the build time', () => {
    expect(effectiveTime({ buildTime: build, highWater: 0, systemNow: 10 })).toEqual({ now: build, source: 'floor' });
  });
  test('the broker timestamp wins when later than the floor, in seconds or milliseconds', () => {
    expect(effectiveTime({ buildTime: build, highWater: 0, brokerTimestamp: build + 50, systemNow: 10 })).toEqual({ now: build + 50, source: 'broker' });
    expect(effectiveTime({ buildTime: build, highWater: 0, brokerTimestamp: (build + 50) * 1000 + 999, systemNow: 10 })).toEqual({ now: build + 50, source: 'broker' });
  });
  test('a far-future system clock is not used when the broker gives the time', () => {
    expect(effectiveTime({ buildTime: build, highWater: 0, brokerTimestamp: build + 5, systemNow: build + 1e8 })).toEqual({ now: build + 5, source: 'broker' });
  });
  test('the high-water mark floors an old broker timestamp', () => {
    expect(effectiveTime({ buildTime: build, highWater: build + 900, brokerTimestamp: build + 5, systemNow: 0 })).toEqual({ now: build + 900, source: 'floor' });
  });
  test('the system clock is used without a broker timestamp when past the floor', () => {
    expect(effectiveTime({ buildTime: build, highWater: 0, systemNow: build + 7.9 })).toEqual({ now: build + 7, source: 'system' });
  });
  test('the high-water mark rises with accepted time and iat, but a future iat cannot push it past now + skew', () => {
    expect(nextHighWater(100, 200)).toBe(200);
    expect(nextHighWater(300, 200)).toBe(300);
    expect(nextHighWater(0, 1000, { iat: 1100 })).toBe(1100);
    expect(nextHighWater(0, 1000, { iat: 99999 })).toBe(1300);
  });
});

describe('artifact digest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ija-art-'));
  const body = Buffer.from('firmware image bytes\n'.repeat(1000));
  const sha256 = createHash('sha256').update(body).digest('hex');
  const file = join(dir, 'fw.bin');
  writeFileSync(file, body);

  test('a file with the signed size and hash passes; digestFile computes both', async () => {
    await expect(digestFile(file)).resolves.toEqual({ sha256, size: body.length });
    await expect(verifyArtifactFile(file, 'fw', { sha256, size: body.length })).resolves.toBeUndefined();
  });

  test('other content of the same size is artifact-digest-mismatch', async () => {
    const other = join(dir, 'other.bin');
    writeFileSync(other, Buffer.from(body).fill(0x41, 0, 1));
    await expect(verifyArtifactFile(other, 'fw', { sha256, size: body.length })).rejects.toMatchObject({ reason: 'artifact-digest-mismatch' });
  });

  test('a stream stops at the first byte past the signed size', () => {
    const d = new ArtifactDigest('fw', { sha256, size: 10 });
    d.update(Buffer.alloc(10));
    expect(() => d.update(Buffer.alloc(1))).toThrow(TrustError);
    const short = new ArtifactDigest('fw', { sha256, size: body.length });
    short.update(body.subarray(0, 5));
    expect(() => short.finish()).toThrow(/5 bytes, signed/);
  });
});
