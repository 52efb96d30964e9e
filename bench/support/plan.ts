/** Sizes and repetitions of a benchmark run: the full run, or a quick smoke run (BENCH_QUICK=1). */

export interface Plan {
  quick: boolean;
  limit: { mqttEchoes: number; syncAppends: number; runs: number };
  latency: { jobs: number; runsOurs: number; runsBaseline: number };
  drain: { sizes: number[]; runs: (size: number) => number; limitMs: (size: number) => number };
  idle: { copies: number; windowMs: number };
  startup: { runs: number };
}

export function planFrom(env: NodeJS.ProcessEnv): Plan {
  const quick = env['BENCH_QUICK'] === '1';
  if (quick) {
    return {
      quick,
      limit: { mqttEchoes: 100, syncAppends: 100, runs: 2 },
      latency: { jobs: 50, runsOurs: 2, runsBaseline: 1 },
      drain: { sizes: [20, 100, 300], runs: () => 1, limitMs: () => 60_000 },
      idle: { copies: 1, windowMs: 5_000 },
      startup: { runs: 2 },
    };
  }
  return {
    quick,
    limit: { mqttEchoes: 1_000, syncAppends: 100, runs: 5 },
    // The baseline needs ~90 ms a job here (see RESULTS.md), so its repetitions are fewer.
    latency: { jobs: 1_000, runsOurs: 3, runsBaseline: 2 },
    drain: {
      sizes: [100, 1_000, 10_000],
      runs: (size) => (size >= 10_000 ? 1 : size >= 1_000 ? 2 : 3),
      // A bounded run: the part drained within the limit is measured and marked incomplete.
      limitMs: (size) => (size >= 10_000 ? 150_000 : 120_000),
    },
    idle: { copies: 3, windowMs: 60_000 },
    startup: { runs: 5 },
  };
}
