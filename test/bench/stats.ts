/**
 * Latency samples and their summary. Samples are kept whole (a growable Float64Array with a
 * hard cap) so percentiles are exact, not estimated from buckets.
 */

/** Percentiles of one series, in milliseconds. */
export interface LatencySummary {
  count: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  p9999: number;
  max: number;
}

/** An empty summary (no samples): every figure is NaN, so nothing can pass by accident. */
export const NO_SAMPLES: LatencySummary = { count: 0, mean: NaN, min: NaN, p50: NaN, p90: NaN, p99: NaN, p999: NaN, p9999: NaN, max: NaN };

/** At most this many samples per series (a 60 s run at 50,000/s fits). */
export const SAMPLE_CAP = 5_000_000;

export class Samples {
  private data = new Float64Array(4096);
  private n = 0;
  /** Samples beyond the cap: counted, not kept. */
  dropped = 0;

  add(ms: number): void {
    if (this.n === this.data.length) {
      if (this.n >= SAMPLE_CAP) {
        this.dropped++;
        return;
      }
      const next = new Float64Array(Math.min(SAMPLE_CAP, this.data.length * 2));
      next.set(this.data);
      this.data = next;
    }
    this.data[this.n++] = ms;
  }

  get count(): number {
    return this.n;
  }

  summary(): LatencySummary {
    return summarize(this.data.subarray(0, this.n));
  }
}

/** Nearest-rank percentile of sorted values (q in 0..1). */
function rank(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function summarize(values: ArrayLike<number>): LatencySummary {
  const n = values.length;
  if (n === 0) return { ...NO_SAMPLES };
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return {
    count: n,
    mean: sum / n,
    min: sorted[0]!,
    p50: rank(sorted, 0.5),
    p90: rank(sorted, 0.9),
    p99: rank(sorted, 0.99),
    p999: rank(sorted, 0.999),
    p9999: rank(sorted, 0.9999),
    max: sorted[n - 1]!,
  };
}

/** The median of a few numbers (repeated measurements). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
