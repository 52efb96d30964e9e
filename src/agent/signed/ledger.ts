/**
 * What the device remembers about signed job documents (docs/SIGNING.md, "What the device
 * checks"): the time high-water mark, the highest `seq.n` per stream, the `jti` ledger and the last
 * run of each handler allowed unsigned. One JSON file under `{stateDirectory}/trust/`, replaced
 * atomically and fsynced before the agent acts on a decision, so a decision survives kill -9 and a
 * power cut: an execution the ledger let start is never let start a second time.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { AgentError, errorMessage } from '../../lib/errors';
import { atomicWriteFile, removeStaleTemps } from '../../lib/fsutil';
import type { LedgerEntry, SeqMark } from '../../trust';

export interface LedgerData {
  v: 1;
  /** Seconds: the latest effective time and `iat` accepted; the effective time never falls below it. */
  highWater: number;
  seq: Record<string, SeqMark>;
  jti: Record<string, LedgerEntry>;
  /** Handler name → effective time (s) of its last unsigned run. */
  unsigned: Record<string, number>;
}

export class LedgerError extends AgentError {
  constructor(message: string, cause?: unknown) {
    super('TrustLedger', message, { retryable: true, cause });
  }
}

const FILE = 'ledger.json';
/** Entries are dropped this long after their envelope expired (an expired envelope fails the time check anyway). */
const PRUNE_GRACE_S = 7 * 86400;

function empty(): LedgerData {
  return { v: 1, highWater: 0, seq: {}, jti: {}, unsigned: {} };
}

function isLedger(v: unknown): v is LedgerData {
  const o = v as Partial<LedgerData> | null;
  return typeof o === 'object' && o !== null && o.v === 1 && typeof o.highWater === 'number' && typeof o.seq === 'object' && typeof o.jti === 'object' && typeof o.unsigned === 'object';
}

/** The ledger file and its in-memory copy; every change is written (and fsynced) before it resolves. */
export class Ledger {
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    private data: LedgerData,
  ) {}

  /** Opens `{dir}/ledger.json`. A ledger that does not parse is refused: starting over would re-open replays. */
  static async open(dir: string): Promise<Ledger> {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    await removeStaleTemps(dir, FILE).catch(() => undefined);
    let text: string;
    try {
      text = await fsp.readFile(join(dir, FILE), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Ledger(dir, empty());
      throw new LedgerError(`cannot read ${join(dir, FILE)}: ${errorMessage(err)}`, err);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new LedgerError(`${join(dir, FILE)} is not JSON (${errorMessage(err)}); it holds the replay ledger: restore it, do not delete it`, err);
    }
    if (!isLedger(parsed)) throw new LedgerError(`${join(dir, FILE)} is not a replay ledger this agent can read`);
    return new Ledger(dir, parsed);
  }

  get view(): Readonly<LedgerData> {
    return this.data;
  }

  /** Applies `change` to a copy, writes it durably, then makes it current. Changes are serialised. */
  update(change: (d: LedgerData) => void): Promise<void> {
    const run = async (): Promise<void> => {
      const next = structuredClone(this.data);
      change(next);
      try {
        await atomicWriteFile(join(this.dir, FILE), JSON.stringify(next), 0o600);
      } catch (err) {
        throw new LedgerError(`cannot write the replay ledger: ${errorMessage(err)}`, err);
      }
      this.data = next;
    };
    const p = this.writes.then(run, run);
    this.writes = p.catch(() => undefined);
    return p;
  }
}

/** Drops envelopes that expired more than a week before `nowS` (their jti can no longer pass the time check). */
export function prune(d: LedgerData, nowS: number): void {
  for (const [jti, e] of Object.entries(d.jti)) if (e.exp + PRUNE_GRACE_S < nowS) delete d.jti[jti];
}
