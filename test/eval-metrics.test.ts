import { judgeGeneration, mentionedCandidates } from "../src/eval/matching";
import { hitAtK, ndcgAtK, pessimisticRank, rankingMetrics } from "../src/eval/ranking";
import { formatMetricsTable } from "../src/eval/table";

describe("candidate matching (paper protocol)", () => {
  const cans = ["Coldplay", "Radiohead", "Muse", "The Killers"];

  test("exactly one named title is valid; a hit when it is the target", () => {
    expect(judgeGeneration("I recommend Radiohead.", cans, "Radiohead")).toEqual({ mentioned: ["Radiohead"], valid: true, hit: true });
    expect(judgeGeneration("Muse", cans, "Radiohead")).toEqual({ mentioned: ["Muse"], valid: true, hit: false });
  });

  test("no title or two titles is invalid, never a hit", () => {
    expect(judgeGeneration("something else entirely", cans, "Muse")).toEqual({ mentioned: [], valid: false, hit: false });
    const two = judgeGeneration("Muse or Coldplay", cans, "Muse");
    expect(two.valid).toBe(false);
    expect(two.hit).toBe(false);
    expect(two.mentioned).toEqual(["Coldplay", "Muse"]); // candidate order
  });

  test("matching is a case-sensitive substring match like the paper's `in`", () => {
    expect(mentionedCandidates("coldplay", cans)).toEqual([]);
    expect(mentionedCandidates('"Coldplay"</s>', cans)).toEqual(["Coldplay"]);
  });

  test("a title inside a longer named title does not count separately", () => {
    const nested = ["Queen", "Queen Latifah", "Abba"];
    expect(judgeGeneration("Queen Latifah", nested, "Queen Latifah")).toEqual({ mentioned: ["Queen Latifah"], valid: true, hit: true });
    expect(judgeGeneration("Queen Latifah", nested, "Queen").hit).toBe(false);
    // The short title named on its own elsewhere still counts: two titles, invalid.
    expect(judgeGeneration("Queen, then Queen Latifah", nested, "Queen").valid).toBe(false);
    expect(judgeGeneration("Queen", nested, "Queen")).toEqual({ mentioned: ["Queen"], valid: true, hit: true });
  });

  test("empty titles never match, duplicates count once, titles are trimmed", () => {
    expect(mentionedCandidates("anything", ["", "  "])).toEqual([]);
    expect(judgeGeneration("Muse", ["Muse", "Muse", "Abba"], "Muse").valid).toBe(true);
    expect(judgeGeneration("Muse", [" Muse ", "Abba"], "Muse ").hit).toBe(true);
  });
});

describe("ranking metrics", () => {
  test("rank counts candidates scoring at least as high (pessimistic ties)", () => {
    expect(pessimisticRank([-1, -2, -3], 0)).toBe(1);
    expect(pessimisticRank([-1, -2, -3], 2)).toBe(3);
    expect(pessimisticRank([-1, -1, -1, -1], 0)).toBe(4);
    expect(pessimisticRank([-5, -1, -1, -9], 1)).toBe(2);
  });

  test("NaN scores are the worst", () => {
    expect(pessimisticRank([NaN, -1, -2], 0)).toBe(3);
    expect(pessimisticRank([-3, NaN, NaN], 0)).toBe(1);
  });

  test("target index out of range is a RangeError", () => {
    expect(() => pessimisticRank([1, 2], 2)).toThrow(/outside the 2 scores/);
  });

  test("HR@k and NDCG@k with one relevant item", () => {
    expect(hitAtK(3, 3)).toBe(1);
    expect(hitAtK(4, 3)).toBe(0);
    expect(ndcgAtK(1, 3)).toBe(1);
    expect(ndcgAtK(2, 3)).toBeCloseTo(1 / Math.log2(3), 12);
    expect(ndcgAtK(3, 3)).toBeCloseTo(0.5, 12);
    expect(ndcgAtK(4, 3)).toBe(0);
    expect(ndcgAtK(5, 5)).toBeCloseTo(1 / Math.log2(6), 12);
  });

  test("means over rows", () => {
    const m = rankingMetrics([1, 2, 4, 6]);
    expect(m.rows).toBe(4);
    expect(m.hr1).toBeCloseTo(0.25, 12);
    expect(m.hr3).toBeCloseTo(0.5, 12);
    expect(m.hr5).toBeCloseTo(0.75, 12);
    expect(m.ndcg3).toBeCloseTo((1 + 1 / Math.log2(3)) / 4, 12);
    expect(m.ndcg5).toBeCloseTo((1 + 1 / Math.log2(3) + 1 / Math.log2(5)) / 4, 12);
    expect(rankingMetrics([]).hr1).toBe(0);
  });
});

test("metrics table has one line per method and a dash for metrics not measured", () => {
  const result = { hr1: 0.5, validRatio: 0.9, hr3: NaN, hr5: NaN, ndcg3: NaN, ndcg5: NaN, rankHr1: NaN, rows: 10 };
  const table = formatMetricsTable([{ method: "sdpo", result }]).split("\n");
  expect(table).toHaveLength(3);
  expect(table[0]).toMatch(/^method\s*\|\s*HR@1\s*\|\s*ValidRatio/);
  expect(table[2]).toMatch(/^sdpo\s*\|\s*0\.5000\s*\|\s*0\.9000\s*\|\s*-/);
});

test("metrics table shows each interval compactly, and the constrained column only when measured", () => {
  const nan: [number, number] = [NaN, NaN];
  const result = {
    hr1: 0.2434, validRatio: 0.9, hr3: 0.5, hr5: NaN, ndcg3: 0.4, ndcg5: NaN, rankHr1: 0.3, constrainedHr1: NaN, rows: 267,
    intervals: { hr1: [0.1911, 0.2996] as [number, number], validRatio: [0.86, 0.94] as [number, number], hr3: nan, hr5: nan, ndcg3: [0.35, 0.45] as [number, number], ndcg5: nan, rankHr1: nan, constrainedHr1: nan },
  };
  const table = formatMetricsTable([{ method: "sdpo", result }]).split("\n");
  expect(table[0]).not.toMatch(/constrained/);
  const cells = table[2].split("|").map((c) => c.trim());
  expect(cells).toEqual(["sdpo", "0.2434 [0.19, 0.30]", "0.9000 [0.86, 0.94]", "0.5000", "-", "0.4000 [0.35, 0.45]", "-", "0.3000", "267"]);
  const withConstrained = formatMetricsTable([
    { method: "a", result },
    { method: "b", result: { ...result, constrainedHr1: 0.5, intervals: { ...result.intervals, constrainedHr1: [0.4, 0.6] as [number, number] } } },
  ]).split("\n");
  expect(withConstrained[0]).toMatch(/\|\s+constrained HR@1 \| rows$/);
  expect(withConstrained[2]).toMatch(/\|\s+- \|\s+267$/);
  expect(withConstrained[3]).toMatch(/\| 0\.5000 \[0\.40, 0\.60\] \|\s+267$/);
  expect(new Set(withConstrained.map((l) => l.length)).size).toBe(1); // columns padded
});
