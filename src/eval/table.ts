/** Plain-text tables of evaluation results, like the paper's ablation table, with bootstrap intervals. */
import type { Interval } from "./bootstrap";
import type { EvalResult } from "./evaluate";
import type { MetricName } from "./outcomes";

/** What a table row reads of a result: the metrics, and intervals / constrainedHr1 where measured. */
export type TableResult = Omit<EvalResult, "intervals" | "perRow" | "constrainedHr1"> & {
  constrainedHr1?: number;
  intervals?: Partial<Record<MetricName, Interval>>;
};

const COLUMNS: { header: string; key: MetricName }[] = [
  { header: "HR@1", key: "hr1" },
  { header: "ValidRatio", key: "validRatio" },
  { header: "HR@3", key: "hr3" },
  { header: "HR@5", key: "hr5" },
  { header: "NDCG@3", key: "ndcg3" },
  { header: "NDCG@5", key: "ndcg5" },
  { header: "rank HR@1", key: "rankHr1" },
];
/** Shown only when some row measured it (evaluate's `constrained` option). */
const CONSTRAINED_COLUMN = { header: "constrained HR@1", key: "constrainedHr1" as MetricName };

/** `0.2434 [0.19, 0.30]`: the metric to 4 places, its interval (when known) to 2; `-` when not measured. */
export function formatMetricCell(value: number | undefined, interval?: Interval): string {
  if (value === undefined || !Number.isFinite(value)) return "-";
  const point = value.toFixed(4);
  if (!interval || !Number.isFinite(interval[0]) || !Number.isFinite(interval[1])) return point;
  return `${point} [${interval[0].toFixed(2)}, ${interval[1].toFixed(2)}]`;
}

/**
 * One row per method: `method | HR@1 | ValidRatio | HR@3 | ...`, columns padded, `-` for metrics not
 * measured, each metric followed by its interval when the result has one.
 */
export function formatMetricsTable(rows: { method: string; result: TableResult }[]): string {
  const showConstrained = rows.some(({ result }) => Number.isFinite(result.constrainedHr1));
  const columns = showConstrained ? [...COLUMNS, CONSTRAINED_COLUMN] : COLUMNS;
  const header = ["method", ...columns.map((c) => c.header), "rows"];
  const body = rows.map(({ method, result }) => [
    method,
    ...columns.map((c) => formatMetricCell((result as Partial<Record<MetricName, number>>)[c.key], result.intervals?.[c.key])),
    String(result.rows),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ");
  const rule = widths.map((w) => "-".repeat(w)).join("-|-");
  return [line(header), rule, ...body.map(line)].join("\n");
}
