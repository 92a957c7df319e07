/**
 * The counting baselines on the hand-made files of fixtures.ts, every number worked out by hand:
 *
 * popularity (target + history occurrences over the 5 training rows):
 *   A: history of rows 0, 1, 3            = 3
 *   B: history of rows 0, 2 + target of 3 = 3
 *   C: history of row 2 + target of 0, 1, 4 = 4
 *   D: history of row 3 + target of 2     = 2
 *   E: history of row 4                   = 1
 *   F: nowhere                            = 0
 * count(h -> c): A->C 2 (rows 0, 1), B->C 1, B->D 1, C->D 1, A->B 1, D->B 1, E->C 1.
 *
 * popularity as the bias metrics count it (targets only): C 3, B 1, D 1, A E F 0; the head (ceil(20% of 6) = 2
 * items, whole ties) is C alone, since B and D tie across the cut. Popularity ranks: C 1, B D 2.5, A E F 5.
 */
import { fitBaseline, loadBaseline } from "../../src/baselines/fit";
import { baselineEvalResult, evaluateBaseline } from "../../src/baselines/evaluate";
import { CooccurrenceBaseline } from "../../src/baselines/cooccurrence";
import { PopularityBaseline } from "../../src/baselines/popularity";
import { RandomBaseline } from "../../src/baselines/random";
import { readRecommendationRows } from "../../src/baselines/rows";
import { bootstrapMean } from "../../src/eval/bootstrap";
import { readItemPopularity } from "../../src/eval/popularity-bias";
import { rankingMetrics } from "../../src/eval/ranking";
import { BaselineFiles, EVAL_ROWS, ITEMS, TRAIN_ROWS } from "./fixtures";

let files: BaselineFiles;
beforeAll(() => {
  files = new BaselineFiles();
});
afterAll(() => files.remove());

