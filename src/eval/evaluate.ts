/**
 * Evaluation by the S-DPO paper's protocol, plus ranking metrics from candidate scores.
 *
 * Generation (the paper's numbers): greedy decoding of at most `maxNewTokens` (20) new tokens per prompt,
 * decoded to text; a row is valid when exactly one candidate title appears in the text and a hit when that
 * title is the target's (see matching.ts). HR@1 = hits / rows, ValidRatio = valid / rows, over ALL rows.
 *
 * Ranking: every candidate of a row is scored by its summed log-probability given the prompt (model.score);
 * HR@1/3/5 and NDCG@3/5 of the target's rank, ties broken pessimistically (see ranking.ts).
 *
 * Constrained (an extra column, off by default): greedy decoding restricted to the row's candidate titles,
 * computed from the same scoring pass's per-token log-probs (see constrained.ts); constrainedHr1 = rows whose
 * walk spells the target's title / rows. Always valid, so the gap to HR@1 is naming, not ranking.
 *
 * Every metric is a mean of per-row values; the result keeps them (perRow) and a percentile bootstrap
 * interval over rows for each metric (intervals; see bootstrap.ts, outcomes.ts).
 *
 * Popularity bias (popularityBias): given the training data (popularityFrom), how popular the top-1 items of
 * the ranking and of free generation are in it, and HR@1 on head and tail targets (see popularity-bias.ts).
 */
import type { PreferenceBatch } from "../data/batch";
import type { PackedResponsesInput } from "../native";
import { candidateScoringInput, repack, targetIndex } from "./batch-inputs";
import { checkBootstrapOptions, type BootstrapOptions } from "./bootstrap";
import { constrainedGreedyChoice } from "./constrained";
import { judgeGeneration } from "./matching";
import { summarizeOutcomes, type MetricIntervals, type RowOutcomes } from "./outcomes";
import { popularityBias, readItemPopularity, type ItemPopularity, type PopularityBiasResult } from "./popularity-bias";
import { pessimisticRank, topCandidate } from "./ranking";

/** What evaluate needs of a model: NativeModel's score and generate. */
export interface EvaluableModel {
  /** With `tokenLogps` (asked for by constrained decoding), also the per-token log-probs packed like responseIds. */
  score(batch: PackedResponsesInput, options?: { tokenLogps?: boolean }): Promise<{ logps: Float64Array; tokenLogps?: Float64Array }>;
  generate(
    promptIds: Int32Array,
    promptOffsets: Int32Array,
    options: { maxNewTokens: number; eosTokenId: number }
  ): Promise<{ ids: Int32Array; offsets: Int32Array }>;
}

/**
 * What evaluate calls: the NativeModel under a Model (its `.native`; the wrapper's own generate takes
 * other arguments), or any object with the native score/generate signatures (a NativeModel, a stand-in).
 */
export function evaluableOf(model: unknown): EvaluableModel {
  const m = model as Partial<EvaluableModel> & { native?: EvaluableModel };
  if (m.native && typeof m.native.score === "function" && typeof m.native.generate === "function") return m.native;
  if (typeof m.score === "function" && typeof m.generate === "function") return m as EvaluableModel;
  throw new TypeError("evaluate: expected a model with score() and generate() (or a loaded model with .native)");
}

/** What evaluate needs of a tokenizer: decode generated ids, and the id that ends generation. */
export interface DecodingTokenizer {
  /** Text of generated ids, special tokens skipped (src/data/tokenizer.ts's decode is async). */
  decode(ids: Int32Array): string | Promise<string>;
  eosTokenId?: number;
  eosId?: number;
}

export interface BatchSource {
  batches(options: { batchSize: number; negatives: number; shuffle: boolean; seed?: number; epoch?: number }):
    | AsyncIterable<PreferenceBatch>
    | Iterable<PreferenceBatch>;
  /** Row count, when known (for progress): PreferenceDataset.countRows(). */
  countRows?(): Promise<number>;
  /** The item vocabulary, when known (PreferenceDataset.metadata()): checked against the popularity's. */
  metadata?(): Promise<{ items?: string[] }>;
}

