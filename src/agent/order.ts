/**
 * Dispatch order (docs/ARCHITECTURE.md §3). Pure.
 *
 * Within one namespace the service's own order is kept: executions found IN_PROGRESS at start-up
 * first, then `executionNumber`, then `queuedAt`, then the order the agent discovered them. Each
 * listing (GetPendingJobExecutions or a notify's list) is in service order, and anything first seen
 * in a later listing lies beyond everything seen in an earlier one, so discovery order is the
 * service's order even across cut lists. Positions *within* a listing are not used: positions of two
 * listings cannot be compared.
 *
 * Between namespaces nothing in the protocol orders two jobs queued in the same second (`queuedAt`
 * has whole seconds and every listing covers one namespace). The same keys then decide between the
 * namespace heads, and a full tie goes to the execution the agent learned of first: notifications
 * arrive in the order the service queues executions, which is the best evidence left. Executions
 * discovered before dispatch begins are re-sequenced in configuration order (see ReadyQueue), so
 * the start-up order does not depend on which namespace's first listing answered first.
 *
 * Because `seen` is one counter for all namespaces and is assigned in each namespace's service
 * order, one lexicographic comparator orders both within a namespace and between heads: it is a
 * total order (transitive, antisymmetric), unlike a rule that breaks ties by listing position within
 * a namespace and by jobId across them (which has cycles).
 */

export interface Orderable {
  jobId: string;
  executionNumber: number;
  /** Epoch seconds, as the service reports it. */
  queuedAt: number;
  /** '' = the default namespace. */
  namespace?: string;
  /** Found IN_PROGRESS at start-up: resolve first. */
  resumeFirst?: boolean;
}

export interface Sequenced extends Orderable {
  /** When the agent first learned of the execution: one counter across namespaces (see ReadyQueue). */
  seen: number;
}

export function compareExecutions(a: Sequenced, b: Sequenced): number {
  const ra = a.resumeFirst ? 0 : 1;
  const rb = b.resumeFirst ? 0 : 1;
  if (ra !== rb) return ra - rb;
  if (a.executionNumber !== b.executionNumber) return a.executionNumber - b.executionNumber;
  if (a.queuedAt !== b.queuedAt) return a.queuedAt - b.queuedAt;
  if (a.seen !== b.seen) return a.seen - b.seen;
  // Never reached for entries of one ReadyQueue (seen is unique); keeps the order total for any input.
  const na = a.namespace ?? '';
  const nb = b.namespace ?? '';
  if (na !== nb) return na < nb ? -1 : 1;
  return a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0;
}

/** A new array in dispatch order (the input is not modified). */
export function orderExecutions<T extends Sequenced>(items: readonly T[]): T[] {
  return [...items].sort(compareExecutions);
}
