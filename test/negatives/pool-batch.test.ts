/** RoDPO around a batch: candidates packed for scoring, pooled negatives packed for the step. */
import { gatherLogps } from "../../src/negatives/layout";
import { NegativePool } from "../../src/negatives/pool";
import { packCandidates, samplePoolNegatives } from "../../src/negatives/pool-batch";
import { SeededRng } from "../../src/rng";
import { expectThrows } from "../helpers";
import { itemTokens, makeBatch } from "./batch-fixture";

// Rows 100 and 101 (makeBatch numbers rows from 100); each row's candidates include its positive.
const batch = () =>
  makeBatch(
    [1, 2],
    [[3], [4]],
    [
      [1, 3, 5, 7, 9],
      [2, 4, 6, 8],
    ]
  );

const tokensOf = (ids: Int32Array, offsets: Int32Array, r: number) => Array.from(ids.subarray(offsets[r], offsets[r + 1]));

test("packCandidates: one response per candidate, in candidateItems order, under its row's prompt", () => {
  const b = batch();
  const input = packCandidates(b);
  expect(Array.from(input.responsePrompt)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1]);
  b.candidateItems.forEach((item, r) => expect(tokensOf(input.responseIds, input.responseOffsets, r)).toEqual(itemTokens(item)));
  expect(Array.from(input.promptOffsets)).toEqual([0, 3, 6]);
  expect(tokensOf(input.promptIds, input.promptOffsets, 1)).toEqual([7, 7, 1]);
});

test("refresh from the candidates' scores, then sample: the top-scored pooled items with their tokens", () => {
  const b = batch();
  // Scores favour larger item ids; the positives (1, 2) are left out of the pools.
  const scores = Float64Array.from(b.candidateItems, (item) => item);
  const pool = new NegativePool({ poolSize: 2, selection: "hard" });
  pool.refresh({ rows: b.rows, positives: b.chosenItem, candidateOffsets: b.candidateOffsets, candidateItems: b.candidateItems, scores });
  expect(Array.from(pool.poolOf(100)!)).toEqual([9, 7]);
  const layout = samplePoolNegatives(b, pool, 2);
  expect(layout.negatives).toBe(2);
  const itemsOf = (row: number) => Array.from(layout.rejectedIndex.subarray(row * 2, row * 2 + 2), (r) => layout.responseItem[r]);
  expect(itemsOf(0)).toEqual([9, 7]);
  expect(itemsOf(1)).toEqual([8, 6]);
  for (let r = 0; r < layout.responseItem.length; r++) {
    expect(tokensOf(layout.responseIds, layout.responseOffsets, r)).toEqual(itemTokens(layout.responseItem[r]));
  }
  const { chosen, rejected } = gatherLogps(layout, Float64Array.from(layout.responseItem, (item) => -item));
  expect(Array.from(chosen)).toEqual([-1, -2]);
  expect(Array.from(rejected)).toEqual([-9, -7, -8, -6]);
});

test("rows not scored yet draw from their candidates (positive excluded), reproducibly from the generator", () => {
  const pool = new NegativePool({ poolSize: 3, seed: 4 });
  const draw = () => samplePoolNegatives(batch(), pool, 3, { rng: new SeededRng(9) });
  const layout = draw();
  expect(Array.from(layout.mask)).toEqual([1, 1, 1, 1, 1, 1]);
  for (let b = 0; b < 2; b++) {
    const items = Array.from(layout.rejectedIndex.subarray(b * 3, b * 3 + 3), (r) => layout.responseItem[r]);
    expect(items).not.toContain(b + 1);
    expect(new Set(items).size).toBe(3);
  }
  expect(draw()).toEqual(layout);
});

test("errors name the row and the problem", () => {
  const pool = new NegativePool({ poolSize: 2 });
  pool.refresh({ rows: [100], positives: [1], candidateOffsets: [0, 1], candidateItems: [42], scores: [0] });
  expectThrows(() => samplePoolNegatives(batch(), pool, 1), "RangeError", /row 0 \(source row 100\): pooled item 42 is not among its candidates/);
  expectThrows(() => samplePoolNegatives(makeBatch([1], [[3]], [[1]]), new NegativePool({ poolSize: 2 }), 1), "RangeError", /row 0 \(source row 100\) has no candidate other than its positive/);
  expectThrows(() => samplePoolNegatives(batch(), pool, 0), "RangeError", /k must be an integer >= 1, got 0/);
  expectThrows(() => packCandidates({ ...batch(), candidateItems: new Int32Array(2) }), "RangeError", /batch\.candidateItems must have one item per candidate \(9\), got 2/);
});
