/**
 * Scoring a baseline on an evaluation split with the ranking metrics `sdpo eval` reports: the target's
 * pessimistic rank among each row's candidates (ranking.ts), then HR@1/3/5 and NDCG@3/5 over the rows; and
 * the popularity bias of each row's top-scored candidate (popularity-bias.ts), in the same columns as models.
 */
import type { EvalResult } from "../eval/evaluate";
import type { BootstrapOptions } from "../eval/bootstrap";
import { summarizeOutcomes, type RowOutcomes } from "../eval/outcomes";
import { popularityBias, type ItemPopularity, type PopularityBiasResult } from "../eval/popularity-bias";
import { pessimisticRank, rankingMetrics, topCandidate, type RankingTotals } from "../eval/ranking";
import type { Baseline } from "./baseline";
import { readRecommendationRows, type RecommendationData } from "./rows";

export interface EvaluateBaselineOptions {
  /** Rows scored per call of scoreRows (default 64). */
  batchSize?: number;
  /** Only the first N rows. */
  maxRows?: number;
  onProgress?: (rowsDone: number, totalRows: number) => void;
}

export interface BaselineEvaluation {
  metrics: RankingTotals;
  /** 1-based rank of each row's target, in file order (for bootstrap intervals and paired comparisons). */
  ranks: number[];
  /** The file row of each rank. */
  rows: number[];
  /** Item id of each row's target, and of the candidate the baseline scores highest (ties against the target). */
  targets: number[];
  topItems: number[];
}

/** Ranks and metrics of `baseline` on every row of `data` (an .arrow path or rows read from one). */
export async function evaluateBaseline(
  baseline: Baseline,
  data: string | RecommendationData,
  options: EvaluateBaselineOptions = {}
): Promise<BaselineEvaluation> {
  const batchSize = options.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`evaluateBaseline: batchSize must be a positive integer, got ${batchSize}`);
  if (options.maxRows !== undefined && !(Number.isInteger(options.maxRows) && options.maxRows >= 1)) {
    throw new RangeError(`evaluateBaseline: maxRows must be a positive integer, got ${options.maxRows}`);
  }
  const split = typeof data === "string" ? await readRecommendationRows(data) : data;
  if (split.itemsSha256 !== baseline.source.itemsSha256 || split.items.length !== baseline.source.itemCount) {
    throw new Error(
      `evaluateBaseline: ${split.name} has another item vocabulary (${split.items.length} items) than the baseline's training file ${baseline.source.file} (${baseline.source.itemCount} items): item ids would mean other items`
    );
  }
  const rows = options.maxRows === undefined ? split.rows : split.rows.slice(0, options.maxRows);
  const ranks: number[] = [];
  const topItems: number[] = [];
  for (let start = 0; start < rows.length; start += batchSize) {
    const part = rows.slice(start, start + batchSize);
    const scores = await baseline.scoreRows(part);
    if (scores.length !== part.length) throw new Error(`evaluateBaseline: ${baseline.kind} returned ${scores.length} score lists for ${part.length} rows`);
    part.forEach((row, b) => {
      if (scores[b].length !== row.candidates.length) {
        throw new Error(`evaluateBaseline: ${baseline.kind} gave ${scores[b].length} scores for the ${row.candidates.length} candidates of row ${row.row}`);
      }
      ranks.push(pessimisticRank(scores[b], row.targetIndex));
      topItems.push(row.candidates[topCandidate(scores[b], row.targetIndex)]);
    });
    options.onProgress?.(ranks.length, rows.length);
  }
  return { metrics: rankingMetrics(ranks), ranks, rows: rows.map((row) => row.row), targets: rows.map((row) => row.target), topItems };
}

/**
 * The evaluation in `sdpo eval`'s shape, for the same table as the models, with bootstrap intervals over rows.
 * A baseline answers with its top-scored candidate, always one of the row's candidates: HR@1 is the ranking's
 * HR@1 (a tie at the top counts as a miss) and ValidRatio is 1. Constrained decoding does not apply (NaN).
 * Popularity bias (of the ranking's top-1 only, the baseline's one answer) needs `popularity` (the baseline's
 * training file counted) and the items of the evaluation; without them it says why it was not measured.
 */
export function baselineEvalResult(
  evaluation: Pick<BaselineEvaluation, "ranks" | "rows"> & Partial<Pick<BaselineEvaluation, "targets" | "topItems">>,
  bootstrap: BootstrapOptions | false = {},
  popularity?: ItemPopularity
): EvalResult {
  const { targets, topItems } = evaluation;
  const perRow: RowOutcomes = {
    rowIds: evaluation.rows.slice(),
    rank: evaluation.ranks.slice(),
    generationHit: evaluation.ranks.map((r) => (r === 1 ? 1 : 0)),
    generationValid: evaluation.ranks.map(() => 1),
    // No generationItem: the popularity bias of the answer would repeat the ranking's, so it is reported once.
    ...(targets && topItems ? { targetItem: targets.slice(), rankTopItem: topItems.slice() } : {}),
  };
  const { metrics, intervals } = summarizeOutcomes(perRow, bootstrap);
  let bias: PopularityBiasResult;
  if (!popularity) bias = { measured: false, reason: "no training data given: item popularity is counted on the baseline's training file" };
  else if (!targets || !topItems) bias = { measured: false, reason: "the evaluation holds no item ids (targets, topItems)" };
  else bias = popularityBias(perRow, popularity, bootstrap);
  return { ...metrics, rows: perRow.rowIds.length, intervals, perRow, popularityBias: bias };
}
