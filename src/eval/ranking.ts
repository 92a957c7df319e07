/**
 * Ranking metrics for one relevant item among scored candidates (HR@k, NDCG@k).
 *
 * Ties are broken pessimistically: every other candidate scoring at least as high as the target ranks
 * above it, so a model that scores everything equal gets rank = number of candidates, not 1.
 * A NaN score is treated as the worst possible score (a NaN target ranks last).
 */

/** 1-based rank of candidate `target` among `scores`, ties counted against the target. */
export function pessimisticRank(scores: ArrayLike<number>, target: number): number {
  if (!Number.isInteger(target) || target < 0 || target >= scores.length) {
    throw new RangeError(`pessimisticRank: target index ${target} is outside the ${scores.length} scores`);
  }
  const own = Number.isNaN(scores[target]) ? -Infinity : scores[target];
  let rank = 1;
  for (let j = 0; j < scores.length; j++) {
    if (j === target) continue;
    const other = Number.isNaN(scores[j]) ? -Infinity : scores[j];
    // A NaN target loses to every candidate, NaN or not.
    if (other >= own || Number.isNaN(scores[target])) rank++;
  }
  return rank;
}

/**
 * Index of the candidate a ranking recommends first: the highest score (NaN lowest), a tie at the top broken
 * against the target as pessimisticRank does (so it is the target exactly when the target's rank is 1), then
 * by candidate order.
 */
export function topCandidate(scores: ArrayLike<number>, target: number): number {
  if (!Number.isInteger(target) || target < 0 || target >= scores.length) {
    throw new RangeError(`topCandidate: target index ${target} is outside the ${scores.length} scores`);
  }
  const value = (j: number): number => (Number.isNaN(scores[j]) ? -Infinity : scores[j]);
  let best = -Infinity;
  for (let j = 0; j < scores.length; j++) best = Math.max(best, value(j));
  for (let j = 0; j < scores.length; j++) if (j !== target && value(j) === best) return j;
  return target;
}

/** 1 when the relevant item is in the top k. */
export function hitAtK(rank: number, k: number): number {
  return rank <= k ? 1 : 0;
}

/** NDCG@k with one relevant item: the ideal DCG is 1, so NDCG = 1 / log2(rank + 1) within the top k. */
export function ndcgAtK(rank: number, k: number): number {
  return rank <= k ? 1 / Math.log2(rank + 1) : 0;
}

export interface RankingTotals {
  rows: number;
  hr1: number;
  hr3: number;
  hr5: number;
  ndcg3: number;
  ndcg5: number;
}

/** Means of HR@1/3/5 and NDCG@3/5 over the ranks of the relevant item (one per row). */
export function rankingMetrics(ranks: readonly number[]): RankingTotals {
  const n = ranks.length;
  const mean = (f: (rank: number) => number): number => (n === 0 ? 0 : ranks.reduce((s, r) => s + f(r), 0) / n);
  return {
    rows: n,
    hr1: mean((r) => hitAtK(r, 1)),
    hr3: mean((r) => hitAtK(r, 3)),
    hr5: mean((r) => hitAtK(r, 5)),
    ndcg3: mean((r) => ndcgAtK(r, 3)),
    ndcg5: mean((r) => ndcgAtK(r, 5)),
  };
}
