/**
 * Dispatch order (docs/ARCHITECTURE.md §3): executionNumber, then queuedAt, then the order the service listed
 * them (queuedAt has whole seconds only; the service keeps creation order within a second), then
 * jobId. Executions found IN_PROGRESS at start-up are resolved before all of these. Pure.
 */

export interface Orderable {
  jobId: string;
  executionNumber: number;
  queuedAt: number;
  /** Position in the service's listing, the stable-sort key; comparable only within one namespace. */
  listedIndex: number;
  /**
   * '' = default. Listing positions of different namespaces are not compared (a tie within the same
   * second then falls to jobId), which is the best the protocol allows: nothing orders jobs of two
   * namespaces created in the same second.
   */
  namespace?: string;
  /** Found IN_PROGRESS at start-up: resolve first. */
  resumeFirst?: boolean;
}

export function compareExecutions(a: Orderable, b: Orderable): number {
  const ra = a.resumeFirst ? 0 : 1;
  const rb = b.resumeFirst ? 0 : 1;
  if (ra !== rb) return ra - rb;
  if (a.executionNumber !== b.executionNumber) return a.executionNumber - b.executionNumber;
  if (a.queuedAt !== b.queuedAt) return a.queuedAt - b.queuedAt;
  if ((a.namespace ?? '') === (b.namespace ?? '') && a.listedIndex !== b.listedIndex) return a.listedIndex - b.listedIndex;
  return a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0;
}

/** A new array in dispatch order (the input is not modified). */
export function orderExecutions<T extends Orderable>(items: readonly T[]): T[] {
  return [...items].sort(compareExecutions);
}
