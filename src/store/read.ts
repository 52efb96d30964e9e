/**
 * Read-only view of a state directory for `status`: safe to run while the agent is writing, since
 * it only reads and tolerates a tail that is being appended right now.
 */
import { promises as fsp } from 'node:fs';
import { loadState } from './journal-file';
import { finishOrder, startOrder } from './records';
import type { JournalEntry, OutboxItem } from './types';

export interface OutcomeView extends JournalEntry {
  /** finishedAt - startedAt, when both are known and the wall clock did not jump back in between. */
  durationMs?: number;
}

export interface JournalView {
  /** Executions started or finished but not yet reported, oldest start first. */
  current: JournalEntry[];
  /** Executions with an outcome (finished or reported), most recent first. */
  recent: OutcomeView[];
  outbox: OutboxItem[];
  outboxLength: number;
  /** Damage found while reading (torn tail, skipped lines). */
  warnings: string[];
  /** False when the directory holds no state yet. */
  exists: boolean;
}

export async function readJournal(dir: string, opts: { recentLimit?: number } = {}): Promise<JournalView> {
  const exists = await fsp.stat(dir).then(
    (st) => st.isDirectory(),
    () => false,
  );
  if (!exists) return { current: [], recent: [], outbox: [], outboxLength: 0, warnings: [], exists: false };
  const { state, warnings } = await loadState(dir);
  const active = [...state.active.values()];
  const current = active.filter((e) => e.state !== 'reported').sort((a, b) => startOrder(a) - startOrder(b));
  const recent = [...active, ...state.reported]
    .filter((e) => e.outcome !== undefined)
    .sort((a, b) => finishOrder(b) - finishOrder(a))
    .slice(0, opts.recentLimit ?? 20)
    .map((e): OutcomeView => (e.finishedAt === undefined || e.finishedAt < e.startedAt ? e : { ...e, durationMs: e.finishedAt - e.startedAt }));
  return { current, recent, outbox: state.outbox, outboxLength: state.outbox.length, warnings, exists: true };
}
