/**
 * SASRec on the package's decoder: the next-item examples it trains on, seeded determinism, that training
 * learns (a transition seen in every training row is ranked first), and the saved folder scoring the same.
 */
import * as fs from "fs";
import * as path from "path";
import { fitBaseline, loadBaseline } from "../../src/baselines/fit";
import { evaluateBaseline } from "../../src/baselines/evaluate";
import { NextItemSource } from "../../src/baselines/next-item-source";
import { itemsSha256, readRecommendationRows } from "../../src/baselines/rows";
import { SasrecBaseline } from "../../src/baselines/sasrec";
import type { PreferenceBatch } from "../../src/data/batch";
import { BaselineFiles, ITEMS } from "./fixtures";

let files: BaselineFiles;
beforeAll(() => {
  files = new BaselineFiles();
});
afterAll(() => files.remove());

async function collect(source: NextItemSource, request: Partial<Parameters<NextItemSource["batches"]>[0]> = {}): Promise<PreferenceBatch[]> {
  const out: PreferenceBatch[] = [];
  for await (const b of source.batches({ batchSize: 2, negatives: 0, shuffle: false, seed: 0, epoch: 0, skipBatches: 0, ...request })) out.push(b);
  return out;
}

const lists = (p: { values: Int32Array; offsets: Int32Array }, n: number): number[][] =>
  Array.from({ length: n }, (_, i) => Array.from(p.values.subarray(p.offsets[i], p.offsets[i + 1])));

describe("next-item examples", () => {
  const sequences = [Int32Array.from([4, 5, 6]), Int32Array.from([7, 8])];

  test("every non-empty prefix predicts the next item, after BOS", async () => {
    const source = new NextItemSource(sequences, 99);
    expect(await source.countRows()).toBe(3);
    const batches = await collect(source);
    expect(batches.map((b) => b.size)).toEqual([2, 1]);
    expect(lists(batches[0].prompt, 2)).toEqual([[99, 4], [99, 4, 5]]);
    expect(lists(batches[0].chosen, 2)).toEqual([[5], [6]]);
    expect(Array.from(batches[0].chosenItem)).toEqual([5, 6]);
    expect(lists(batches[1].prompt, 1)).toEqual([[99, 7]]);
    expect(lists(batches[1].chosen, 1)).toEqual([[8]]);
    expect(batches[0].negatives).toBe(0);
  });

  test("shuffled per (seed, epoch), the same again for the same pair; skipBatches resumes", async () => {
    const long = Array.from({ length: 20 }, (_, s) => Int32Array.from([s, s + 1, s + 2]));
    const source = new NextItemSource(long, 99);
    const order = async (seed: number, epoch: number, skipBatches = 0) =>
      (await collect(source, { shuffle: true, seed, epoch, skipBatches })).flatMap((b) => lists(b.prompt, b.size).map((p) => p.join(",")));
    const a = await order(1, 0);
    expect(a).toHaveLength(40);
    expect(await order(1, 0)).toEqual(a);
    expect(await order(1, 1)).not.toEqual(a);
    expect(await order(2, 0)).not.toEqual(a);
    expect(await order(1, 0, 3)).toEqual(a.slice(6));
    await expect(collect(source, { negatives: 1 })).rejects.toThrow(/carry no negatives/);
  });
});

