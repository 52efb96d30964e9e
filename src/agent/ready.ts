/**
 * The executions waiting for a slot, in dispatch order (src/agent/order.ts). Each namespace keeps its
 * candidates sorted in its own service order; the next one to run is the first of the namespace
 * heads. Pure: no I/O, no timers.
 */
import type { ExecRef } from '../store/types';
import { compareExecutions } from './order';
import type { Orderable, Sequenced } from './order';
import { refKey } from './reconcile';

export type Entry<T> = T & Sequenced;

export class ReadyQueue<T extends Orderable & ExecRef> {
  private seq = 0;
  private readonly byKey = new Map<string, Entry<T>>();
  private readonly lanes = new Map<string, Entry<T>[]>();

  get size(): number {
    return this.byKey.size;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  get(key: string): Entry<T> | undefined {
    return this.byKey.get(key);
  }

  keys(): string[] {
    return [...this.byKey.keys()];
  }

  /** True when a candidate of this namespace is waiting. */
  hasNamespace(ns: string): boolean {
    return (this.lanes.get(ns)?.length ?? 0) > 0;
  }

  /** Adds a candidate, stamped with the next discovery number; false when its key is already queued. */
  add(c: T): boolean {
    const key = refKey(c);
    if (this.byKey.has(key)) return false;
    this.insert(key, { ...c, seen: ++this.seq } as Entry<T>);
    return true;
  }

  /**
   * Returns a candidate taken by `takeNext` that could not start, with the discovery number it had:
   * it goes back to its own place (the head of its line, unless the line changed meanwhile), not
   * behind what was found after it. False when its key is queued again already.
   */
  putBack(e: Entry<T>): boolean {
    const key = refKey(e);
    if (this.byKey.has(key)) return false;
    this.insert(key, e);
    return true;
  }

  delete(key: string): boolean {
    const e = this.byKey.get(key);
    if (!e) return false;
    this.byKey.delete(key);
    const lane = this.lanes.get(e.namespace);
    if (lane) lane.splice(lane.indexOf(e), 1);
    return true;
  }

  /**
   * Removes and returns the first of the namespace heads, or undefined when nothing waits. A line
   * `held` says to skip is passed over whole: nothing behind its head may overtake it.
   */
  takeNext(held?: (namespace: string) => boolean): Entry<T> | undefined {
    let best: Entry<T> | undefined;
    for (const [ns, lane] of this.lanes) {
      if (held?.(ns)) continue;
      const head = lane[0];
      if (head && (!best || compareExecutions(head, best) < 0)) best = head;
    }
    if (best) this.delete(refKey(best));
    return best;
  }

  /**
   * Renumbers what is queued so that ties between namespaces follow `order` (namespaces not named
   * come last, by name). Called once when dispatch begins: the first listings of all namespaces
   * arrive in whatever order their requests answered, which must not decide the start-up order.
   * Each lane's own order is kept, so every lane stays sorted.
   */
  resequence(order: readonly string[]): void {
    const rest = [...this.lanes.keys()].filter((ns) => !order.includes(ns)).sort();
    let n = 0;
    for (const ns of [...order, ...rest]) for (const e of this.lanes.get(ns) ?? []) e.seen = ++n;
    this.seq = n;
  }

  clear(): void {
    this.byKey.clear();
    this.lanes.clear();
  }

  private insert(key: string, e: Entry<T>): void {
    this.byKey.set(key, e);
    const lane = this.lanes.get(e.namespace) ?? [];
    this.lanes.set(e.namespace, lane);
    lane.splice(insertionPoint(lane, e), 0, e);
  }
}

function insertionPoint<T extends Sequenced>(lane: readonly T[], e: T): number {
  // New discoveries usually sort last (discovery order is service order), so try the end first.
  const last = lane[lane.length - 1];
  if (last === undefined || compareExecutions(last, e) < 0) return lane.length;
  let lo = 0;
  let hi = lane.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareExecutions(lane[mid] as T, e) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
