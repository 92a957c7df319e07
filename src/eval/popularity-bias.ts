/**
 * Popularity-bias metrics of each row's top-1 recommendation: beside how often a model is right (HR@k), how
 * much it leans on the items that were popular in the data it was trained on.
 *
 * Popularity of an item = the number of training rows whose target (chosen_item) is that item. History
 * occurrences are not counted: LastFM rows are sliding windows over each user's listens, so one listen sits in
 * the history of up to ten later rows and would be counted up to ten times. (The popularity baseline scores
 * with targets and history occurrences together; that is a scoring choice, not this measurement.)
 *
 * Catalogue: every item of the training file's vocabulary (schema metadata `sdpo.items`), items never chosen
 * included (popularity 0).
 * Popularity rank: 1 = most popular; equally popular items share the mean of the positions they span
 * (fractional ranking), so a rank depends on the counts alone, never on item ids.
 * Head (the "short head" of Abdollahpouri et al. 2019): the ceil(20% x N) most popular of the N catalogue
 * items, whole ties only: the items more popular than the (ceil(20% x N) + 1)-th most popular item. A tie group
 * that straddles the cut stays in the tail, so that equally popular items are never split by their ids; the
 * head can hold fewer than 20% of the items (LastFM's train.arrow: 478 of 4606, the items chosen at least
 * twice, since the 974 items chosen once straddle the cut). Tail: every other item.
 *
 * Top-1 of a row, from two sources, reported apart:
 *   ranking     the top-scored candidate (ranking.ts topCandidate: a tie at the top goes against the target,
 *               then to the first candidate), for every row;
 *   generation  the one candidate a valid free-generation answer names (matching.ts); rows whose answer is not
 *               valid have no top-1 and are left out of the top-1 metrics (but count as misses in HR@1).
 * Metrics of each source:
 *   headShare           share of top-1 items in the head (Abdollahpouri et al. 2019; one minus their APLT);
 *   coverage            distinct top-1 items / catalogue items (aggregate diversity, Adomavicius & Kwon 2012);
 *   meanPopularity      ARP, the mean popularity (training count) of the top-1 items (Yin et al. 2012;
 *                       Abdollahpouri et al. 2019);
 *   meanPopularityRank  the mean popularity rank of the top-1 items (scale-free beside ARP's counts);
 *   hr1Head, hr1Tail    HR@1 over the rows whose target is a head / tail item (rankHr1 and hr1 of evaluate.ts
 *                       restricted to those rows; their row counts are headRows and tailRows).
 *
 * Intervals: percentile bootstrap over rows (bootstrap.ts, the evaluation's options). Metrics over every row
 * (ranking's headShare, meanPopularity, meanPopularityRank) are resampled with the same draws as the other
 * metrics; metrics over a subset of rows (generation's valid rows, head-target or tail-target rows) resample
 * within that subset, its size held fixed. Coverage has no interval: a resample repeats rows (about 63% of
 * them distinct), so its count of distinct items is biased low and a percentile interval would sit below
 * the estimate instead of around it.
 */
import { bootstrapMeans, type BootstrapOptions, type Interval } from "./bootstrap";
import { checkOutcomes, type RowOutcomes } from "./outcomes";

/** Share of the catalogue the head may take, as in Abdollahpouri et al. 2019. */
export const HEAD_FRACTION = 0.2;

/** Item popularity counted on a training split, with the ranks and head it implies. */
export interface ItemPopularity {
  /** counts[i]: training rows whose target is item i; its length is the catalogue's size. */
  counts: Int32Array;
  /** ranks[i]: popularity rank of item i (1 = most popular; ties share their mean position). */
  ranks: Float64Array;
  /** head[i]: 1 when item i is in the head, else 0. */
  head: Uint8Array;
  headItems: number;
  headFraction: number;
  /** Training rows counted. */
  rows: number;
  /** The training file, when the counts were read from one (readItemPopularity). */
  file?: string;
  /** sha256 of its bytes, and of its item vocabulary as JSON (baselines/rows.ts itemsSha256). */
  sha256?: string;
  itemsSha256?: string;
}

