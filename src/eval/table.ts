/** Plain-text tables of evaluation results, like the paper's ablation table, with bootstrap intervals. */
import type { Interval } from "./bootstrap";
import type { EvalResult } from "./evaluate";
import type { MetricName } from "./outcomes";
import type { PopularityBiasResult, Top1Bias } from "./popularity-bias";

/** What a table row reads of a result: the metrics, and intervals / constrainedHr1 where measured. */
export type TableResult = Omit<EvalResult, "intervals" | "perRow" | "constrainedHr1" | "popularityBias"> & {
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

/** `0.2434 [0.19, 0.30]`: the metric to `digits` places (4), its interval (when known) to `intervalDigits` (2); `-` when not measured. */
export function formatMetricCell(value: number | undefined, interval?: Interval, digits = 4, intervalDigits = 2): string {
  if (value === undefined || !Number.isFinite(value)) return "-";
  const point = value.toFixed(digits);
  if (!interval || !Number.isFinite(interval[0]) || !Number.isFinite(interval[1])) return point;
  return `${point} [${interval[0].toFixed(intervalDigits)}, ${interval[1].toFixed(intervalDigits)}]`;
}

/** Header and body cells joined into a padded table, the first `labels` columns left-aligned, numbers right. */
function layout(header: string[], body: string[][], labels = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i < labels ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ");
  const rule = widths.map((w) => "-".repeat(w)).join("-|-");
  return [line(header), rule, ...body.map(line)].join("\n");
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
  return layout(header, body);
}

/**
 * The popularity-bias metrics (popularity-bias.ts) of each method: a line saying what popularity is counted
 * on, then one table row per method and source of top-1 (ranking, generation), or a line per method saying
 * why they were not measured.
 */
export function formatPopularityBiasTable(rows: { method: string; bias: PopularityBiasResult }[]): string {
  const lines: string[] = [];
  const body: string[][] = [];
  for (const { method, bias } of rows) {
    if (!bias.measured) {
      lines.push(`popularity bias of ${method}: not measured: ${bias.reason}`);
      continue;
    }
    const sources: [string, Top1Bias | undefined][] = [["ranking", bias.ranking], ["generation", bias.generation]];
    for (const [label, t] of sources) {
      if (!t) continue;
      body.push([
        method,
        label,
        String(t.rows),
        formatMetricCell(t.headShare, t.intervals.headShare),
        `${formatMetricCell(t.coverage)} (${t.distinctItems})`,
        formatMetricCell(t.meanPopularity, t.intervals.meanPopularity, 2, 2),
        formatMetricCell(t.meanPopularityRank, t.intervals.meanPopularityRank, 1, 1),
        formatMetricCell(t.hr1Head, t.intervals.hr1Head),
        formatMetricCell(t.hr1Tail, t.intervals.hr1Tail),
        `${bias.headRows}/${bias.tailRows}`,
      ]);
    }
  }
  const measured = rows.map((r) => r.bias).find((b) => b.measured);
  if (measured && measured.measured) {
    const { source, headItems, catalogueItems, headFraction } = measured;
    const header = ["method", "top-1 of", "rows", "head share", "coverage (items)", "ARP (count)", "popularity rank", "HR@1 head", "HR@1 tail", "head/tail rows"];
    lines.unshift(
      `popularity bias of the top-1 item: popularity = training rows whose target is the item, counted on ${source.file ?? "the given counts"} (${source.rows} rows); ` +
        `head = the ${headItems} most popular of ${catalogueItems} items (at most ${Math.round(headFraction * 100)}%, whole ties), tail = the rest`,
      layout(header, body, 2),
      "rows: rows with a top-1 (generation: valid answers); coverage: distinct top-1 items / catalogue, no interval (a resample repeats rows, so it undercounts distinct items); " +
        "ARP: mean popularity; popularity rank: 1 = most popular, ties share their mean rank"
    );
  }
  return lines.join("\n");
}
