import { poolDemoRuns, summarizeDemo, type DemoRunRecord } from "../../src/cli/demo-summary";
import type { EvalResult } from "../../src/eval/evaluate";
import { summarizeOutcomes } from "../../src/eval/outcomes";

/** An evaluation of 4 rows with these free-generation hits (every answer valid) and ranks. */
function evaluation(hits: number[], ranks: number[]): EvalResult {
  const perRow = { rowIds: [0, 1, 2, 3], generationHit: hits, generationValid: hits.map(() => 1), rank: ranks };
  const { metrics, intervals } = summarizeOutcomes(perRow, { seed: 1, resamples: 200 });
  return { ...metrics, rows: 4, intervals, perRow } as unknown as EvalResult;
}

const runA: DemoRunRecord = { seeds: [1], testRows: 4, perSeed: { sft: [evaluation([1, 1, 0, 0], [1, 1, 2, 3])], sdpo: [evaluation([1, 1, 1, 0], [1, 1, 1, 2])] } };
const runB: DemoRunRecord = {
  seeds: [2, 3],
  testRows: 4,
  perSeed: {
    sft: [evaluation([1, 0, 0, 0], [1, 2, 2, 2]), evaluation([1, 1, 1, 1], [1, 1, 1, 1])],
    sdpo: [evaluation([0, 0, 0, 0], [2, 2, 2, 2]), evaluation([1, 1, 0, 1], [1, 1, 3, 1])],
    dpo: [evaluation([1, 0, 0, 0], [1, 2, 2, 2]), evaluation([1, 0, 0, 0], [1, 2, 2, 2])],
  },
};

describe("pooling demo runs", () => {
  test("three seeds from two runs: the mean of the seeds' HR@1, and the same report as one run with all three", () => {
    const pooled = poolDemoRuns([runA, runB]);
    expect(pooled.seeds).toEqual([1, 2, 3]);
    const sft = pooled.results.find((r) => r.method === "SFT")!.result;
    expect(sft.hr1).toBeCloseTo((0.5 + 0.25 + 1) / 3, 12);
    const sdpo = pooled.results.find((r) => r.method === "S-DPO")!.result;
    expect(sdpo.hr1).toBeCloseTo((0.75 + 0 + 0.75) / 3, 12);
    const together = summarizeDemo({ sft: [...runA.perSeed.sft, ...runB.perSeed.sft], sdpo: [...runA.perSeed.sdpo, ...runB.perSeed.sdpo] }, ["sft", "sdpo"], [1, 2, 3], 4);
    expect(pooled.lines).toEqual(together.lines);
  });

  test("a method one run lacks (DPO here) is left out, not pooled from some seeds only", () => {
    const pooled = poolDemoRuns([runA, runB]);
    expect(pooled.results.map((r) => r.method)).toEqual(["SFT", "S-DPO"]);
    expect(pooled.comparisons.every((c) => c.a !== "dpo" && c.b !== "dpo")).toBe(true);
  });

  test("refuses a seed counted twice, runs on other rows, and files that are not demo results", () => {
    expect(() => poolDemoRuns([runA, runA], ["a.json", "b.json"])).toThrow(/b.json: seed 1 is in another run/);
    expect(() => poolDemoRuns([runA, { ...runB, testRows: 5 }], ["a.json", "b.json"])).toThrow(/b.json: 5 test rows, a.json has 4/);
    expect(() => poolDemoRuns([{} as DemoRunRecord], ["x.json"])).toThrow(/x.json: not a demo results.json/);
    expect(() => poolDemoRuns([])).toThrow(/no demo runs/);
  });
});
