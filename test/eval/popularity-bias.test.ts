/**
 * The popularity-bias metrics worked out by hand on a 6-item catalogue and 5 evaluated rows, the head cut
 * with popularity ties across it, and the top-1 tie rule of the ranking.
 */
import { bootstrapMean, bootstrapMeans } from "../../src/eval/bootstrap";
import type { RowOutcomes } from "../../src/eval/outcomes";
import { itemPopularity, popularityBias, popularityBiasJson } from "../../src/eval/popularity-bias";
import { pessimisticRank, topCandidate } from "../../src/eval/ranking";
import { formatPopularityBiasTable } from "../../src/eval/table";
import { SeededRng } from "../../src/rng";

// Items A..F are ids 0..5. Training targets: A three times, B and C twice, D once, E and F never.
const [A, B, C, D, E, F] = [0, 1, 2, 3, 4, 5];
const TRAIN_TARGETS = [A, B, C, A, D, C, A, B];
const popularity = itemPopularity(TRAIN_TARGETS, 6);

describe("item popularity", () => {
  test("counts training targets; ties share their mean rank; the head cut keeps ties whole", () => {
    expect(Array.from(popularity.counts)).toEqual([3, 2, 2, 1, 0, 0]);
    // Positions: A 1; B, C 2-3; D 4; E, F 5-6.
    expect(Array.from(popularity.ranks)).toEqual([1, 2.5, 2.5, 4, 5.5, 5.5]);
    // ceil(20% of 6) = 2 items, but B and C tie across positions 2 and 3: only A is more popular than the 3rd item.
    expect(Array.from(popularity.head)).toEqual([1, 0, 0, 0, 0, 0]);
    expect(popularity.headItems).toBe(1);
    expect(popularity.rows).toBe(8);
  });

  test("a cut between two popularity levels takes exactly ceil(20%) items; the result does not depend on item ids", () => {
    // A 3, B 2, C 1, D..F 0: the 3rd item (C, 1) is less popular than the 2nd, so A and B are the head.
    expect(Array.from(itemPopularity([A, A, A, B, B, C], 6).head)).toEqual([1, 1, 0, 0, 0, 0]);
    // The same counts on other ids: the head follows the counts.
    expect(Array.from(itemPopularity([F, F, F, E, E, D], 6).head)).toEqual([0, 0, 0, 0, 1, 1]);
    // Every item equally popular: no item is more popular than the one after the cut, so the head is empty.
    const flat = itemPopularity([A, B, C, D, E, F], 6);
    expect(flat.headItems).toBe(0);
    expect(Array.from(flat.ranks)).toEqual([3.5, 3.5, 3.5, 3.5, 3.5, 3.5]);
    // 10 items: ceil(2) = 2; one item: it is the head.
    expect(itemPopularity([0, 0, 1, 2], 10).headItems).toBe(1); // items 1 and 2 tie across the cut
    expect(itemPopularity([], 1).headItems).toBe(1);
    expect(() => itemPopularity([6], 6)).toThrow(/training row 0 has target item 6, outside the 6 items/);
    expect(() => itemPopularity([0], 6, { headFraction: 0 })).toThrow(/headFraction must be in \(0, 1\]/);
  });
});

describe("top-1 of a ranking", () => {
  test("highest score; a tie at the top goes against the target, then to the first candidate; NaN is lowest", () => {
    expect(topCandidate([-1, -2, -3], 1)).toBe(0);
    expect(topCandidate([-2, -1, -1, -1], 2)).toBe(1);
    expect(topCandidate([-2, -1, -1], 1)).toBe(2);
    expect(topCandidate([-1, -1], 0)).toBe(1);
    expect(topCandidate([NaN, -5], 1)).toBe(1);
    expect(topCandidate([NaN, NaN], 0)).toBe(1);
    expect(topCandidate([NaN], 0)).toBe(0);
    expect(() => topCandidate([1, 2], 2)).toThrow(/target index 2 is outside the 2 scores/);
  });

  test("the top-1 is the target exactly when the target's pessimistic rank is 1", () => {
    const rng = new SeededRng(3);
    const levels = [-1, -2, NaN, -Infinity];
    for (let trial = 0; trial < 2000; trial++) {
      const scores = Array.from({ length: 1 + rng.below(5) }, () => levels[rng.below(levels.length)]);
      const target = rng.below(scores.length);
      expect(topCandidate(scores, target) === target).toBe(pessimisticRank(scores, target) === 1);
    }
  });
});

