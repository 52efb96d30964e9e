/**
 * kill -9 at random points: a real child process writes to the store (several writers in flight,
 * frequent compactions) and prints every write the store acknowledged; the parent SIGKILLs it after
 * a seeded-random number of acknowledgements and checks the store opens with every acknowledged
 * write in place and nothing inconsistent.
 */
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import ts from 'typescript';
import { openStateStore } from '../../src/store/file-store';
import type { JournalEntry } from '../../src/store/types';

const ROOT = path.resolve(__dirname, '../..');
const MODULES = [
  'src/lib/backoff.ts',
  'src/lib/clock.ts',
  'src/lib/errors.ts',
  'src/lib/fsutil.ts',
  'src/store/types.ts',
  'src/store/health.ts',
  'src/store/records.ts',
  'src/store/journal-file.ts',
  'src/store/journal-writer.ts',
  'src/store/lock.ts',
  'src/store/io.ts',
  'src/store/read.ts',
  'src/store/file-store.ts',
];

// The writer: recovers what the last run left, then runs jobs with 4 concurrent workers forever.
const CHILD = `
const { openStateStore } = require('./src/store/file-store');
const [dir, base] = [process.argv[2], Number(process.argv[3])];
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
(async () => {
  const s = await openStateStore(dir, { compactEvery: 23, outboxLimit: 50 });
  out({ op: 'ready' });
  for (const e of s.entries()) {
    if (e.state !== 'started') continue;
    const item = await s.markFinished(e, { status: 'FAILED', details: { reason: 'interrupted' } }, { status: 'FAILED' });
    out({ op: 'finish', ref: e, status: 'FAILED', seq: item.seq });
  }
  for (const item of s.pending()) { await s.ack(item.seq); out({ op: 'ack', seq: item.seq }); }
  let next = base;
  const worker = async () => {
    for (;;) {
      const i = next++;
      const ref = { namespace: i % 3 === 0 ? 'ns1' : '', jobId: 'job-' + i, executionNumber: 1 + (i % 2) };
      await s.markStarted({ ...ref, handler: 'h', startedAt: i });
      out({ op: 'start', ref });
      await s.saveHandlerState(ref, { step: i });
      out({ op: 'state', ref, handlerState: { step: i } });
      const status = i % 7 === 0 ? 'FAILED' : 'SUCCEEDED';
      const item = await s.markFinished(ref, { status }, { status, statusDetails: { i: String(i) } });
      out({ op: 'finish', ref, status, seq: item.seq });
      if (i % 5 === 0) { await s.markReported(ref); out({ op: 'report', ref }); }
      else if (i % 5 === 1) { await s.ack(item.seq); out({ op: 'ack', seq: item.seq }); }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
})().catch((err) => { process.stderr.write(String(err && err.stack || err)); process.exit(3); });
`;

interface Ref {
  namespace: string;
  jobId: string;
  executionNumber: number;
}
type Ack =
  | { op: 'ready' }
  | { op: 'start'; ref: Ref }
  | { op: 'state'; ref: Ref; handlerState: Record<string, unknown> }
  | { op: 'finish'; ref: Ref; status: string; seq: number }
  | { op: 'report'; ref: Ref }
  | { op: 'ack'; seq: number };

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let work: string;
beforeAll(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'store-crash-'));
  for (const rel of MODULES) {
    const src = await fsp.readFile(path.join(ROOT, rel), 'utf8');
    const { outputText } = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    const dest = path.join(work, rel.replace(/\.ts$/, '.js'));
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    await fsp.writeFile(dest, outputText);
  }
  await fsp.writeFile(path.join(work, 'child.js'), CHILD);
});
afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

/** Run the writer until `killAfter` acknowledgements have arrived, then SIGKILL it. */
async function runAndKill(dir: string, base: number, killAfter: number): Promise<Ack[]> {
  const child = spawn(process.execPath, [path.join(work, 'child.js'), dir, String(base)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const acks: Ack[] = [];
  const lines = createInterface({ input: child.stdout });
  const closed = new Promise<void>((resolve) => lines.once('close', resolve));
  let writes = 0;
  lines.on('line', (line) => {
    const ack = JSON.parse(line) as Ack;
    acks.push(ack);
    if (ack.op !== 'ready') writes++;
    if ((ack.op === 'ready' && killAfter === 0) || (killAfter > 0 && writes === killAfter)) child.kill('SIGKILL');
  });
  const signal = await exited;
  // Lines already in the pipe were acknowledged before the kill: read them all.
  await closed;
  if (signal !== 'SIGKILL') throw new Error(`writer exited on its own (${String(signal)}): ${stderr}`);
  return acks;
}

const key = (r: Ref) => `${r.namespace}/${r.jobId}#${r.executionNumber}`;

interface Expect {
  started: Set<string>;
  states: Map<string, Record<string, unknown>>;
  finished: Map<string, { status: string; seq: number }>;
  reported: Set<string>;
  acked: Set<number>;
}

function record(exp: Expect, acks: Ack[]): void {
  for (const a of acks) {
    if (a.op === 'start') exp.started.add(key(a.ref));
    else if (a.op === 'state') exp.states.set(key(a.ref), a.handlerState);
    else if (a.op === 'finish') exp.finished.set(key(a.ref), { status: a.status, seq: a.seq });
    else if (a.op === 'report') exp.reported.add(key(a.ref));
    else if (a.op === 'ack') exp.acked.add(a.seq);
  }
}

async function verify(dir: string, exp: Expect): Promise<void> {
  const store = await openStateStore(dir);
  try {
    const byKey = new Map<string, JournalEntry>(store.entries().map((e) => [key(e), e]));
    const outbox = store.pending();
    const seqs = outbox.map((i) => i.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
    for (const item of outbox) expect(byKey.get(key(item))?.state).toBe('finished');
    for (const k of exp.started) expect(byKey.has(k)).toBe(true);
    for (const [k, hs] of exp.states) expect(byKey.get(k)?.handlerState).toEqual(hs);
    for (const [k, f] of exp.finished) {
      const e = byKey.get(k);
      expect(e?.outcome?.status).toBe(f.status);
      expect(['finished', 'reported']).toContain(e?.state);
      // An acknowledged ack/report must have removed the item; an unacknowledged one may have too.
      if (exp.reported.has(k) || exp.acked.has(f.seq)) expect(seqs).not.toContain(f.seq);
      if (e?.state === 'reported') expect(seqs).not.toContain(f.seq);
    }
    for (const k of exp.reported) expect(byKey.get(k)?.state).toBe('reported');
  } finally {
    await store.close();
  }
}

describe('store survives kill -9 at random points', () => {
  it('keeps every acknowledged write across 33 SIGKILLs', async () => {
    const rand = mulberry32(0x5eed1234);
    let kills = 0;
    let total = 0;
    for (let group = 0; group < 3; group++) {
      const dir = path.join(work, `state-${group}`);
      const exp: Expect = { started: new Set(), states: new Map(), finished: new Map(), reported: new Set(), acked: new Set() };
      for (let run = 0; run < 11; run++) {
        const killAfter = rand() < 0.1 ? 0 : 1 + Math.floor(rand() * 150);
        const acks = await runAndKill(dir, (group * 11 + run) * 10_000, killAfter);
        expect(acks[0]).toEqual({ op: 'ready' });
        record(exp, acks);
        total += acks.length;
        await verify(dir, exp);
        kills++;
      }
      expect(exp.finished.size).toBeGreaterThan(20);
    }
    expect(kills).toBe(33);
    expect(total).toBeGreaterThan(500);
  });
});
