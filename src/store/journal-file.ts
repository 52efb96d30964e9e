/**
 * Reading the on-disk state: `snapshot.json` (written atomically) plus `journal.jsonl` (one JSON
 * record per line, appended and fsynced). Only the reader lives here so the read-only `status`
 * view and the writer recover state through the very same code.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { AgentError, errorMessage } from '../lib/errors';
import { applyRecord, emptyState, fromSnapshot, isSnapshot, isStoreRecord, type StoreState } from './records';

export const SNAPSHOT_FILE = 'snapshot.json';
export const JOURNAL_FILE = 'journal.jsonl';

export interface LoadedState {
  state: StoreState;
  /** Bytes of the journal up to the end of its last valid record: anything after is a torn tail. */
  goodSize: number;
  /** Bytes found on disk. */
  size: number;
  /** Journal records folded in on top of the snapshot. */
  replayed: number;
  warnings: string[];
}

/** The store refuses to guess when its snapshot is unreadable: a wrong guess could rerun a job. */
export class StoreCorruptError extends AgentError {
  constructor(message: string) {
    super('StoreCorrupt', message);
  }
}

async function readOptional(file: string): Promise<Buffer | undefined> {
  try {
    return await fsp.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function loadSnapshot(dir: string): Promise<StoreState> {
  const file = path.join(dir, SNAPSHOT_FILE);
  const buf = await readOptional(file);
  if (buf === undefined) return emptyState();
  let parsed: unknown;
  try {
    parsed = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new StoreCorruptError(`${file}: not valid JSON (${errorMessage(err)})`);
  }
  if (!isSnapshot(parsed)) throw new StoreCorruptError(`${file}: not a state snapshot of a known version`);
  return fromSnapshot(parsed);
}

interface Line {
  lineNo: number;
  end: number;
  text: string;
}

/** Complete lines (newline-terminated) and the byte offset after the last one. */
function splitLines(buf: Buffer): { lines: Line[]; tailStart: number } {
  const lines: Line[] = [];
  let start = 0;
  let lineNo = 0;
  for (let nl = buf.indexOf(0x0a, start); nl !== -1; nl = buf.indexOf(0x0a, start)) {
    lineNo++;
    lines.push({ lineNo, end: nl + 1, text: buf.subarray(start, nl).toString('utf8') });
    start = nl + 1;
  }
  return { lines, tailStart: start };
}

function decode(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Fold the journal's valid records into `state`; report damaged lines instead of failing. */
function replay(state: StoreState, buf: Buffer, file: string): Omit<LoadedState, 'state'> {
  const warnings: string[] = [];
  const { lines, tailStart } = splitLines(buf);
  let goodSize = 0;
  let replayed = 0;
  const damaged: number[] = [];
  for (const line of lines) {
    const rec = decode(line.text);
    if (!isStoreRecord(rec)) {
      damaged.push(line.lineNo);
      continue;
    }
    goodSize = line.end;
    for (const d of damaged.splice(0)) warnings.push(`${file}: line ${d} is damaged and was skipped`);
    if (rec.n <= state.lsn) continue; // already folded into the snapshot (crash during compaction)
    applyRecord(state, rec);
    replayed++;
  }
  if (damaged.length > 0 || tailStart < buf.length) {
    warnings.push(`${file}: ignored a torn or damaged tail of ${buf.length - goodSize} bytes after the last complete record`);
  }
  return { goodSize, size: buf.length, replayed, warnings };
}

/** Recover the state from `dir` without writing anything. */
export async function loadState(dir: string): Promise<LoadedState> {
  // Journal before snapshot: if a live writer compacts in between, the newer snapshot already
  // holds every record we read (they are skipped by number), so a concurrent reader loses nothing.
  const file = path.join(dir, JOURNAL_FILE);
  const buf = (await readOptional(file)) ?? Buffer.alloc(0);
  const state = await loadSnapshot(dir);
  return { state, ...replay(state, buf, file) };
}