describe("popularity-bias metrics on 5 hand-made rows", () => {
  // Head = {A}. Targets: A (head), B, D, E (tail), A (head).
  const outcomes: RowOutcomes = {
    rowIds: [0, 1, 2, 3, 4],
    targetItem: [A, B, D, E, A],
    rank: [1, 2, 3, 1, 2],
    rankTopItem: [A, A, C, E, B],
    generationHit: [1, 1, 0, 0, 0],
    generationValid: [1, 1, 0, 1, 0],
    // Rows 2 and 4 name no single candidate: no top-1.
    generationItem: [A, B, -1, A, -1],
  };
  const bias = popularityBias(outcomes, popularity, { seed: 4, resamples: 500 });

  test("head / tail targets", () => {
    expect(bias).toMatchObject({ measured: true, catalogueItems: 6, headItems: 1, headFraction: 0.2, headRows: 2, tailRows: 3, source: { rows: 8 } });
  });

  test("ranking: every row's top-scored candidate", () => {
    const r = bias.ranking!;
    expect(r.rows).toBe(5);
    expect(r.headShare).toBeCloseTo(2 / 5, 12); // A, A of A, A, C, E, B
    expect(r.distinctItems).toBe(4); // A, B, C, E
    expect(r.coverage).toBeCloseTo(4 / 6, 12);
    expect(r.meanPopularity).toBeCloseTo((3 + 3 + 2 + 0 + 2) / 5, 12);
    expect(r.meanPopularityRank).toBeCloseTo((1 + 1 + 2.5 + 5.5 + 2.5) / 5, 12);
    expect(r.hr1Head).toBeCloseTo(1 / 2, 12); // rows 0 (rank 1) and 4 (rank 2)
    expect(r.hr1Tail).toBeCloseTo(1 / 3, 12); // rows 1, 2, 3: only row 3 has rank 1
    // Split HR@1 adds back up to the ranking's HR@1 (2 of 5 rows).
    expect(r.hr1Head * bias.headRows + r.hr1Tail * bias.tailRows).toBeCloseTo(2, 12);
  });

  test("generation: the candidate a valid answer names, over the valid rows; invalid answers are misses in HR@1", () => {
    const g = bias.generation!;
    expect(g.rows).toBe(3);
    expect(g.headShare).toBeCloseTo(2 / 3, 12); // A, B, A
    expect(g.distinctItems).toBe(2);
    expect(g.coverage).toBeCloseTo(2 / 6, 12);
    expect(g.meanPopularity).toBeCloseTo((3 + 2 + 3) / 3, 12);
    expect(g.meanPopularityRank).toBeCloseTo((1 + 2.5 + 1) / 3, 12);
    expect(g.hr1Head).toBeCloseTo(1 / 2, 12); // rows 0 (hit) and 4 (invalid)
    expect(g.hr1Tail).toBeCloseTo(1 / 3, 12); // rows 1 (hit), 2 (invalid), 3 (names A, not E)
  });

  test("intervals: over all rows with the evaluation's draws, within a subset otherwise; coverage has none", () => {
    const options = { seed: 4, resamples: 500 };
    const r = bias.ranking!;
    const together = bootstrapMeans({ head: [1, 1, 0, 0, 0], counts: [3, 3, 2, 0, 2], ranks: [1, 1, 2.5, 5.5, 2.5] }, options);
    expect(r.intervals.headShare).toEqual(together.head.interval);
    expect(r.intervals.meanPopularity).toEqual(together.counts.interval);
    expect(r.intervals.meanPopularityRank).toEqual(together.ranks.interval);
    // Same draws as any other metric of the 5 rows bootstrapped with these options (e.g. rankHr1's).
    expect(r.intervals.headShare).toEqual(bootstrapMean([1, 1, 0, 0, 0], options).interval);
    expect(r.intervals.hr1Head).toEqual(bootstrapMean([1, 0], options).interval);
    expect(r.intervals.hr1Tail).toEqual(bootstrapMean([0, 0, 1], options).interval);
    expect(bias.generation!.intervals.meanPopularity).toEqual(bootstrapMean([3, 2, 3], options).interval);
    expect(Object.keys(r.intervals).sort()).toEqual(["headShare", "hr1Head", "hr1Tail", "meanPopularity", "meanPopularityRank"]);
    for (const [lo, hi] of Object.values(r.intervals)) expect(lo).toBeLessThanOrEqual(hi);

    const unbootstrapped = popularityBias(outcomes, popularity, false);
    expect(unbootstrapped.ranking!.headShare).toBe(r.headShare);
    expect(unbootstrapped.ranking!.intervals.headShare).toEqual([NaN, NaN]);
  });

  test("a part not measured is absent; empty subsets give NaN, not an error", () => {
    const rankingOnly = popularityBias({ rowIds: outcomes.rowIds, targetItem: outcomes.targetItem, rank: outcomes.rank, rankTopItem: outcomes.rankTopItem }, popularity);
    expect(rankingOnly.generation).toBeUndefined();
    expect(rankingOnly.ranking!.headShare).toBeCloseTo(2 / 5, 12);

    const noValid = popularityBias({ ...outcomes, generationItem: [-1, -1, -1, -1, -1], generationHit: [0, 0, 0, 0, 0] }, popularity);
    expect(noValid.generation).toMatchObject({ rows: 0, coverage: 0, distinctItems: 0, hr1Head: 0, hr1Tail: 0 });
    expect(Number.isNaN(noValid.generation!.headShare)).toBe(true);
    expect(noValid.generation!.intervals.headShare).toEqual([NaN, NaN]);

    const allTail = popularityBias({ rowIds: [7], targetItem: [B], rank: [1], rankTopItem: [B] }, popularity);
    expect(allTail).toMatchObject({ headRows: 0, tailRows: 1 });
    expect(Number.isNaN(allTail.ranking!.hr1Head)).toBe(true);
    expect(allTail.ranking!.hr1Tail).toBe(1);
  });

  test("item ids outside the catalogue and missing targets are refused, naming the row", () => {
    expect(() => popularityBias({ ...outcomes, rankTopItem: [A, A, 9, E, B] }, popularity)).toThrow(/row 2: ranking's top-1 item 9 is outside the 6 items/);
    expect(() => popularityBias({ ...outcomes, generationItem: [A, -2, -1, A, -1] }, popularity)).toThrow(/row 1: generation's item -2/);
    expect(() => popularityBias({ rowIds: [0], rank: [1] }, popularity)).toThrow(/no targetItem/);
    expect(() => popularityBias({ ...outcomes, targetItem: [A] }, popularity)).toThrow(/targetItem has 1 rows, rowIds has 5/);
  });

  test("JSON (NaN as null) and the table", () => {
    const json = popularityBiasJson({ ...bias, generation: { ...bias.generation!, hr1Head: NaN, intervals: { ...bias.generation!.intervals, hr1Head: [NaN, NaN] } } });
    expect(json).toMatchObject({ measured: true, headItems: 1, headRows: 2, tailRows: 3, ranking: { rows: 5, distinctItems: 4 }, generation: { hr1Head: null } });
    expect((json as { generation: { intervals: Record<string, unknown> } }).generation.intervals.hr1Head).toBeNull();
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    expect(popularityBiasJson({ measured: false, reason: "no training data" })).toEqual({ measured: false, reason: "no training data" });

    const lines = formatPopularityBiasTable([{ method: "sdpo", bias }, { method: "other", bias: { measured: false, reason: "no training data is recorded" } }]).split("\n");
    expect(lines[0]).toMatch(/popularity = training rows whose target is the item, .*\(8 rows\); head = the 1 most popular of 6 items \(at most 20%, whole ties\)/);
    expect(lines[1]).toMatch(/^method \| top-1 of +\| rows \| +head share \| coverage \(items\) \| .*HR@1 head \| .*head\/tail rows$/);
    expect(lines[3].split("|").map((c) => c.trim()).slice(0, 5)).toEqual(["sdpo", "ranking", "5", expect.stringMatching(/^0\.4000 \[/), "0.6667 (4)"]);
    expect(lines[3]).toMatch(/\| +2\/3$/);
    expect(lines[4]).toMatch(/^sdpo +\| generation \| +3 \| 0\.6667 \[/);
    expect(lines[5]).toMatch(/coverage: distinct top-1 items \/ catalogue, no interval/);
    expect(lines[6]).toBe("popularity bias of other: not measured: no training data is recorded");
  });
});
