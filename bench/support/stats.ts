/** Order statistics for the benchmark figures. */

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one host. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The q-quantile (0..1) by linear interpolation between closest ranks; NaN for no data. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = s[lo] ?? Number.NaN;
  const b = s[hi] ?? a;
  return a + (b - a) * (pos - lo);
}

/** One figure over repeated runs: its median and spread. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  p10: number;
  p90: number;
  runs: number[];
}

export function spread(runs: readonly number[]): Spread {
  const ok = runs.filter((v) => Number.isFinite(v));
  return {
    median: quantile(ok, 0.5),
    min: ok.length ? Math.min(...ok) : Number.NaN,
    max: ok.length ? Math.max(...ok) : Number.NaN,
    p10: quantile(ok, 0.1),
    p90: quantile(ok, 0.9),
    runs: [...runs],
  };
}

export function round(v: number, digits = 2): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
