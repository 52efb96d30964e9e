/** What a chaos run does, decided up front from its seed: the jobs, and the faults with their moments. */
import type { HandlerName, PlannedJob } from './check';

/** mulberry32: tiny, seedable, good enough to pick jobs and moments reproducibly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ChaosOptions {
  seed: number;
  jobs: number;
  kills: number;
  brokerRestarts: number;
  drops: number;
  stalls: number;
  halfOpens: number;
  /** Times the state directory (a tmpfs) is filled up (real ENOSPC) for stallMs, then freed. Needs root. */
  diskFulls: number;
  /** Longest a handler works, ms (each job draws 0..this). */
  maxJobMs: number;
  /** The namespace served over the HTTPS data plane (the other half of the jobs use the default). */
  namespace: string;
  /** Give up waiting for every execution to end after this long, ms. */
  deadlineMs: number;
  /** Where to save every agent's output when a violation is found (nothing saved when absent). */
  logDir?: string;
}

export const DEFAULTS: ChaosOptions = {
  seed: 20240611,
  jobs: 300,
  kills: 12,
  brokerRestarts: 3,
  drops: 6,
  stalls: 4,
  halfOpens: 2,
  diskFulls: 3,
  maxJobMs: 400,
  namespace: 'fleet',
  deadlineMs: 600_000,
};

export interface JobPlan extends PlannedJob {
  ms: number;
}

export function planJobs(o: ChaosOptions, rnd: () => number): JobPlan[] {
  const out: JobPlan[] = [];
  for (let i = 0; i < o.jobs; i++) {
    const handler: HandlerName = rnd() < 0.7 ? 'record' : 'again';
    const namespace = rnd() < 0.5 ? '' : o.namespace;
    const outcome = handler === 'record' && rnd() < 0.1 ? 'FAILED' : 'SUCCEEDED';
    const ms = Math.floor(rnd() * o.maxJobMs);
    out.push({ jobId: `chaos-${String(i).padStart(4, '0')}-${handler}`, namespace, handler, outcome, ms });
  }
  return out;
}

export type FaultKind = 'kill' | 'kill-mid-job' | 'broker-restart' | 'drop' | 'stall' | 'half-open' | 'disk-full';

export interface PlannedFault {
  kind: FaultKind;
  /** Fire once this fraction of the jobs has ended (spreads the faults over the run whatever its speed). */
  atFraction: number;
  /** Extra wait after that point, ms. */
  delayMs: number;
  /** Stall length, ms. */
  stallMs: number;
}

export function planFaults(o: ChaosOptions, rnd: () => number): PlannedFault[] {
  const kinds: FaultKind[] = [];
  // Half the kills wait for a handler to be running, so "interrupted" is exercised every run.
  for (let i = 0; i < o.kills; i++) kinds.push(i % 2 === 0 ? 'kill-mid-job' : 'kill');
  for (let i = 0; i < o.brokerRestarts; i++) kinds.push('broker-restart');
  for (let i = 0; i < o.drops; i++) kinds.push('drop');
  for (let i = 0; i < o.stalls; i++) kinds.push('stall');
  for (let i = 0; i < o.halfOpens; i++) kinds.push('half-open');
  for (let i = 0; i < o.diskFulls; i++) kinds.push('disk-full');
  const faults = kinds.map((kind) => ({ kind, atFraction: 0.03 + rnd() * 0.85, delayMs: Math.floor(rnd() * 300), stallMs: 500 + Math.floor(rnd() * 2500) }));
  return faults.sort((a, b) => a.atFraction - b.atFraction);
}