export type EvalData = string | BatchSource | AsyncIterable<PreferenceBatch> | Iterable<PreferenceBatch>;

export interface EvaluateOptions {
  /** Needed for generation (decode); its EOS id ends generation unless `eosTokenId` is given. */
  tokenizer?: DecodingTokenizer;
  eosTokenId?: number;
  batchSize?: number; // default 8
  maxNewTokens?: number; // default 20, as in the paper
  generation?: boolean; // default true
  ranking?: boolean; // default true
  /** Greedy decoding restricted to the candidates' titles (constrainedHr1); default false. */
  constrained?: boolean;
  /** Bootstrap of the intervals (default 1000 resamples, 95 %, seed 0); false: intervals are NaN. */
  bootstrap?: BootstrapOptions | false;
  /** Called after each batch with rows done so far (and the total, when the data knows it). */
  onProgress?: (rowsDone: number, totalRows: number | undefined) => void;
  /** Stop reading more rows after this many (quick looks). */
  maxRows?: number;
  /**
   * The training data to count item popularity on for the popularity-bias metrics: its .arrow path, or counts
   * already made (readItemPopularity / itemPopularity). Without it those metrics are omitted (popularityBias
   * says so): popularity means popularity in the data the model was trained on, which evaluate cannot know.
   */
  popularityFrom?: string | ItemPopularity;
}

export interface EvalResult {
  /** Paper protocol: hits / rows (generation). NaN when generation was off. */
  hr1: number;
  /** Paper protocol: rows naming exactly one candidate / rows. NaN when generation was off. */
  validRatio: number;
  /** Ranking by candidate log-probability (NaN when ranking was off). */
  hr3: number;
  hr5: number;
  ndcg3: number;
  ndcg5: number;
  /** HR@1 of the ranking (top-scored candidate is the target). */
  rankHr1: number;
  /** Greedy decoding restricted to the candidates' titles picks the target. NaN when constrained was off. */
  constrainedHr1: number;
  rows: number;
  /** 95 % (or options.bootstrap's) percentile bootstrap interval over rows of each metric; [NaN, NaN] when not measured. */
  intervals: MetricIntervals;
  /** Per-row outcomes behind the metrics (row ids in evaluation order), for other bootstraps and paired comparisons. */
  perRow: RowOutcomes;
  /** Popularity of the top-1 recommendations in the training data, or why it was not measured (popularity-bias.ts). */
  popularityBias: PopularityBiasResult;
}

function isBatchSource(data: unknown): data is BatchSource {
  return typeof data === "object" && data !== null && typeof (data as BatchSource).batches === "function";
}

/** The batches of `data`, its row count when known, and (`withItems`) its item vocabulary when it has one. */
async function openData(
  data: EvalData,
  batchSize: number,
  withItems: boolean
): Promise<{ batches: AsyncIterable<PreferenceBatch> | Iterable<PreferenceBatch>; total?: number; items?: string[] }> {
  let source: EvalData = data;
  if (typeof data === "string") {
    // Loaded lazily so the metric code does not pull in Arrow unless asked to read a file.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { PreferenceDataset } = require("../data/dataset") as { PreferenceDataset: { fromArrow(p: string): BatchSource } };
    source = PreferenceDataset.fromArrow(data);
  }
  if (isBatchSource(source)) {
    const total = source.countRows ? await source.countRows() : undefined;
    const metadata = withItems && typeof source.metadata === "function" ? await source.metadata() : undefined;
    return { batches: source.batches({ batchSize, negatives: 0, shuffle: false }), total, items: metadata?.items };
  }
  return { batches: source as AsyncIterable<PreferenceBatch> | Iterable<PreferenceBatch> };
}

function eosOf(options: EvaluateOptions): number {
  const eos = options.eosTokenId ?? options.tokenizer?.eosTokenId ?? options.tokenizer?.eosId;
  if (typeof eos !== "number" || !Number.isInteger(eos) || eos < 0) {
    throw new TypeError("evaluate: generation needs an EOS token id (options.eosTokenId or tokenizer.eosTokenId)");
  }
  return eos;
}

