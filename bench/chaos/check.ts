/**
 * The chaos verdict, from the service's own history, the handlers' own log and what the agent
 * logged as journaled: pure, so it is tested on its own and the harness only gathers evidence.
 */

export type HandlerName = 'record' | 'again';

export interface PlannedJob {
  jobId: string;
  namespace: string;
  handler: HandlerName;
  /** What the handler returns when it runs to the end. */
  outcome: 'SUCCEEDED' | 'FAILED';
}

export interface Transition {
  jobId: string;
  executionNumber: number;
  from: string;
  to: string;
  by: 'device' | 'service';
  statusDetails?: Record<string, string>;
}

export interface HandlerEvent {
  h: string;
  jobId: string;
  executionNumber: number;
  event: 'start' | 'end';
  status?: string;
}

/** An outcome the agent logged as journaled ('job finished'): it must be the one the service ends with. */
export interface JournaledOutcome {
  jobId: string;
  status: string;
  reason?: string;
}

export interface Evidence {
  jobs: readonly PlannedJob[];
  history: readonly Transition[];
  handlerLog: readonly HandlerEvent[];
  journaled: readonly JournaledOutcome[];
  /** Problems the harness saw itself: an agent that did not come back, `status` failing, … */
  harness: readonly string[];
}

export interface Verdict {
  violations: string[];
  byStatus: Record<string, number>;
  interrupted: number;
  rerunsOfIdempotent: number;
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'REJECTED', 'CANCELED', 'TIMED_OUT', 'REMOVED']);

interface Final {
  status: string;
  reason?: string;
}

function finalOf(history: readonly Transition[], jobId: string): Final | undefined {
  let last: Transition | undefined;
  for (const t of history) if (t.jobId === jobId) last = t;
  if (!last) return undefined;
  const reason = last.statusDetails?.['reason'];
  return reason === undefined ? { status: last.to } : { status: last.to, reason };
}

function checkRecord(j: PlannedJob, fin: Final, runs: HandlerEvent[], out: string[]): boolean {
  const starts = runs.filter((r) => r.event === 'start');
  const ends = runs.filter((r) => r.event === 'end');
  const interrupted = fin.status === 'FAILED' && fin.reason === 'interrupted';
  if (starts.length > 1) out.push(`${j.jobId}: non-idempotent handler ran ${starts.length} times`);
  if (starts.length === 1 && ends.length === 0 && !interrupted) {
    out.push(`${j.jobId}: killed while running but ended ${fin.status} (${fin.reason ?? 'no reason'}), not FAILED "interrupted"`);
  }
  if (ends.length > 0 && !interrupted && fin.status !== j.outcome) out.push(`${j.jobId}: handler returned ${j.outcome} but the service has ${fin.status}`);
  if (starts.length === 0 && !interrupted) out.push(`${j.jobId}: ended ${fin.status} without its handler ever running`);
  return starts.length === 1 && ends.length === 0;
}

function checkAgain(j: PlannedJob, fin: Final, runs: HandlerEvent[], out: string[]): void {
  if (fin.status !== j.outcome) out.push(`${j.jobId}: idempotent job (policy rerun) ended ${fin.status} (${fin.reason ?? 'no reason'}), expected ${j.outcome}`);
  if (!runs.some((r) => r.event === 'end')) out.push(`${j.jobId}: idempotent job ended ${fin.status} without a run that finished`);
}

/** Device-made terminal updates: exactly one per execution, and nothing after it. */
function checkTransitions(j: PlannedJob, history: readonly Transition[], out: string[]): void {
  const mine = history.filter((t) => t.jobId === j.jobId);
  const terminal = mine.filter((t) => TERMINAL.has(t.to));
  if (terminal.length !== 1) out.push(`${j.jobId}: ${terminal.length} terminal transitions (${terminal.map((t) => t.to).join(', ')})`);
  const service = terminal.filter((t) => t.by === 'service');
  if (service.length > 0) out.push(`${j.jobId}: ended by the service (${service.map((t) => t.to).join(', ')}), not by the agent`);
}

export function checkChaos(e: Evidence): Verdict {
  const violations = [...e.harness];
  const byStatus: Record<string, number> = {};
  let interrupted = 0;
  let rerunsOfIdempotent = 0;
  for (const j of e.jobs) {
    const fin = finalOf(e.history, j.jobId);
    if (!fin || !TERMINAL.has(fin.status)) {
      violations.push(`${j.jobId}: never reached a terminal status (last: ${fin?.status ?? 'QUEUED'})`);
      continue;
    }
    byStatus[fin.status] = (byStatus[fin.status] ?? 0) + 1;
    const runs = e.handlerLog.filter((r) => r.jobId === j.jobId);
    checkTransitions(j, e.history, violations);
    if (j.handler === 'record' && checkRecord(j, fin, runs, violations)) interrupted++;
    if (j.handler === 'again') {
      checkAgain(j, fin, runs, violations);
      rerunsOfIdempotent += Math.max(0, runs.filter((r) => r.event === 'start').length - 1);
    }
    for (const o of e.journaled.filter((x) => x.jobId === j.jobId)) {
      if (o.status !== fin.status || (o.reason !== undefined && o.reason !== fin.reason)) {
        violations.push(`${j.jobId}: outcome lost: journaled ${o.status} (${o.reason ?? '-'}), service has ${fin.status} (${fin.reason ?? '-'})`);
      }
    }
  }
  return { violations, byStatus, interrupted, rerunsOfIdempotent };
}