/** Popularity of `itemCount` items from the target item id of each training row. */
export function itemPopularity(targets: ArrayLike<number>, itemCount: number, options: { headFraction?: number } = {}): ItemPopularity {
  const headFraction = options.headFraction ?? HEAD_FRACTION;
  if (!Number.isInteger(itemCount) || itemCount < 1) throw new RangeError(`itemPopularity: itemCount must be a positive integer, got ${itemCount}`);
  if (!(headFraction > 0 && headFraction <= 1)) throw new RangeError(`itemPopularity: headFraction must be in (0, 1], got ${headFraction}`);
  const counts = new Int32Array(itemCount);
  for (let r = 0; r < targets.length; r++) {
    const item = targets[r];
    if (!(Number.isInteger(item) && item >= 0 && item < itemCount)) {
      throw new RangeError(`itemPopularity: training row ${r} has target item ${item}, outside the ${itemCount} items`);
    }
    counts[item]++;
  }
  const order = Array.from({ length: itemCount }, (_, i) => i).sort((a, b) => counts[b] - counts[a]);
  const ranks = new Float64Array(itemCount);
  for (let start = 0; start < itemCount; ) {
    let end = start;
    while (end + 1 < itemCount && counts[order[end + 1]] === counts[order[start]]) end++;
    // Positions start+1 .. end+1 (1-based) share their mean.
    for (let p = start; p <= end; p++) ranks[order[p]] = (start + end) / 2 + 1;
    start = end + 1;
  }
  const cut = Math.ceil(headFraction * itemCount);
  // The count just below the cut: items above it are head; a tie group across the cut is not.
  const below = cut < itemCount ? counts[order[cut]] : -Infinity;
  const head = new Uint8Array(itemCount);
  let headItems = 0;
  for (let i = 0; i < itemCount; i++) {
    if (counts[i] > below) {
      head[i] = 1;
      headItems++;
    }
  }
  return { counts, ranks, head, headItems, headFraction, rows: targets.length };
}

/** Popularity counted on an .arrow training file (its chosen_item column, over the vocabulary `sdpo.items`). */
export async function readItemPopularity(file: string, options: { headFraction?: number } = {}): Promise<ItemPopularity> {
  // Loaded lazily so the metric code does not pull in Arrow unless asked to read a file.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { readRecommendationRows } = require("../baselines/rows") as typeof import("../baselines/rows");
  const data = await readRecommendationRows(file);
  const popularity = itemPopularity(data.rows.map((row) => row.target), data.items.length, options);
  return { ...popularity, file, sha256: data.fileSha256, itemsSha256: data.itemsSha256 };
}

export type Top1IntervalName = "headShare" | "meanPopularity" | "meanPopularityRank" | "hr1Head" | "hr1Tail";
export const TOP1_INTERVAL_NAMES: readonly Top1IntervalName[] = ["headShare", "meanPopularity", "meanPopularityRank", "hr1Head", "hr1Tail"];

/** The metrics of one source of top-1 items (see the module comment); NaN where no row measures one. */
export interface Top1Bias {
  /** Rows with a top-1 item: every row for the ranking, rows with a valid answer for generation. */
  rows: number;
  headShare: number;
  coverage: number;
  /** Distinct top-1 items (coverage's numerator). */
  distinctItems: number;
  meanPopularity: number;
  meanPopularityRank: number;
  hr1Head: number;
  hr1Tail: number;
  /** Percentile bootstrap intervals; [NaN, NaN] where not measured or not bootstrapped. Coverage has none. */
  intervals: Record<Top1IntervalName, Interval>;
}

export interface PopularityBias {
  measured: true;
  /** What the popularity was counted on. */
  source: { file?: string; sha256?: string; rows: number };
  catalogueItems: number;
  headItems: number;
  headFraction: number;
  /** Evaluated rows whose target is a head item / a tail item. */
  headRows: number;
  tailRows: number;
  /** Absent when that part of the evaluation was off. */
  ranking?: Top1Bias;
  generation?: Top1Bias;
}

/** No training data was known to count popularity on: the metrics are left out, and why. */
export interface PopularityBiasOmitted {
  measured: false;
  reason: string;
}

export type PopularityBiasResult = PopularityBias | PopularityBiasOmitted;

const mean = (values: readonly number[]): number => (values.length === 0 ? NaN : values.reduce((s, v) => s + v, 0) / values.length);

/** Intervals of columns over the same rows (one shared draw); [NaN, NaN] for all when there are no rows or no bootstrap. */
function intervalsOf<K extends string>(columns: Record<K, number[]>, rows: number, bootstrap: BootstrapOptions | false): Record<K, Interval> {
  const names = Object.keys(columns) as K[];
  if (bootstrap === false || rows === 0) return Object.fromEntries(names.map((k) => [k, [NaN, NaN]])) as unknown as Record<K, Interval>;
  const estimates = bootstrapMeans(columns, bootstrap);
  return Object.fromEntries(names.map((k) => [k, estimates[k].interval])) as unknown as Record<K, Interval>;
}

/**
 * The metrics of one top-1 source. `top[i]` is row i's top-1 item (-1: none), `hit[i]` its HR@1 outcome. Where
 * every row has a top-1 (the ranking), the draws are the evaluation's: they depend on seed and row count only.
 */