/** Evaluates `model` on every row of `data` (an .arrow path, a PreferenceDataset or batches). */
export async function evaluate(
  modelOrLoaded: EvaluableModel | { native: EvaluableModel },
  data: EvalData,
  options: EvaluateOptions = {}
): Promise<EvalResult> {
  const model = evaluableOf(modelOrLoaded);
  const batchSize = options.batchSize ?? 8;
  const maxNewTokens = options.maxNewTokens ?? 20;
  const generation = options.generation ?? true;
  const ranking = options.ranking ?? true;
  const constrained = options.constrained ?? false;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`evaluate: batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new RangeError(`evaluate: maxNewTokens must be a positive integer, got ${maxNewTokens}`);
  if (!generation && !ranking && !constrained) throw new RangeError("evaluate: generation, ranking and constrained are all off; nothing to measure");
  if (generation && !options.tokenizer) throw new TypeError("evaluate: generation needs options.tokenizer to decode the outputs");
  const eos = generation ? eosOf(options) : -1;
  // Checked before the (slow) evaluation rather than after it.
  if (options.bootstrap !== undefined && options.bootstrap !== false) checkBootstrapOptions(options.bootstrap, "evaluate: bootstrap");
  const popularity = typeof options.popularityFrom === "string" ? await readItemPopularity(options.popularityFrom) : options.popularityFrom;

  const { batches, total, items } = await openData(data, batchSize, popularity !== undefined);
  if (popularity) checkSameItems(popularity, items);
  const totalRows = options.maxRows !== undefined && total !== undefined ? Math.min(total, options.maxRows) : (total ?? options.maxRows);
  let rows = 0;
  const rowIds: number[] = [];
  const generationHit: number[] = [];
  const generationValid: number[] = [];
  const ranks: number[] = [];
  const constrainedHit: number[] = [];
  const targetItem: number[] = [];
  const rankTopItem: number[] = [];
  const generationItem: number[] = [];
  for await (const full of batches as AsyncIterable<PreferenceBatch>) {
    if (options.maxRows !== undefined && rows >= options.maxRows) break;
    const batch = options.maxRows !== undefined ? truncateBatch(full, options.maxRows - rows) : full;
    if (batch.size === 0) continue;
    const targets = Array.from({ length: batch.size }, (_, b) => targetIndex(batch, b));

    if (ranking || constrained) {
      const input = candidateScoringInput(batch);
      const scored = await model.score(input, constrained ? { tokenLogps: true } : undefined);
      for (let b = 0; b < batch.size; b++) {
        const first = batch.candidateOffsets[b] - batch.candidateOffsets[0];
        const last = batch.candidateOffsets[b + 1] - batch.candidateOffsets[0];
        if (ranking) {
          const scores = scored.logps.subarray(first, last);
          ranks.push(pessimisticRank(scores, targets[b]));
          rankTopItem.push(batch.candidateItems[batch.candidateOffsets[b] + topCandidate(scores, targets[b])]);
        }
        if (constrained) constrainedHit.push(constrainedHitOf(input, scored.tokenLogps, first, last, targets[b], batch.rows[b]));
      }
    }

    if (generation) {
      const prompts = repack(batch.prompt, 0, batch.size);
      const out = await model.generate(prompts.values, prompts.offsets, { maxNewTokens, eosTokenId: eos });
      for (let b = 0; b < batch.size; b++) {
        const ids = out.ids.subarray(out.offsets[b], out.offsets[b + 1]);
        const text = await options.tokenizer!.decode(ids);
        const titles = batch.text.candidates[b];
        const judged = verdict(text, titles, targets[b]);
        generationHit.push(judged.hit ? 1 : 0);
        generationValid.push(judged.valid ? 1 : 0);
        generationItem.push(judged.named < 0 ? -1 : batch.candidateItems[batch.candidateOffsets[b] + judged.named]);
      }
    }
    for (let b = 0; b < batch.size; b++) {
      rowIds.push(batch.rows[b]);
      targetItem.push(batch.chosenItem[b]);
    }
    rows += batch.size;
    options.onProgress?.(rows, totalRows);
  }

  const perRow: RowOutcomes = {
    rowIds,
    ...(generation ? { generationHit, generationValid } : {}),
    ...(ranking ? { rank: ranks } : {}),
    ...(constrained ? { constrainedHit } : {}),
    targetItem,
    ...(ranking ? { rankTopItem } : {}),
    ...(generation ? { generationItem } : {}),
  };
  const { metrics, intervals } = summarizeOutcomes(perRow, options.bootstrap ?? {});
  const bias: PopularityBiasResult = popularity
    ? popularityBias(perRow, popularity, options.bootstrap ?? {})
    : { measured: false, reason: "no training data given (popularityFrom): item popularity is counted on the data the model was trained on" };
  return { ...metrics, rows, intervals, perRow, popularityBias: bias };
}

/** Throws when the evaluation data's item vocabulary (when it has one) is not the one popularity was counted over. */
function checkSameItems(popularity: ItemPopularity, items: string[] | undefined): void {
  if (!items) return;
  if (items.length !== popularity.counts.length) {
    throw new RangeError(
      `evaluate: the evaluation data has ${items.length} items, the popularity (${popularity.file ?? "given counts"}) ${popularity.counts.length}: item ids would mean other items`
    );
  }
  if (popularity.itemsSha256 === undefined) return;
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { itemsSha256 } = require("../baselines/rows") as typeof import("../baselines/rows");
  if (itemsSha256(items) !== popularity.itemsSha256) {
    throw new RangeError(`evaluate: the evaluation data's item vocabulary is not that of ${popularity.file ?? "the popularity counts"}: item ids would mean other items`);
  }
}

