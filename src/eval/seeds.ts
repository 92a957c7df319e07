/**
 * Evaluations of one method trained with several seeds, on the same rows, pooled into one estimate: each
 * metric is the mean over seeds, and its interval a bootstrap over rows of the per-row values averaged over
 * seeds (the rows are the sample a conclusion must generalise over; the seeds' spread is reported beside it).
 * Paired comparisons of two methods use the same per-row seed averages, so row difficulty cancels.
 */
import { bootstrapMeans, pairedBootstrap, type BootstrapOptions, type Interval, type PairedEstimate } from "./bootstrap";
import type { EvalResult } from "./evaluate";
import { METRIC_NAMES, perRowValues, type MetricName } from "./outcomes";
import type { TableResult } from "./table";

export interface PooledResult extends TableResult {
  seeds: number;
  /** Each metric's value per seed, in the order given (NaN where not measured). */
  perSeed: Record<MetricName, number[]>;
  /** Each metric's smallest and largest value over the seeds. */
  seedRange: Record<MetricName, Interval>;
}

/** Per-row values of `metric` averaged over the seeds' evaluations; undefined when any seed did not measure it. */
export function seedAveragedRows(results: readonly EvalResult[], metric: MetricName): number[] | undefined {
  if (results.length === 0) throw new RangeError("seedAveragedRows: no evaluations given");
  const ids = results[0].perRow.rowIds;
  for (const [i, r] of results.entries()) {
    const other = r.perRow.rowIds;
    if (other.length !== ids.length || other.some((id, j) => id !== ids[j])) {
      throw new RangeError(`seed evaluation ${i} covers other rows than evaluation 0: evaluate every seed on the same rows`);
    }
  }
  const columns = results.map((r) => perRowValues(r.perRow, metric));
  if (columns.some((c) => c === undefined)) return undefined;
  return ids.map((_, j) => columns.reduce((s, c) => s + (c as number[])[j], 0) / results.length);
}

/** One method's evaluations over seeds (same rows), pooled as the module comment says. */
export function poolSeeds(results: readonly EvalResult[], bootstrap: BootstrapOptions = {}): PooledResult {
  const perSeed = {} as Record<MetricName, number[]>;
  const seedRange = {} as Record<MetricName, Interval>;
  const columns: Partial<Record<MetricName, number[]>> = {};
  for (const m of METRIC_NAMES) {
    perSeed[m] = results.map((r) => (r as unknown as Record<MetricName, number>)[m] ?? NaN);
    seedRange[m] = [Math.min(...perSeed[m]), Math.max(...perSeed[m])];
    const rows = seedAveragedRows(results, m);
    if (rows && rows.length > 0) columns[m] = rows;
  }
  const estimates = bootstrapMeans(columns as Record<MetricName, number[]>, bootstrap);
  const metrics = {} as Record<MetricName, number>;
  const intervals = {} as Record<MetricName, Interval>;
  for (const m of METRIC_NAMES) {
    metrics[m] = estimates[m]?.mean ?? NaN;
    intervals[m] = estimates[m]?.interval ?? [NaN, NaN];
  }
  return { ...metrics, rows: results[0].perRow.rowIds.length, intervals, seeds: results.length, perSeed, seedRange };
}

/** Method a minus method b on `metric`: paired bootstrap over rows of their seed-averaged per-row values. */
export function compareSeeds(a: readonly EvalResult[], b: readonly EvalResult[], metric: MetricName, bootstrap: BootstrapOptions = {}): PairedEstimate {
  const va = seedAveragedRows(a, metric);
  const vb = seedAveragedRows(b, metric);
  if (!va || !vb) throw new RangeError(`compareSeeds: ${metric} was not measured for ${!va ? "the first" : "the second"} method`);
  if (a[0].perRow.rowIds.some((id, j) => id !== b[0].perRow.rowIds[j]) || va.length !== vb.length) {
    throw new RangeError("compareSeeds: the two methods were evaluated on different rows");
  }
  return pairedBootstrap(va, vb, bootstrap);
}

/** `S-DPO - DPO  HR@1 +0.0112 [-0.02, 0.04]  P(>0) 0.74` */
export function formatComparison(label: string, metric: string, estimate: PairedEstimate): string {
  const sign = (x: number) => (x >= 0 ? "+" : "") + x.toFixed(4);
  const [lo, hi] = estimate.interval;
  return `${label}  ${metric.padEnd(14)} ${sign(estimate.meanDiff)} [${lo.toFixed(2)}, ${hi.toFixed(2)}]  P(>0) ${estimate.probabilityPositive.toFixed(2)}`;
}
