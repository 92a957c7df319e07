/**
 * The demo's report: one table row per method and baseline (pooled over seeds when there are several), and the
 * paired comparisons over rows. Shared by `sdpo demo` and by pooling the results.json of several demo runs
 * (`poolDemoRuns`), so a 10-seed table made from separate runs reads exactly like one run's.
 */
import type { PairedEstimate } from "../eval/bootstrap";
import type { EvalResult } from "../eval/evaluate";
import type { MetricName } from "../eval/outcomes";
import { compareSeeds, formatComparison, poolSeeds } from "../eval/seeds";
import { formatMetricsTable, type TableResult } from "../eval/table";
import type { LossName } from "../trainers/types";

/** The paper's ablation: the three losses the demo trains and compares. */
export type DemoMethod = Extract<LossName, "sft" | "dpo" | "sdpo">;
export const METHODS: DemoMethod[] = ["sft", "dpo", "sdpo"];
export const LABELS: Record<DemoMethod, string> = { sft: "SFT", dpo: "DPO", sdpo: "S-DPO" };
/** The comparisons printed with paired bootstrap probabilities. */
const COMPARISONS: [string, string][] = [["sdpo", "dpo"], ["dpo", "sft"], ["sdpo", "sft"], ["sdpo", "popularity"], ["sdpo", "cooccurrence"]];
const COMPARED_METRICS: MetricName[] = ["hr1", "rankHr1", "ndcg5", "constrainedHr1"];

export interface DemoSummary {
  /** One row per method and baseline: with several seeds, pooled over them (mean, interval over rows). */
  results: { method: string; result: TableResult }[];
  /** Paired bootstrap over rows, first method minus second. */
  comparisons: { a: string; b: string; metric: MetricName; estimate: PairedEstimate }[];
  /** The printed report: table, caption, comparisons. */
  lines: string[];
}

export function methodLabel(name: string): string {
  return LABELS[name as DemoMethod] ?? name;
}

/** `perSeed[name]` holds every seed's evaluation of method or baseline `name`, all on the same `testRows` rows. */
export function summarizeDemo(perSeed: Record<string, EvalResult[]>, names: readonly string[], seeds: readonly number[], testRows: number): DemoSummary {
  const results = names.map((name) => ({ method: methodLabel(name), result: seeds.length > 1 ? poolSeeds(perSeed[name]) : (perSeed[name][0] as TableResult) }));
  const comparisons: DemoSummary["comparisons"] = [];
  for (const [a, b] of COMPARISONS) {
    if (!perSeed[a] || !perSeed[b]) continue;
    for (const metric of COMPARED_METRICS) {
      if (!Number.isFinite(perSeed[a][0][metric]) || !Number.isFinite(perSeed[b][0][metric])) continue;
      comparisons.push({ a, b, metric, estimate: compareSeeds(perSeed[a], perSeed[b], metric) });
    }
  }
  const lines = [
    formatMetricsTable(results),
    "",
    `${seeds.length > 1 ? `mean over seeds ${seeds.join(", ")}; ` : `seed ${seeds[0]}; `}[95% bootstrap interval over the ${testRows} rows]; baselines answer with their top-ranked candidate`,
    "",
    "paired bootstrap over rows (first minus second; P(>0) = share of resamples with a positive difference):",
    ...comparisons.map((c) => formatComparison(`${methodLabel(c.a)} - ${methodLabel(c.b)}`.padEnd(24), c.metric, c.estimate)),
  ];
  return { results, comparisons, lines };
}

/** What pooling needs of a demo's results.json. */
export interface DemoRunRecord {
  seeds: number[];
  testRows: number;
  perSeed: Record<string, EvalResult[]>;
}

/**
 * Several demo runs (e.g. `sdpo demo --seed 44`, `--seed 45`, ...) as one multi-seed summary. The runs must cover
 * the same rows and distinct seeds; methods or baselines missing from any run are left out of the pooled table.
 */
export function poolDemoRuns(runs: readonly DemoRunRecord[], sources: readonly string[] = runs.map((_, i) => `run ${i}`)): DemoSummary & { seeds: number[]; perSeed: Record<string, EvalResult[]> } {
  if (runs.length === 0) throw new RangeError("poolDemoRuns: no demo runs given");
  const seeds: number[] = [];
  for (const [i, run] of runs.entries()) {
    if (!Array.isArray(run.seeds) || !run.perSeed || typeof run.perSeed !== "object") throw new RangeError(`${sources[i]}: not a demo results.json (no seeds or perSeed)`);
    if (run.testRows !== runs[0].testRows) throw new RangeError(`${sources[i]}: ${run.testRows} test rows, ${sources[0]} has ${runs[0].testRows}: pool runs on the same rows only`);
    for (const seed of run.seeds) {
      if (seeds.includes(seed)) throw new RangeError(`${sources[i]}: seed ${seed} is in another run too; each seed counts once`);
      seeds.push(seed);
    }
  }
  const names = Object.keys(runs[0].perSeed).filter((name) => runs.every((run) => run.perSeed[name]?.length === run.seeds.length));
  const perSeed: Record<string, EvalResult[]> = {};
  for (const name of names) perSeed[name] = runs.flatMap((run) => run.perSeed[name]);
  return { ...summarizeDemo(perSeed, names, seeds, runs[0].testRows), seeds, perSeed };
}