/**
 * 1 when constrained greedy decoding over candidates first..last-1 of the scoring input (one row's) spells
 * the target's token list, else 0.
 */
function constrainedHitOf(
  input: PackedResponsesInput,
  tokenLogps: Float64Array | undefined,
  first: number,
  last: number,
  target: number,
  row: number
): number {
  if (!tokenLogps || tokenLogps.length !== input.responseIds.length) {
    throw new RangeError(
      `evaluate: constrained decoding needs per-token log-probs for all ${input.responseIds.length} candidate tokens; ` +
        `the model's score returned ${tokenLogps ? tokenLogps.length : "none"}`
    );
  }
  const tokens: Int32Array[] = [];
  const logps: Float64Array[] = [];
  for (let j = first; j < last; j++) {
    const start = input.responseOffsets[j];
    const end = input.responseOffsets[j + 1];
    tokens.push(input.responseIds.subarray(start, end));
    logps.push(tokenLogps.subarray(start, end));
  }
  try {
    return constrainedGreedyChoice(tokens, logps).matching.includes(target) ? 1 : 0;
  } catch (err) {
    throw new RangeError(`evaluate: row ${row}: ${(err as Error).message}`);
  }
}

/** The paper's verdict, and the index of the candidate a valid answer names (its title's first candidate; -1: not valid). */
function verdict(text: string, titles: readonly string[] | undefined, target: number): { valid: boolean; hit: boolean; named: number } {
  if (!titles || target >= titles.length) {
    throw new RangeError(`evaluate: a row has no candidate title for its target (candidate ${target})`);
  }
  const judged = judgeGeneration(text, titles, titles[target]);
  return { valid: judged.valid, hit: judged.hit, named: judged.valid ? titles.findIndex((t) => t.trim() === judged.mentioned[0]) : -1 };
}

/** The first `n` examples of a batch (only the fields evaluate reads). */
function truncateBatch(batch: PreferenceBatch, n: number): PreferenceBatch {
  if (n >= batch.size) return batch;
  return {
    ...batch,
    size: n,
    rows: batch.rows.subarray(0, n),
    chosenItem: batch.chosenItem.subarray(0, n),
    candidateOffsets: batch.candidateOffsets.subarray(0, n + 1),
    text: { prompt: batch.text.prompt.slice(0, n), chosen: batch.text.chosen.slice(0, n), candidates: batch.text.candidates.slice(0, n) },
  };
}