describe("reading rows", () => {
  test("history titles become item ids; the target's position among the candidates", async () => {
    const data = await readRecommendationRows(files.train);
    expect(data.items).toEqual(ITEMS);
    expect(data.rows).toHaveLength(5);
    expect(data.fileSha256).toMatch(/^[0-9a-f]{64}$/);
    const row3 = data.rows[3];
    expect(row3.row).toBe(3);
    expect(Array.from(row3.history)).toEqual([0, 3]); // A, D
    expect(row3.target).toBe(1); // B
    expect(Array.from(row3.candidates)).toEqual([1, 2, 4, 5]);
    expect(row3.targetIndex).toBe(0);
    expect(data.rows[1].targetIndex).toBe(1);
  });

  test("a history title outside the vocabulary: an error naming the file, row and column", async () => {
    const bad = files.write("bad-title.arrow", [TRAIN_ROWS[0], [["A", "Zed"], "C", ["C", "D", "E", "F"]]]);
    await expect(readRecommendationRows(bad)).rejects.toThrow(/bad-title\.arrow: row 1, column "history": title "Zed" is not in the item vocabulary/);
  });

  test("no item vocabulary in the metadata, a target missing from the candidates", async () => {
    const noItems = files.write("no-items.arrow", TRAIN_ROWS, []);
    await expect(readRecommendationRows(noItems)).rejects.toThrow(/schema metadata "sdpo.items" .* is missing/);
    const noTarget = files.write("no-target.arrow", [[["A"], "B", ["C", "D", "E", "F"]]]);
    await expect(readRecommendationRows(noTarget)).rejects.toThrow(/row 0, column "candidate_items": the target item 1 is not among the row's 4 candidates/);
    await expect(readRecommendationRows(files.path("missing.arrow"))).rejects.toThrow(/missing\.arrow: cannot open/);
  });
});

describe("popularity", () => {
  test("counts targets and history items of the training rows", async () => {
    const baseline = (await fitBaseline("popularity", files.train)) as PopularityBaseline;
    expect(Array.from(baseline.popularity)).toEqual([3, 3, 4, 2, 1, 0]);
    const data = await readRecommendationRows(files.eval);
    const scores = await baseline.scoreRows(data.rows);
    expect(Array.from(scores[0])).toEqual([3, 4, 2, 0]); // B C D F
  });

  test("ranks on the evaluation rows, ties counted against the target", async () => {
    const baseline = await fitBaseline("popularity", files.train);
    const { ranks, rows, metrics } = await evaluateBaseline(baseline, files.eval, { batchSize: 3 });
    // row 0: C(4) above B(3); row 1: C(4), B(3) above D(2); row 2: A(3), C(4) above D(2); row 3: A, B (3) above E(1);
    // row 4: F(0) last; row 5: A ties B (3) -> 2; row 6: C(4) first.
    expect(ranks).toEqual([2, 3, 3, 3, 4, 2, 1]);
    expect(rows).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(metrics.rows).toBe(7);
    expect(metrics.hr1).toBeCloseTo(1 / 7, 12);
    expect(metrics.hr3).toBeCloseTo(6 / 7, 12);
    expect(metrics.ndcg3).toBeCloseTo((1 + 2 / Math.log2(3) + 3 / Math.log2(4)) / 7, 12);
    expect(baselineEvalResult({ ranks, rows })).toMatchObject({ hr1: metrics.hr1, rankHr1: metrics.hr1, validRatio: 1, rows: 7 });
  });
});

describe("popularity bias of a baseline", () => {
  test("the top-scored candidate of each row, in the columns the models get", async () => {
    const baseline = await fitBaseline("popularity", files.train);
    const evaluation = await evaluateBaseline(baseline, files.eval);
    // Top-1 (scores A3 B3 C4 D2 E1 F0): C, C, C, A (A ties B, neither the target), B, B (B ties the target A), C.
    expect(evaluation.topItems).toEqual([2, 2, 2, 0, 1, 1, 2]);
    expect(evaluation.targets).toEqual([1, 3, 3, 4, 5, 0, 2]);
    const popularity = await readItemPopularity(files.train);
    expect(Array.from(popularity.counts)).toEqual([0, 1, 3, 1, 0, 0]);
    const result = baselineEvalResult(evaluation, { seed: 1 }, popularity);
    const bias = result.popularityBias;
    if (!bias.measured) throw new Error(bias.reason);
    expect(bias).toMatchObject({ headItems: 1, headRows: 1, tailRows: 6, source: { file: files.train, rows: 5 } });
    const ranking = bias.ranking!;
    expect(ranking.headShare).toBeCloseTo(4 / 7, 12);
    expect(ranking.coverage).toBeCloseTo(3 / 6, 12); // A, B, C
    expect(ranking.meanPopularity).toBeCloseTo((3 + 3 + 3 + 0 + 1 + 1 + 3) / 7, 12);
    expect(ranking.meanPopularityRank).toBeCloseTo((1 + 1 + 1 + 5 + 2.5 + 2.5 + 1) / 7, 12);
    expect(ranking.hr1Head).toBe(1); // row 6, target C, rank 1
    expect(ranking.hr1Tail).toBe(0);
    expect(ranking.intervals.headShare).toEqual(bootstrapMean([1, 1, 1, 0, 0, 0, 1], { seed: 1 }).interval);
    // A baseline's answer is its top-scored candidate: reported once, as the ranking's.
    expect(bias.generation).toBeUndefined();

    expect(baselineEvalResult(evaluation).popularityBias).toEqual({ measured: false, reason: expect.stringMatching(/no training data given/) });
    expect(baselineEvalResult({ ranks: evaluation.ranks, rows: evaluation.rows }, {}, popularity).popularityBias).toMatchObject({ measured: false });
  });
});

describe("cooccurrence", () => {
  test("sum over the history of count(h -> c), popularity ordering equal sums", async () => {
    const baseline = (await fitBaseline("cooccurrence", files.train)) as CooccurrenceBaseline;
    const data = await readRecommendationRows(files.eval);
    // row 0, history A: B gets A->B 1, C gets A->C 2.
    expect(Array.from(baseline.followSums(data.rows[0]))).toEqual([1, 2, 0, 0]);
    // row 1, history B, D: C gets B->C 1, B gets D->B 1, D gets B->D 1, E nothing.
    expect(Array.from(baseline.followSums(data.rows[1]))).toEqual([1, 1, 1, 0]);
    // row 2, history C, E: D gets C->D 1, C gets E->C 1.
    expect(Array.from(baseline.followSums(data.rows[2]))).toEqual([0, 1, 0, 1]);
    const { ranks } = await evaluateBaseline(baseline, files.eval);
    // row 0: C (2) above B (1); row 1: three tie at 1, popularity C 4 > B 3 > D 2 -> 3; row 2: D ties C at 1,
    // C more popular -> 2; row 3: no counts, popularity -> 3; row 4: D, B (1) above F, E (0), E more popular -> 4;
    // row 5: no counts, A ties B in popularity -> 2; row 6: A->C 2 -> 1.
    expect(ranks).toEqual([2, 3, 2, 3, 4, 2, 1]);
  });

  test("a row whose history repeats an item counts it once", async () => {
    const baseline = (await fitBaseline("cooccurrence", files.train)) as CooccurrenceBaseline;
    const row = { row: 0, history: Int32Array.from([0, 0]), candidates: Int32Array.from([1, 2]), target: 1, targetIndex: 0 };
    expect(Array.from(baseline.followSums(row))).toEqual([1, 2]);
  });
});

describe("random", () => {
  test("seeded: the same scores for a seed whatever the batching, other scores for another seed", async () => {
    const data = await readRecommendationRows(files.eval);
    const a = await fitBaseline("random", files.train, { seed: 5 });
    const b = await fitBaseline("random", files.train, { seed: 5 });
    const c = await fitBaseline("random", files.train, { seed: 6 });
    const all = await a.scoreRows(data.rows);
    expect(await b.scoreRows(data.rows)).toEqual(all);
    expect(await a.scoreRows(data.rows.slice(4))).toEqual(all.slice(4));
    expect(await c.scoreRows(data.rows)).not.toEqual(all);
    for (const scores of all) for (const s of scores) expect(s >= 0 && s < 1).toBe(true);
    expect((await evaluateBaseline(a, data, { batchSize: 2 })).ranks).toEqual((await evaluateBaseline(b, data)).ranks);
  });

  test("near 1/20 HR@1 over many rows of 20 candidates", async () => {
    const rows = Array.from({ length: 4000 }, (_, row) => ({
      row,
      history: new Int32Array(0),
      candidates: Int32Array.from({ length: 20 }, (_, j) => j),
      target: row % 20,
      targetIndex: row % 20,
    }));
    const baseline = new RandomBaseline({ file: "x", sha256: "", rows: 1, itemCount: 20, itemsSha256: "x" }, 1);
    const scores = await baseline.scoreRows(rows);
    const hits = rows.filter((r, i) => scores[i].every((s, j) => j === r.targetIndex || s < scores[i][r.targetIndex])).length;
    expect(Math.abs(hits / rows.length - 0.05)).toBeLessThan(0.015);
  });
});

describe("saving and loading", () => {
  test.each(["random", "popularity", "cooccurrence"] as const)("%s: the loaded folder scores as the fitted baseline", async (kind) => {
    const baseline = await fitBaseline(kind, files.train, { seed: 9 });
    const dir = files.path(`saved-${kind}`);
    await baseline.save(dir);
    await expect(baseline.save(dir)).rejects.toThrow(/already exists/);
    const loaded = await loadBaseline(dir);
    expect(loaded.kind).toBe(kind);
    expect(loaded.source).toEqual(baseline.source);
    expect(loaded.source.sha256).toMatch(/^[0-9a-f]{64}$/);
    const before = await evaluateBaseline(baseline, files.eval);
    expect((await evaluateBaseline(loaded, files.eval)).ranks).toEqual(before.ranks);
  });

  test("data with another item vocabulary is refused", async () => {
    const baseline = await fitBaseline("popularity", files.train);
    const other = files.write("other-items.arrow", EVAL_ROWS, [...ITEMS, "G"]);
    await expect(evaluateBaseline(baseline, other)).rejects.toThrow(/another item vocabulary \(7 items\) than the baseline's training file .* \(6 items\)/);
  });

  test("a damaged baseline.json: a message naming the file and the field", async () => {
    const fs = await import("fs");
    const path = await import("path");
    const dir = files.path("damaged");
    await (await fitBaseline("cooccurrence", files.train)).save(dir);
    const file = path.join(dir, "baseline.json");
    const json = JSON.parse(fs.readFileSync(file, "utf8"));
    fs.writeFileSync(file, JSON.stringify({ ...json, follows: [[0, 2, -1]] }));
    await expect(loadBaseline(dir)).rejects.toThrow(/baseline\.json: "follows"\[0\] is \[0,2,-1\]/);
    fs.writeFileSync(file, JSON.stringify({ ...json, popularity: [1, 2] }));
    await expect(loadBaseline(dir)).rejects.toThrow(/"popularity": expected 6 counts/);
    fs.writeFileSync(file, JSON.stringify({ ...json, kind: "oracle" }));
    await expect(loadBaseline(dir)).rejects.toThrow(/unknown kind "oracle"/);
    await expect(loadBaseline(files.dir)).rejects.toThrow(/no baseline\.json; not a folder written by `sdpo baseline`/);
  });
});

test("scoring rows with item ids the baseline was not fitted with: an error naming the row", async () => {
  const row = { row: 12, history: Int32Array.from([0]), candidates: Int32Array.from([1, 6]), target: 1, targetIndex: 0 };
  for (const kind of ["random", "popularity", "cooccurrence"] as const) {
    const baseline = await fitBaseline(kind, files.train);
    await expect(baseline.scoreRows([row])).rejects.toThrow(/row 12: candidates holds item id 6, outside the 6 items/);
  }
});