function top1Bias(
  top: readonly number[],
  hit: readonly number[],
  targetHead: readonly boolean[],
  popularity: ItemPopularity,
  bootstrap: BootstrapOptions | false
): Top1Bias {
  const items = top.filter((item) => item >= 0);
  const head = items.map((item) => popularity.head[item]);
  const counts = items.map((item) => popularity.counts[item]);
  const ranks = items.map((item) => popularity.ranks[item]);
  const headHits = hit.filter((_, i) => targetHead[i]);
  const tailHits = hit.filter((_, i) => !targetHead[i]);
  const onTop1 = intervalsOf({ headShare: head, meanPopularity: counts, meanPopularityRank: ranks }, items.length, bootstrap);
  return {
    rows: items.length,
    headShare: mean(head),
    coverage: new Set(items).size / popularity.counts.length,
    distinctItems: new Set(items).size,
    meanPopularity: mean(counts),
    meanPopularityRank: mean(ranks),
    hr1Head: mean(headHits),
    hr1Tail: mean(tailHits),
    intervals: {
      ...onTop1,
      hr1Head: intervalsOf({ hr1Head: headHits }, headHits.length, bootstrap).hr1Head,
      hr1Tail: intervalsOf({ hr1Tail: tailHits }, tailHits.length, bootstrap).hr1Tail,
    },
  };
}

function checkItems(values: readonly number[], itemCount: number, rowIds: readonly number[], what: string, allowNone: boolean): void {
  values.forEach((item, i) => {
    if (allowNone && item === -1) return;
    if (!(Number.isInteger(item) && item >= 0 && item < itemCount)) {
      throw new RangeError(`popularityBias: row ${rowIds[i]}: ${what} item ${item} is outside the ${itemCount} items popularity was counted on`);
    }
  });
}

/**
 * The popularity-bias metrics of an evaluation's per-row outcomes (needs targetItem, and rankTopItem + rank
 * and/or generationItem + generationHit for the two sources).
 */
export function popularityBias(outcomes: RowOutcomes, popularity: ItemPopularity, bootstrap: BootstrapOptions | false = {}): PopularityBias {
  checkOutcomes(outcomes);
  const { targetItem, rankTopItem, rank, generationItem, generationHit } = outcomes;
  if (!targetItem) throw new RangeError("popularityBias: the outcomes hold no targetItem (the target's item id of each row)");
  const itemCount = popularity.counts.length;
  checkItems(targetItem, itemCount, outcomes.rowIds, "target", false);
  const targetHead = targetItem.map((item) => popularity.head[item] === 1);
  const headRows = targetHead.filter(Boolean).length;
  const result: PopularityBias = {
    measured: true,
    source: { ...(popularity.file !== undefined ? { file: popularity.file } : {}), ...(popularity.sha256 !== undefined ? { sha256: popularity.sha256 } : {}), rows: popularity.rows },
    catalogueItems: itemCount,
    headItems: popularity.headItems,
    headFraction: popularity.headFraction,
    headRows,
    tailRows: targetItem.length - headRows,
  };
  if (rankTopItem && rank) {
    checkItems(rankTopItem, itemCount, outcomes.rowIds, "ranking's top-1", false);
    result.ranking = top1Bias(rankTopItem, rank.map((r) => (r === 1 ? 1 : 0)), targetHead, popularity, bootstrap);
  }
  if (generationItem && generationHit) {
    checkItems(generationItem, itemCount, outcomes.rowIds, "generation's", true);
    result.generation = top1Bias(generationItem, generationHit, targetHead, popularity, bootstrap);
  }
  return result;
}

/** T as JSON: numbers may be null (NaN), intervals [lo, hi] pairs or null. */
export type JsonOf<T> = { [K in keyof T]: T[K] extends number ? number | null : T[K] extends Interval ? [number, number] | null : T[K] extends object ? JsonOf<T[K]> : T[K] };
export type PopularityBiasJson = JsonOf<PopularityBias> | PopularityBiasOmitted;

/** The result as JSON: NaN (nothing measured) becomes null, and so does an interval with a NaN end. */
export function popularityBiasJson(bias: PopularityBiasResult): PopularityBiasJson {
  if (!bias.measured) return { measured: false, reason: bias.reason };
  const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);
  const top1 = (t: Top1Bias): JsonOf<Top1Bias> => ({
    rows: t.rows,
    headShare: finite(t.headShare),
    coverage: finite(t.coverage),
    distinctItems: t.distinctItems,
    meanPopularity: finite(t.meanPopularity),
    meanPopularityRank: finite(t.meanPopularityRank),
    hr1Head: finite(t.hr1Head),
    hr1Tail: finite(t.hr1Tail),
    intervals: Object.fromEntries(
      TOP1_INTERVAL_NAMES.map((k) => {
        const [lo, hi] = t.intervals[k];
        return [k, Number.isFinite(lo) && Number.isFinite(hi) ? [lo, hi] : null];
      })
    ) as JsonOf<Top1Bias>["intervals"],
  });
  return {
    ...bias,
    ...(bias.ranking ? { ranking: top1(bias.ranking) } : {}),
    ...(bias.generation ? { generation: top1(bias.generation) } : {}),
  } as JsonOf<PopularityBias>;
}
