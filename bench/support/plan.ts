/** Sizes and repetitions of a benchmark run: the full run, or a quick smoke run (BENCH_QUICK=1). */
import type { AgentKind } from './agents';

export interface Plan {
  quick: boolean;
  limit: { mqttEchoes: number; syncAppends: number; runs: number };
  /** Jobs per run and runs, per agent kind. */
  latency: Record<AgentKind, { jobs: number; runs: number }>;
  /** Backlog sizes per agent kind (ours-crt pays ≈ 40 ms a request: only the small ones). */
  drain: { sizes: Record<AgentKind, number[]>; runs: (size: number) => number; limitMs: (size: number) => number };
  idle: { copies: number; windowMs: number };
  startup: { runs: number };
  /** The release executable through many no-op jobs, memory read at each checkpoint, then reconnects (with a time budget). */
  soak: { checkpoints: number[]; reconnects: number; reconnectBudgetMs: number };
  /** The local Jobs service at fleet scale: things in groups under one continuous job, membership changes timed. */
  simScale: { things: number; changes: number; runs: number };
}

export function planFrom(env: NodeJS.ProcessEnv): Plan {
  const quick = env['BENCH_QUICK'] === '1';
  if (quick) {
    return {
      quick,
      limit: { mqttEchoes: 100, syncAppends: 100, runs: 2 },
      latency: { ours: { jobs: 50, runs: 2 }, 'ours-crt': { jobs: 30, runs: 1 }, release: { jobs: 50, runs: 1 }, baseline: { jobs: 50, runs: 1 } },
      drain: { sizes: { ours: [20, 100, 300], 'ours-crt': [20], release: [20, 100], baseline: [20, 100, 300] }, runs: () => 1, limitMs: () => 60_000 },
      idle: { copies: 1, windowMs: 5_000 },
      startup: { runs: 2 },
      soak: { checkpoints: [50, 150, 250], reconnects: 5, reconnectBudgetMs: 30_000 },
      simScale: { things: 2_000, changes: 50, runs: 1 },
    };
  }
  return {
    quick,
    limit: { mqttEchoes: 1_000, syncAppends: 100, runs: 5 },
    // The baseline needs ~90 ms a job here (see RESULTS.md), so its repetitions are fewer; ours on
    // aws-crt pays the same ≈ 40 ms stall a request (no TCP_NODELAY), so it runs fewer jobs.
    latency: { ours: { jobs: 1_000, runs: 3 }, 'ours-crt': { jobs: 300, runs: 1 }, release: { jobs: 1_000, runs: 2 }, baseline: { jobs: 300, runs: 1 } },
    drain: {
      sizes: { ours: [100, 1_000, 10_000], 'ours-crt': [100], release: [100, 1_000], baseline: [100, 1_000] },
      runs: (size) => (size >= 10_000 ? 1 : size >= 1_000 ? 2 : 3),
      // A bounded run: the part drained within the limit is measured and marked incomplete.
      limitMs: (size) => (size >= 10_000 ? 150_000 : 120_000),
    },
    idle: { copies: 3, windowMs: 60_000 },
    startup: { runs: 5 },
    soak: { checkpoints: [500, 1_500, 2_500], reconnects: 50, reconnectBudgetMs: 300_000 },
    simScale: { things: 10_000, changes: 200, runs: 1 },
  };
}