describe("SASRec", () => {
  const options = { seed: 3, sasrec: { epochs: 4, batchSize: 4, learningRate: 1e-2 } };

  test("seeded: two fits with one seed score identically, another seed differently", async () => {
    const data = await readRecommendationRows(files.eval);
    const a = await fitBaseline("sasrec", files.train, options);
    const b = await fitBaseline("sasrec", files.train, options);
    const c = await fitBaseline("sasrec", files.train, { ...options, seed: 4 });
    try {
      const scores = await a.scoreRows(data.rows);
      expect(await b.scoreRows(data.rows)).toEqual(scores);
      expect(await c.scoreRows(data.rows)).not.toEqual(scores);
      // Log-probabilities over the 6 items + BOS: negative, and the 4 candidates' mass at most 1.
      for (const row of scores) {
        expect(row.every((s) => s < 0)).toBe(true);
        expect(row.reduce((sum, s) => sum + Math.exp(s), 0)).toBeLessThanOrEqual(1 + 1e-9);
      }
      // Chunking rows into several native calls changes only float32 rounding.
      const chunked = await (a as SasrecBaseline).scoreRows(data.rows, 3);
      chunked.forEach((row, i) => row.forEach((s, j) => expect(s).toBeCloseTo(scores[i][j], 5)));
    } finally {
      [a, b, c].forEach((m) => m.dispose());
    }
  });

  test("learns the next item: A, B is always followed by C and B, C by D in the training rows", async () => {
    const baseline = await fitBaseline("sasrec", files.train, { seed: 1, sasrec: { epochs: 30, batchSize: 4, learningRate: 1e-2 } });
    try {
      const training = (baseline as SasrecBaseline).training;
      expect(training.examples).toBe(2 + 1 + 2 + 2 + 1); // sequences of 3, 2, 3, 3, 2 items
      expect(training.finalLoss).toBeLessThan(1.0);
      const rows = [
        { row: 0, history: Int32Array.from([0, 1]), candidates: Int32Array.from([3, 4, 5, 2]), target: 2, targetIndex: 3 },
        { row: 1, history: Int32Array.from([1, 2]), candidates: Int32Array.from([0, 1, 2, 3]), target: 3, targetIndex: 3 },
      ];
      const { ranks } = await evaluateBaseline(baseline, { name: "hand-made", rows, items: ITEMS, itemsSha256: itemsSha256(ITEMS) });
      expect(ranks).toEqual([1, 1]);
    } finally {
      baseline.dispose();
    }
  });

  test("the saved folder is a Hugging Face model folder plus baseline.json, and scores the same", async () => {
    const baseline = await fitBaseline("sasrec", files.train, options);
    const dir = files.path("sasrec");
    try {
      await baseline.save(dir);
      expect(fs.existsSync(path.join(dir, "model.safetensors"))).toBe(true);
      const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
      expect(config.vocab_size).toBe(6 + 1);
      const json = JSON.parse(fs.readFileSync(path.join(dir, "baseline.json"), "utf8"));
      expect(json).toMatchObject({ kind: "sasrec", specials: ["<bos>"], training: { seed: 3, epochs: 4 }, source: { rows: 5, itemCount: 6 } });
      const loaded = await loadBaseline(dir);
      try {
        const data = await readRecommendationRows(files.eval);
        expect(await loaded.scoreRows(data.rows)).toEqual(await baseline.scoreRows(data.rows));
      } finally {
        loaded.dispose();
      }
    } finally {
      baseline.dispose();
    }
  });

  test("bad options are refused before training", async () => {
    await expect(fitBaseline("sasrec", files.train, { sasrec: { epochs: 0 } })).rejects.toThrow(/sasrec: epochs must be a positive integer, got 0/);
    await expect(fitBaseline("sasrec", files.train, { seed: -1 })).rejects.toThrow(/sasrec: seed must be a non-negative integer/);
    await expect(fitBaseline("oracle" as never, files.train)).rejects.toThrow(/unknown kind "oracle"/);
  });
});

test("SASRec refuses rows with item ids beyond its vocabulary", async () => {
  const baseline = await fitBaseline("sasrec", files.train, { sasrec: { epochs: 1 } });
  try {
    const row = { row: 3, history: Int32Array.from([6]), candidates: Int32Array.from([1, 2]), target: 1, targetIndex: 0 };
    await expect(baseline.scoreRows([row])).rejects.toThrow(/sasrec: row 3: history holds item id 6, outside the 6 items/);
  } finally {
    baseline.dispose();
  }
});
