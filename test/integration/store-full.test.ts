/**
 * The real store on a real small tmpfs (root): what it does when its directory is full (ENOSPC)
 * or read-only (EROFS) — at open, on an append, during a compaction — and that it comes back by
 * itself with nothing lost once the directory can be written again.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStateStore } from '../../src/store/file-store';
import { StorageUnavailableError } from '../../src/store/health';
import type { StoreHealth } from '../../src/store/health';
import type { ExecRef, StateStore } from '../../src/store/types';
import { waitFor } from '../support/agent-proc';
import { SmallDisk } from '../support/device-faults';

let base: string;
let disk: SmallDisk;
const open: StateStore[] = [];

const ref = (jobId: string): ExecRef => ({ namespace: '', jobId, executionNumber: 1 });
const ok = { status: 'SUCCEEDED' as const };
const fast = { retry: { baseMs: 20, maxMs: 100 } };

async function openStore(opts: Parameters<typeof openStateStore>[1] = {}): Promise<StateStore> {
  const s = await openStateStore(join(disk.dir, 'journal'), { ...fast, ...opts });
  open.push(s);
  return s;
}

async function closeAll(): Promise<void> {
  for (const s of open.splice(0)) await s.close();
}

/** Appends fit in the journal's last page after dd: start executions until one is refused. */
async function startUntilRefused(s: StateStore, prefix: string): Promise<{ started: string[]; refused: string }> {
  const started: string[] = [];
  for (let i = 0; i < 200; i++) {
    const id = `${prefix}-${i}`;
    try {
      await s.markStarted({ ...ref(id), handler: 'h', startedAt: 0 });
      started.push(id);
    } catch (err) {
      expect(err).toBeInstanceOf(StorageUnavailableError);
      return { started, refused: id };
    }
  }
  throw new Error('the journal never filled up');
}

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'store-full-'));
  disk = await SmallDisk.mount(join(base, 'state'), 256);
});
afterEach(async () => {
  await closeAll();
  await disk.unmount();
  await rm(base, { recursive: true, force: true });
});

describe('state store on a full or read-only directory', () => {
  it('an append hits ENOSPC: starts are refused, outcomes and reports kept in memory, all on disk once space returns', async () => {
    const s = await openStore();
    const seen: StoreHealth[] = [];
    s.onHealthChange((h) => seen.push(h));
    await s.markStarted({ ...ref('a'), handler: 'h', startedAt: 0 });
    await s.markStarted({ ...ref('b'), handler: 'h', startedAt: 0 });
    await disk.fill();
    const { started, refused } = await startUntilRefused(s, 'filler');
    expect(s.health).toMatchObject({ writable: false, code: 'ENOSPC' });
    expect(s.get(ref(refused))).toBeUndefined(); // a refused start leaves no trace
    // While full: outcomes, reports and releases are kept; new starts and handler state are refused at once.
    const item = await s.markFinished(ref('a'), ok, { status: 'SUCCEEDED' });
    await s.markFinished(ref('b'), ok, { status: 'SUCCEEDED' });
    await s.markReported(ref('b'));
    for (const id of started) await s.release(ref(id));
    expect(s.pending().map((i) => i.jobId)).toEqual(['a']);
    expect(s.get(ref('b'))?.state).toBe('reported');
    await expect(s.markStarted({ ...ref('c'), handler: 'h', startedAt: 0 })).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(s.saveHandlerState(ref('a'), { x: 1 })).rejects.toThrow(/not running|cannot be written/);

    await disk.free();
    await s.whenWritable();
    expect(s.health.writable).toBe(true);
    expect(seen.map((h) => h.writable)).toEqual([false, true]);
    await s.markStarted({ ...ref('c'), handler: 'h', startedAt: 0 });
    await closeAll();

    const again = await openStore();
    expect(again.get(ref('a'))).toMatchObject({ state: 'finished', outcome: ok });
    expect(again.pending()).toEqual([item]);
    expect(again.get(ref('b'))?.state).toBe('reported');
    expect(again.get(ref('c'))?.state).toBe('started');
    for (const id of [...started, refused]) expect(again.get(ref(id))).toBeUndefined();
  });

  it('a compaction on a full disk fails quietly and loses nothing; the journal stays complete', async () => {
    const warnings: string[] = [];
    const s = await openStore({ compactEvery: 3, onWarn: (w) => warnings.push(w) });
    await s.markStarted({ ...ref('a'), handler: 'h', startedAt: 0 });
    await disk.fill();
    // The journal's last page takes these records; the third triggers a compaction, which needs new pages.
    await s.markStarted({ ...ref('b'), handler: 'h', startedAt: 0 });
    await s.markFinished(ref('a'), ok, { status: 'SUCCEEDED' });
    // The compaction runs after the batch that triggered it resolved.
    await waitFor(() => warnings.length > 0, 'the compaction to fail');
    expect(warnings.some((w) => /could not compact the journal: .*ENOSPC/.test(w))).toBe(true);
    expect(s.health.writable).toBe(true);
    await disk.free();
    await closeAll();
    const again = await openStore();
    expect(again.get(ref('a'))?.state).toBe('finished');
    expect(again.get(ref('b'))?.state).toBe('started');
  });

  it('opens on a full disk: reads what is there, refuses starts, becomes writable by itself', async () => {
    const first = await openStore();
    await first.markStarted({ ...ref('before'), handler: 'h', startedAt: 0 });
    await closeAll();
    await disk.fill();
    const s = await openStore();
    expect(s.health).toMatchObject({ writable: false, code: 'ENOSPC' });
    expect(s.get(ref('before'))?.state).toBe('started');
    await s.markFinished(ref('before'), { status: 'FAILED', details: { reason: 'interrupted' } }, { status: 'FAILED' });
    await expect(s.markStarted({ ...ref('new'), handler: 'h', startedAt: 0 })).rejects.toBeInstanceOf(StorageUnavailableError);
    await disk.free();
    await s.whenWritable();
    await closeAll();
    const again = await openStore();
    expect(again.get(ref('before'))?.state).toBe('finished');
  });

  it('opens on a read-only file system (EROFS), without the lock, and takes it once remounted read-write', async () => {
    const first = await openStore();
    await first.markStarted({ ...ref('ro'), handler: 'h', startedAt: 0 });
    await closeAll();
    execFileSync('mount', ['-o', 'remount,ro', disk.dir]);
    const s = await openStore();
    expect(s.health).toMatchObject({ writable: false, code: 'EROFS' });
    expect(s.get(ref('ro'))?.state).toBe('started');
    await s.markFinished(ref('ro'), ok, { status: 'SUCCEEDED' });
    execFileSync('mount', ['-o', 'remount,rw', disk.dir]);
    await s.whenWritable();
    await closeAll();
    const again = await openStore();
    expect(again.get(ref('ro'))).toMatchObject({ state: 'finished', outcome: ok });
  });
});
