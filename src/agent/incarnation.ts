/**
 * Which execution is which, when a job id is used twice (docs/ARCHITECTURE.md §3 "Recreated jobs").
 * AWS lets an operator reuse a jobId once the old job's deletion has completed; the new job's
 * execution on this thing is executionNumber 1 again, so (namespace, jobId, executionNumber) alone
 * names two different executions. What the service says tells them apart: the new one was queued at
 * another time, and its versionNumber starts again below what the old one reached under this agent.
 *
 * The agent's rule: it never runs again an execution it ran, and never ignores one it did not run.
 * Every "is this the one I know?" question about a listed execution, a recovered one or a refused
 * update goes through this module.
 */

/** What the agent remembers of an execution it took (journal, or this process's memory). */
export interface Remembered {
  /** queuedAt the service gave it (whole seconds), when known. */
  queuedAt?: number | undefined;
  /** The version our IN_PROGRESS update gives (or gave) it: the execution reaches it the moment it runs. */
  versionNumber?: number | undefined;
}

/** What the service says of an execution now (a listing summary, a describe). */
export interface Sighting {
  queuedAt: number;
  versionNumber: number;
}

/**
 * Whether the service's execution is the one the agent remembers. Another queuedAt is another
 * execution; a version below the one our IN_PROGRESS gives means our start never reached what is
 * listed now (a new job behind the old id, or a start cut short before the service took it — in
 * both cases no handler ever ran on it). Versions never go down for one execution.
 */
export function sameExecution(now: Sighting, known: Remembered): boolean {
  if (known.queuedAt !== undefined && known.queuedAt !== now.queuedAt) return false;
  if (known.versionNumber !== undefined && now.versionNumber < known.versionNumber) return false;
  return true;
}

/**
 * For an outcome the service refused with the execution's state: the state cannot be the
 * execution the outcome is for when it is below the version the outcome was written against. The
 * outcome must then be dropped, never retried at the reported version (that would finish a job
 * that never ran).
 */
export function stateOfAnother(outcomeVersion: number | undefined, state: { versionNumber: number }): boolean {
  return outcomeVersion !== undefined && state.versionNumber < outcomeVersion;
}
