import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ManualClock } from '../../src/lib/clock';
import { openStateStore, readJournal, type StateStoreOptions } from '../../src/store/file-store';
import { JOURNAL_FILE, SNAPSHOT_FILE } from '../../src/store/journal-file';
import type { ExecRef, StateStore } from '../../src/store/types';

let dir: string;
const open: StateStore[] = [];

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'store-'));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await fsp.rm(dir, { recursive: true, force: true });
});

async function openStore(opts: StateStoreOptions = {}): Promise<StateStore> {
  const s = await openStateStore(dir, opts);
  open.push(s);
  return s;
}

async function reopen(s: StateStore, opts: StateStoreOptions = {}): Promise<StateStore> {
  await s.close();
  open.splice(open.indexOf(s), 1);
  return openStore(opts);
}

const ref = (jobId: string, executionNumber = 1, namespace = ''): ExecRef => ({ namespace, jobId, executionNumber });
const started = (r: ExecRef, startedAt = 1000) => ({ ...r, handler: 'exec', startedAt });
const ok = { status: 'SUCCEEDED' as const, details: { rc: '0' } };

describe('file state store', () => {
  it('markStarted records a started entry, visible via get and entries and after reopen', async () => {
    let s = await openStore();
    await s.markStarted({ ...started(ref('a')), versionNumber: 2 });
    expect(s.get(ref('a'))).toEqual({ ...started(ref('a')), versionNumber: 2, state: 'started', startSeq: 1 });
    expect(s.get(ref('a', 2))).toBeUndefined();
    expect(s.get(ref('a', 1, 'ns'))).toBeUndefined();
    s = await reopen(s);
    expect(s.entries()).toEqual([{ ...started(ref('a')), versionNumber: 2, state: 'started', startSeq: 1 }]);
  });

  it('markStarted again on a started entry replaces it (rerun), but refuses a finished one', async () => {
    const s = await openStore();
    await s.markStarted(started(ref('a'), 1));
    await s.markStarted(started(ref('a'), 2));
    expect(s.get(ref('a'))?.startedAt).toBe(2);
    await s.markFinished(ref('a'), ok, { status: 'SUCCEEDED' });
    await expect(s.markStarted(started(ref('a'), 3))).rejects.toMatchObject({ code: 'StoreConflict' });
  });

  it('saveHandlerState persists state for a running execution only', async () => {
    let s = await openStore();
    await s.markStarted(started(ref('a')));
    await s.saveHandlerState(ref('a'), { bootId: 'x', n: 1 });
    s = await reopen(s);
    expect(s.get(ref('a'))?.handlerState).toEqual({ bootId: 'x', n: 1 });
    await expect(s.saveHandlerState(ref('zz'), {})).rejects.toMatchObject({ code: 'StoreConflict' });
  });

  it('markFinished records the outcome and enqueues the update in one durable write', async () => {
    const clock = new ManualClock(5000);
    let s = await openStore({ clock });
    await s.markStarted(started(ref('a')));
    const item = await s.markFinished(ref('a'), ok, { status: 'SUCCEEDED', statusDetails: { rc: '0' }, expectedVersion: 3 });
    expect(item).toEqual({ ...ref('a'), seq: 1, status: 'SUCCEEDED', statusDetails: { rc: '0' }, expectedVersion: 3, enqueuedAt: 5000 });
    s = await reopen(s, { clock });
    expect(s.get(ref('a'))).toMatchObject({ state: 'finished', finishedAt: 5000, outcome: ok, handler: 'exec' });
    expect(s.pending()).toEqual([item]);
  });

  it('markFinished without markStarted (rejected document) still keeps the outcome', async () => {
    const s = await openStore({ clock: new ManualClock(7) });
    await s.markFinished(ref('bad', 1, 'ns1'), { status: 'REJECTED', details: { reason: 'x' } }, { status: 'REJECTED' });
    expect(s.get(ref('bad', 1, 'ns1'))).toMatchObject({ state: 'finished', handler: '', startedAt: 7, outcome: { status: 'REJECTED' } });
  });

  it('markFinished is idempotent per execution, sequences are monotonic across reopen', async () => {
    let s = await openStore();
    const [a1, a2] = await Promise.all([
      s.markFinished(ref('a'), ok, { status: 'SUCCEEDED' }),
      s.markFinished(ref('a'), { status: 'FAILED' }, { status: 'FAILED' }),
    ]);
    expect(a2).toEqual(a1);
    expect(await s.markFinished(ref('a'), { status: 'FAILED' }, { status: 'FAILED' })).toEqual(a1);
    const b = await s.markFinished(ref('b'), ok, { status: 'SUCCEEDED' });
    expect(b.seq).toBe(a1.seq + 1);
    await s.ack(b.seq);
    s = await reopen(s);
    const c = await s.markFinished(ref('c'), ok, { status: 'SUCCEEDED' });
    expect(c.seq).toBe(b.seq + 1);
    expect(s.pending().map((i) => i.jobId)).toEqual(['a', 'c']);
  });

  it('markReported moves the entry to reported, drops its outbox items and refuses a new outcome', async () => {
    let s = await openStore();
    await s.markStarted(started(ref('a')));
    await s.markFinished(ref('a'), ok, { status: 'SUCCEEDED' });
    await s.markReported(ref('a'));
    expect(s.pending()).toEqual([]);
    s = await reopen(s);
    expect(s.get(ref('a'))?.state).toBe('reported');
    await expect(s.markFinished(ref('a'), ok, { status: 'SUCCEEDED' })).rejects.toMatchObject({ code: 'StoreConflict' });
    await s.markReported(ref('never-seen')); // no-op, must not throw
    expect(s.entries()).toHaveLength(1);
  });

  it('ack removes exactly one outbox item and ignores unknown seqs', async () => {
    let s = await openStore();
    const a = await s.markFinished(ref('a'), ok, { status: 'SUCCEEDED' });
    const b = await s.markFinished(ref('b'), ok, { status: 'SUCCEEDED' });
    await s.ack(a.seq);
    await s.ack(999);
    s = await reopen(s);
    expect(s.pending()).toEqual([b]);
  });

  it('keeps only the last 200 reported entries', async () => {
    let s = await openStore({ compactEvery: 50 });
    for (let i = 0; i < 230; i++) {
      await s.markFinished(ref(`j${i}`), ok, { status: 'SUCCEEDED' });
      await s.markReported(ref(`j${i}`));
    }
    s = await reopen(s);
    const all = s.entries();
    expect(all).toHaveLength(200);
    expect(all[0]?.jobId).toBe('j30');
    expect(s.get(ref('j29'))).toBeUndefined();
    expect(s.get(ref('j229'))?.state).toBe('reported');
  });

  it('flags outboxFull at the limit, warns, and still keeps outcomes beyond it', async () => {
    const warnings: string[] = [];
    let s = await openStore({ outboxLimit: 2, onWarn: (m) => warnings.push(m) });
    await s.markFinished(ref('a'), ok, { status: 'SUCCEEDED' });
    expect(s.outboxFull).toBe(false);
    await s.markFinished(ref('b'), ok, { status: 'SUCCEEDED' });
    expect(s.outboxFull).toBe(true);
    expect(warnings).toEqual([]);
    const c = await s.markFinished(ref('c'), ok, { status: 'FAILED' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/outbox is full.*c#1/);
    s = await reopen(s, { outboxLimit: 2 });
    expect(s.pending().map((i) => i.jobId)).toEqual(['a', 'b', 'c']);
    await s.ack(1);
    await s.ack(2);
    expect(s.outboxFull).toBe(false);
    expect(s.pending()).toEqual([c]);
  });

  it('returns copies: mutating a result does not change the store', async () => {
    const s = await openStore();
    await s.markStarted({ ...started(ref('a')), handlerState: { k: 1 } });
    const e = s.get(ref('a'))!;
    (e.handlerState as Record<string, unknown>).k = 2;
    e.state = 'reported';
    expect(s.get(ref('a'))).toMatchObject({ state: 'started', handlerState: { k: 1 } });
  });

  it('makes every one of many concurrent writes durable', async () => {
    let s = await openStore();
    await Promise.all(Array.from({ length: 100 }, (_, i) => s.markStarted(started(ref(`p${i}`)))));
    const journal = await fsp.readFile(path.join(dir, JOURNAL_FILE), 'utf8');
    expect(journal.trim().split('\n')).toHaveLength(100);
    s = await reopen(s);
    expect(s.entries()).toHaveLength(100);
  });

  it('compacts into a snapshot and truncates the journal', async () => {
    const s = await openStore({ compactEvery: 10 });
    for (let i = 0; i < 25; i++) await s.markStarted(started(ref(`c${i}`)));
    const journal = await fsp.readFile(path.join(dir, JOURNAL_FILE), 'utf8');
    expect(journal.trim().split('\n')).toHaveLength(5);
    const snap = JSON.parse(await fsp.readFile(path.join(dir, SNAPSHOT_FILE), 'utf8'));
    expect(snap).toMatchObject({ format: 'iot-jobs-agent-state', version: 1, lsn: 20 });
    expect((await fsp.stat(path.join(dir, SNAPSHOT_FILE))).mode & 0o777).toBe(0o600);
  });

  it('rejects writes after close and close is idempotent', async () => {
    const s = await openStore();
    await Promise.all([s.close(), s.close()]);
    await expect(s.markStarted(started(ref('x')))).rejects.toMatchObject({ code: 'StoreClosed' });
  });

  it('refuses a second writer on the same directory, but takes over a dead owner lock', async () => {
    await openStore();
    await expect(openStateStore(dir)).rejects.toMatchObject({ code: 'StoreLocked' });
    await Promise.all(open.splice(0).map((x) => x.close()));
    // A lock file left by a process that no longer exists.
    await fsp.writeFile(path.join(dir, 'agent.lock'), '2147483646\n');
    const s = await openStore();
    expect(s.entries()).toEqual([]);
  });
});

describe('recovery from damage', () => {
  it('ignores a torn last line with a warning and appends cleanly after it', async () => {
    let s = await openStore();
    await s.markStarted(started(ref('a')));
    await s.close();
    open.splice(0);
    await fsp.appendFile(path.join(dir, JOURNAL_FILE), '{"n":2,"op":"start","entry":{"namesp');
    const warnings: string[] = [];
    s = await openStore({ onWarn: (m) => warnings.push(m) });
    expect(warnings.join('\n')).toMatch(/torn or damaged tail/);
    await s.markStarted(started(ref('b')));
    s = await reopen(s);
    expect(s.entries().map((e) => e.jobId).sort()).toEqual(['a', 'b']);
  });

  it('skips records already folded into the snapshot (crash between snapshot and truncate)', async () => {
    let s = await openStore({ compactEvery: 1_000_000 });
    await s.markFinished(ref('a'), ok, { status: 'SUCCEEDED' });
    await s.markFinished(ref('b'), ok, { status: 'SUCCEEDED' });
    const journal = await fsp.readFile(path.join(dir, JOURNAL_FILE));
    await s.close();
    open.splice(0);
    // close() compacted; put the old journal back as if the truncate never happened.
    await fsp.writeFile(path.join(dir, JOURNAL_FILE), journal);
    s = await openStore();
    expect(s.pending().map((i) => i.seq)).toEqual([1, 2]);
  });

  it('skips a damaged line in the middle with a warning and keeps later records', async () => {
    let s = await openStore();
    await s.markStarted(started(ref('a')));
    await s.close();
    open.splice(0);
    const file = path.join(dir, JOURNAL_FILE);
    const good = (n: number, id: string) => JSON.stringify({ n, op: 'start', entry: started(ref(id)) });
    await fsp.writeFile(file, `${good(2, 'b')}\n\u0000\u0000garbage\n${good(4, 'd')}\n`);
    const warnings: string[] = [];
    s = await openStore({ onWarn: (m) => warnings.push(m) });
    expect(warnings.join('\n')).toMatch(/line 2 is damaged/);
    expect(s.entries().map((e) => e.jobId).sort()).toEqual(['a', 'b', 'd']);
  });

  it('refuses to open with an unreadable snapshot rather than guess', async () => {
    await fsp.writeFile(path.join(dir, SNAPSHOT_FILE), '{"format":');
    await expect(openStateStore(dir)).rejects.toMatchObject({ code: 'StoreCorrupt' });
  });

  it('removes temporary files of an interrupted snapshot write', async () => {
    const tmp = path.join(dir, `.${SNAPSHOT_FILE}.123.abc.tmp`);
    await fsp.writeFile(tmp, 'partial');
    await openStore();
    await expect(fsp.stat(tmp)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('readJournal', () => {
  it('shows current entries, recent outcomes with durations and the outbox without writing, in journal order', async () => {
    const clock = new ManualClock(10_000);
    const s = await openStore({ clock, compactEvery: 3 });
    await s.markStarted(started(ref('run'), 9_000));
    await s.markStarted(started(ref('done'), 8_000));
    clock.advance(500);
    await s.markFinished(ref('done'), ok, { status: 'SUCCEEDED' });
    await s.markFinished(ref('rej', 1, 'ns'), { status: 'REJECTED' }, { status: 'REJECTED' });
    await s.markReported(ref('rej', 1, 'ns'));
    const before = await fsp.readFile(path.join(dir, JOURNAL_FILE));
    const view = await readJournal(dir);
    expect(await fsp.readFile(path.join(dir, JOURNAL_FILE))).toEqual(before);
    expect(view.exists).toBe(true);
    // Journal order, not wall time ('done' claims an earlier start): a device clock can jump back.
    expect(view.current.map((e) => [e.jobId, e.state])).toEqual([
      ['run', 'started'],
      ['done', 'finished'],
    ]);
    expect(view.recent.map((e) => [e.jobId, e.durationMs])).toEqual([
      ['rej', 0],
      ['done', 2_500],
    ]);
    expect(view.outboxLength).toBe(1);
    expect(view.outbox[0]?.jobId).toBe('done');
  });

  it('reports a missing directory as empty', async () => {
    const view = await readJournal(path.join(dir, 'nope'));
    expect(view).toMatchObject({ exists: false, current: [], recent: [], outboxLength: 0 });
  });
});
