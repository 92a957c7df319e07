/**
 * Per-row outcomes of an evaluation and the metrics computed from them: each metric is the mean of a per-row
 * value, so it gets a bootstrap interval over rows, and two systems measured on the same rows can be paired.
 */
import { bootstrapMeans, pairedBootstrap, type BootstrapOptions, type Interval, type PairedEstimate } from "./bootstrap";
import { hitAtK, ndcgAtK, rankingMetrics } from "./ranking";

/** What happened on each row, in evaluation order; a part that was not measured is absent. */
export interface RowOutcomes {
  /** Row number of each evaluated row in its source file. */
  rowIds: number[];
  /** Free generation: 1 when the output names exactly one candidate and it is the target, else 0. */
  generationHit?: number[];
  /** Free generation: 1 when the output names exactly one candidate, else 0. */
  generationValid?: number[];
  /** 1-based rank of the target among the candidates by summed log-prob, ties counted against it. */
  rank?: number[];
  /** Greedy decoding restricted to the candidates' titles: 1 when it spells the target's title, else 0. */
  constrainedHit?: number[];
  /** Item id of each row's target (chosen_item), for the popularity-bias metrics (popularity-bias.ts). */
  targetItem?: number[];
  /** Item id of the candidate the ranking puts first (ranking.ts topCandidate: a tie at the top goes against the target). */
  rankTopItem?: number[];
  /** Item id of the one candidate a valid free-generation answer names; -1 where the answer is not valid. */
  generationItem?: number[];
}

/** The metrics of an EvalResult, each a mean over rows of a per-row value. */
export const METRIC_NAMES = ["hr1", "validRatio", "hr3", "hr5", "ndcg3", "ndcg5", "rankHr1", "constrainedHr1"] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

export type MetricValues = Record<MetricName, number>;
export type MetricIntervals = Record<MetricName, Interval>;

/** Row i's value of `metric` (its mean over rows is the metric), or undefined when that part was not measured. */
export function perRowValues(outcomes: RowOutcomes, metric: MetricName): number[] | undefined {
  switch (metric) {
    case "hr1":
      return outcomes.generationHit;
    case "validRatio":
      return outcomes.generationValid;
    case "constrainedHr1":
      return outcomes.constrainedHit;
    case "rankHr1":
      return outcomes.rank?.map((r) => hitAtK(r, 1));
    case "hr3":
      return outcomes.rank?.map((r) => hitAtK(r, 3));
    case "hr5":
      return outcomes.rank?.map((r) => hitAtK(r, 5));
    case "ndcg3":
      return outcomes.rank?.map((r) => ndcgAtK(r, 3));
    case "ndcg5":
      return outcomes.rank?.map((r) => ndcgAtK(r, 5));
    default:
      throw new RangeError(`perRowValues: unknown metric ${JSON.stringify(metric)}; expected one of ${METRIC_NAMES.join(", ")}`);
  }
}

export function checkOutcomes(outcomes: RowOutcomes): void {
  const rows = outcomes.rowIds.length;
  for (const part of ["generationHit", "generationValid", "rank", "constrainedHit", "targetItem", "rankTopItem", "generationItem"] as const) {
    const values = outcomes[part];
    if (values && values.length !== rows) throw new RangeError(`row outcomes: ${part} has ${values.length} rows, rowIds has ${rows}`);
  }
}

const sum = (values: number[]): number => values.reduce((s, v) => s + v, 0);

/**
 * Every metric with its bootstrap interval (one shared draw of rows for all metrics). A metric whose part
 * was not measured is NaN with interval [NaN, NaN]; with no rows, measured metrics are 0 and intervals NaN.
 * `bootstrap: false` skips the resampling (all intervals NaN).
 */
export function summarizeOutcomes(
  outcomes: RowOutcomes,
  bootstrap: BootstrapOptions | false = {}
): { metrics: MetricValues; intervals: MetricIntervals } {
  checkOutcomes(outcomes);
  const rows = outcomes.rowIds.length;
  const share = (values: number[] | undefined): number => (values ? (rows === 0 ? 0 : sum(values) / rows) : NaN);
  const ranked = outcomes.rank ? rankingMetrics(outcomes.rank) : undefined;
  const metrics: MetricValues = {
    hr1: share(outcomes.generationHit),
    validRatio: share(outcomes.generationValid),
    hr3: ranked ? ranked.hr3 : NaN,
    hr5: ranked ? ranked.hr5 : NaN,
    ndcg3: ranked ? ranked.ndcg3 : NaN,
    ndcg5: ranked ? ranked.ndcg5 : NaN,
    rankHr1: ranked ? ranked.hr1 : NaN,
    constrainedHr1: share(outcomes.constrainedHit),
  };
  const intervals = Object.fromEntries(METRIC_NAMES.map((m) => [m, [NaN, NaN]])) as unknown as MetricIntervals;
  if (bootstrap !== false && rows > 0) {
    const columns: Partial<Record<MetricName, number[]>> = {};
    for (const m of METRIC_NAMES) {
      const values = perRowValues(outcomes, m);
      if (values) columns[m] = values;
    }
    const estimates = bootstrapMeans(columns as Record<MetricName, number[]>, bootstrap);
    for (const m of Object.keys(estimates) as MetricName[]) intervals[m] = estimates[m].interval;
  }
  return { metrics, intervals };
}

/**
 * Paired bootstrap of `metric` for system a minus system b over the same rows (row ids must match in order:
 * evaluate both on the same data with the same maxRows).
 */
export function pairedMetricBootstrap(
  a: RowOutcomes,
  b: RowOutcomes,
  metric: MetricName,
  options: BootstrapOptions = {}
): PairedEstimate {
  const va = perRowValues(a, metric);
  const vb = perRowValues(b, metric);
  if (!va || !vb) throw new RangeError(`pairedMetricBootstrap: ${metric} was not measured for ${!va ? "the first" : "the second"} system`);
  if (a.rowIds.length !== b.rowIds.length) {
    throw new RangeError(`pairedMetricBootstrap: the systems were evaluated on ${a.rowIds.length} and ${b.rowIds.length} rows; pairs need the same rows`);
  }
  for (let i = 0; i < a.rowIds.length; i++) {
    if (a.rowIds[i] !== b.rowIds[i]) {
      throw new RangeError(`pairedMetricBootstrap: evaluated row ${i} is row ${a.rowIds[i]} for the first system and row ${b.rowIds[i]} for the second`);
    }
  }
  return pairedBootstrap(va, vb, options);
}
