/** Plain-text tables of evaluation results, like the paper's ablation table. */
import type { EvalResult } from "./evaluate";

const COLUMNS: { header: string; key: keyof EvalResult }[] = [
  { header: "HR@1", key: "hr1" },
  { header: "ValidRatio", key: "validRatio" },
  { header: "HR@3", key: "hr3" },
  { header: "HR@5", key: "hr5" },
  { header: "NDCG@3", key: "ndcg3" },
  { header: "NDCG@5", key: "ndcg5" },
  { header: "rank HR@1", key: "rankHr1" },
];

function cell(value: number): string {
  return Number.isFinite(value) ? value.toFixed(4) : "-";
}

/** One row per method: `method | HR@1 | ValidRatio | HR@3 | ...`, columns padded, `-` for metrics not measured. */
export function formatMetricsTable(rows: { method: string; result: EvalResult }[]): string {
  const header = ["method", ...COLUMNS.map((c) => c.header), "rows"];
  const body = rows.map(({ method, result }) => [method, ...COLUMNS.map((c) => cell(result[c.key])), String(result.rows)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ");
  const rule = widths.map((w) => "-".repeat(w)).join("-|-");
  return [line(header), rule, ...body.map(line)].join("\n");
}
