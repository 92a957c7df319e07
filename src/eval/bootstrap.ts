/**
 * Seeded percentile bootstrap over rows: intervals for the mean of per-row metrics, and a paired bootstrap
 * for the difference of two systems measured on the same rows.
 *
 * Each resample draws n row indices with replacement (n = number of rows) from a mulberry32 stream seeded by
 * `seed`, so the draws depend only on (seed, n, resamples): every column bootstrapped together, or alone with
 * the same seed, sees the same resampled rows. The interval is the (1 - confidence) / 2 and (1 + confidence) / 2
 * quantiles of the resampled means, linearly interpolated between order statistics (Hyndman-Fan type 7).
 */
import { SeededRng } from "../rng";

/** [lower, upper]; [NaN, NaN] where nothing was measured. */
export type Interval = [number, number];

export interface BootstrapOptions {
  /** Number of resamples; default 1000. */
  resamples?: number;
  /** Coverage of the interval, in (0, 1); default 0.95. */
  confidence?: number;
  /** Seed of the row draws; default 0. */
  seed?: number;
}

export interface MeanEstimate {
  /** The mean over all rows. */
  mean: number;
  interval: Interval;
}

export interface PairedEstimate {
  /** mean(a) - mean(b) over all rows. */
  meanDiff: number;
  /** Percentile interval of the resampled differences. */
  interval: Interval;
  /** Share of resamples whose difference is > 0 (ties count as not positive). */
  probabilityPositive: number;
}

interface CheckedOptions {
  resamples: number;
  confidence: number;
  seed: number;
}

/** The options with defaults filled in; throws a RangeError naming `where` and the bad option. */
export function checkBootstrapOptions(options: BootstrapOptions, where: string): CheckedOptions {
  const resamples = options.resamples ?? 1000;
  const confidence = options.confidence ?? 0.95;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`${where}: resamples must be a positive integer, got ${resamples}`);
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`${where}: confidence must be in (0, 1), got ${confidence}`);
  if (!Number.isInteger(seed)) throw new RangeError(`${where}: seed must be an integer, got ${seed}`);
  return { resamples, confidence, seed };
}

function checkValues(values: ArrayLike<number>, where: string, name: string): void {
  if (values === null || typeof values !== "object" || typeof values.length !== "number") {
    throw new TypeError(`${where}: ${name} must be an array of numbers`);
  }
  if (values.length === 0) throw new RangeError(`${where}: ${name} has no rows to resample`);
  for (let i = 0; i < values.length; i++) {
    if (typeof values[i] !== "number" || !Number.isFinite(values[i])) {
      throw new RangeError(`${where}: ${name}[${i}] is ${String(values[i])}, expected a finite number`);
    }
  }
}

function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

/** Quantile q of ascending `sorted` (type 7: linear between the order statistics around (m - 1) q). */
export function quantileOfSorted(sorted: ArrayLike<number>, q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

function percentileInterval(resampled: Float64Array, confidence: number): Interval {
  const sorted = Float64Array.from(resampled).sort();
  return [quantileOfSorted(sorted, (1 - confidence) / 2), quantileOfSorted(sorted, (1 + confidence) / 2)];
}

/**
 * Resampled means of every column, all columns on the same drawn rows: out[c][r] is column c's mean on
 * resample r. Columns must have equal, non-zero lengths.
 */
function resampledMeans(columns: ArrayLike<number>[], options: CheckedOptions): Float64Array[] {
  const n = columns[0].length;
  const C = columns.length;
  // Row-major copy: a drawn row's values for all columns sit together.
  const matrix = new Float64Array(n * C);
  for (let c = 0; c < C; c++) for (let i = 0; i < n; i++) matrix[i * C + c] = columns[c][i];
  const rng = new SeededRng(options.seed);
  const out = columns.map(() => new Float64Array(options.resamples));
  const sums = new Float64Array(C);
  for (let r = 0; r < options.resamples; r++) {
    sums.fill(0);
    for (let i = 0; i < n; i++) {
      const base = Math.floor(rng.next() * n) * C; // rng.below(n) without its per-call argument check
      for (let c = 0; c < C; c++) sums[c] += matrix[base + c];
    }
    for (let c = 0; c < C; c++) out[c][r] = sums[c] / n;
  }
  return out;
}

/** Mean of a per-row metric with its percentile bootstrap interval over rows. */
export function bootstrapMean(values: ArrayLike<number>, options: BootstrapOptions = {}): MeanEstimate {
  return bootstrapMeans({ values }, options).values;
}

/**
 * Several per-row metrics of the same rows bootstrapped together (one draw of rows per resample, shared by
 * all columns): each gets the same result as bootstrapMean with the same options.
 */
export function bootstrapMeans<K extends string>(
  columns: Record<K, ArrayLike<number>>,
  options: BootstrapOptions = {}
): Record<K, MeanEstimate> {
  const checked = checkBootstrapOptions(options, "bootstrapMeans");
  const names = Object.keys(columns) as K[];
  if (names.length === 0) return {} as Record<K, MeanEstimate>;
  for (const name of names) checkValues(columns[name], "bootstrapMeans", name);
  const n = columns[names[0]].length;
  for (const name of names) {
    if (columns[name].length !== n) {
      throw new RangeError(`bootstrapMeans: ${name} has ${columns[name].length} rows, ${names[0]} has ${n}; columns must cover the same rows`);
    }
  }
  const resampled = resampledMeans(names.map((k) => columns[k]), checked);
  const out = {} as Record<K, MeanEstimate>;
  names.forEach((name, c) => {
    out[name] = { mean: mean(columns[name]), interval: percentileInterval(resampled[c], checked.confidence) };
  });
  return out;
}

/**
 * Paired bootstrap of mean(a) - mean(b) where a[i] and b[i] are two systems' per-row values on the same
 * row i: resampling rows keeps each pair together, so the interval reflects the per-row differences.
 */
export function pairedBootstrap(a: ArrayLike<number>, b: ArrayLike<number>, options: BootstrapOptions = {}): PairedEstimate {
  const checked = checkBootstrapOptions(options, "pairedBootstrap");
  checkValues(a, "pairedBootstrap", "a");
  checkValues(b, "pairedBootstrap", "b");
  if (a.length !== b.length) throw new RangeError(`pairedBootstrap: a has ${a.length} rows and b has ${b.length}; pairs need the same rows`);
  const diff = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) diff[i] = a[i] - b[i];
  const [resampled] = resampledMeans([diff], checked);
  let positive = 0;
  for (const d of resampled) if (d > 0) positive++;
  return {
    meanDiff: mean(a) - mean(b),
    interval: percentileInterval(resampled, checked.confidence),
    probabilityPositive: positive / checked.resamples,
  };
}
