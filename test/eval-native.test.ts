/**
 * evaluate() and `sdpo eval --json` on the real decoder (a small random model saved as a Hugging Face
 * folder) and the shipped LastFM split: the batched ranking agrees with scoring each row alone on the
 * plain reference path, constrained decoding picks the candidate that a step-by-step greedy walk (each step's
 * prefixes scored alone on the plain path) spells, the JSON line has the documented keys, and the
 * popularity bias is counted on the training file the folder records (or --train-data), else left out saying why.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { main } from "../src/cli/main";
import { shippedLastfm } from "../src/cli/demo-data";
import { PreferenceDataset } from "../src/data/dataset";
import { Tokenizer } from "../src/data/tokenizer";
import { candidateScoringInput, repack, targetIndex } from "../src/eval/batch-inputs";
import { constrainedGreedyChoice } from "../src/eval/constrained";
import { evaluate } from "../src/eval/evaluate";
import { pessimisticRank, rankingMetrics } from "../src/eval/ranking";
import { createModel, loadModel, saveModel } from "../src/model/checkpoint";
import { presetConfig } from "../src/model/config";
import { recordTrainingData } from "../src/trainers/run_dir";
import { nonCamelCaseKeys } from "./helpers";
import { modelTestHooks } from "../src/native/test-hooks";

const data = shippedLastfm();
const ROWS = 12;
let folder: string;

beforeAll(async () => {
  folder = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-eval-")), "random-tiny");
  const model = createModel(presetConfig("tiny", Tokenizer.fromFile(data.tokenizer).vocabSize), { seed: 7 });
  await saveModel(model, folder);
  fs.copyFileSync(data.tokenizer, path.join(folder, "tokenizer.json"));
  model.native.dispose();
});

test("batched candidate ranking equals row-by-row scoring on the plain path", async () => {
  const model = await loadModel(folder);
  try {
    const tokenizer = Tokenizer.fromFile(data.tokenizer);
    const result = await evaluate(model, PreferenceDataset.fromArrow(data.valid), { tokenizer, batchSize: 5, maxRows: ROWS });
    expect(result.rows).toBe(ROWS);
    for (const v of [result.hr1, result.validRatio]) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }

    const ranks: number[] = [];
    for await (const batch of PreferenceDataset.fromArrow(data.valid).batches({ batchSize: 1, negatives: 0, shuffle: false })) {
      if (ranks.length === ROWS) break;
      const { logps } = await modelTestHooks(model.native).score(candidateScoringInput(batch), { plainKernels: true });
      ranks.push(pessimisticRank(logps, targetIndex(batch, 0)));
    }
    const expected = rankingMetrics(ranks);
    // Fused and plain paths differ by float rounding only; a tie flip would move a metric by >= 1/ROWS.
    expect(result.rankHr1).toBeCloseTo(expected.hr1, 9);
    expect(result.hr3).toBeCloseTo(expected.hr3, 9);
    expect(result.hr5).toBeCloseTo(expected.hr5, 9);
    expect(result.ndcg3).toBeCloseTo(expected.ndcg3, 9);
    expect(result.ndcg5).toBeCloseTo(expected.ndcg5, 9);
  } finally {
    model.native.dispose();
  }
});

test("constrained decoding from one tokenLogps pass is the greedy walk through the candidates' token trie", async () => {
  const model = await loadModel(folder);
  try {
    const walkHits: number[] = [];
    let branchings = 0; // trie nodes below the root where the walk chose between several tokens
    let smallestMargin = Infinity;
    for await (const batch of PreferenceDataset.fromArrow(data.valid).batches({ batchSize: 4, negatives: 0, shuffle: false })) {
      if (walkHits.length >= ROWS) break;
      const input = candidateScoringInput(batch);
      const { tokenLogps } = await model.native.score(input, { tokenLogps: true });
      expect(tokenLogps).toHaveLength(input.responseIds.length);
      for (let b = 0; b < batch.size && walkHits.length < ROWS; b++) {
        const first = batch.candidateOffsets[b] - batch.candidateOffsets[0];
        const last = batch.candidateOffsets[b + 1] - batch.candidateOffsets[0];
        const lists: number[][] = [];
        const logps: Float64Array[] = [];
        for (let j = first; j < last; j++) {
          lists.push(Array.from(input.responseIds.subarray(input.responseOffsets[j], input.responseOffsets[j + 1])));
          logps.push(tokenLogps!.subarray(input.responseOffsets[j], input.responseOffsets[j + 1]));
        }
        const prompt = repack(batch.prompt, b, b + 1);
        /** The slow walk over `subset`: at each node, every possible next token appended to the path and scored alone. */
        const slowWalk = async (subset: number[][]): Promise<number[]> => {
          const path: number[] = [];
          let alive = subset;
          while (!alive.every((l) => l.length === path.length)) {
            const children = [...new Set(alive.map((l) => l[path.length]))];
            const responses = children.map((t) => [...path, t]);
            const offsets = [0];
            for (const r of responses) offsets.push(offsets[offsets.length - 1] + r.length);
            const step = await modelTestHooks(model.native).score(
              {
                promptIds: prompt.values,
                promptOffsets: prompt.offsets,
                responseIds: Int32Array.from(responses.flat()),
                responseOffsets: Int32Array.from(offsets),
                responsePrompt: new Int32Array(responses.length),
              },
              { plainKernels: true, tokenLogps: true }
            );
            const next = children.map((_, c) => step.tokenLogps![offsets[c + 1] - 1]);
            const order = next.map((_, c) => c).sort((x, y) => next[y] - next[x]);
            if (children.length > 1) {
              smallestMargin = Math.min(smallestMargin, next[order[0]] - next[order[1]]);
              if (path.length > 0) branchings++;
            }
            path.push(children[order[0]]);
            alive = alive.filter((l) => l[path.length - 1] === path[path.length - 1]);
          }
          return path;
        };

        const fast = constrainedGreedyChoice(lists, logps);
        expect(lists[fast.candidate]).toEqual(await slowWalk(lists));
        walkHits.push(fast.matching.includes(targetIndex(batch, b)) ? 1 : 0);
        // A random model rarely walks into a shared prefix from the root, so also decode among only the
        // candidates that share the commonest first token ("The ..."): there the walk must choose below the root.
        const firsts = lists.map((l) => l[0]);
        const common = firsts.reduce((best, t) => (firsts.filter((u) => u === t).length > firsts.filter((u) => u === best).length ? t : best));
        const group = lists.map((_, j) => j).filter((j) => firsts[j] === common);
        if (group.length > 1) {
          const sub = constrainedGreedyChoice(group.map((j) => lists[j]), group.map((j) => logps[j]));
          expect(lists[group[sub.candidate]]).toEqual(await slowWalk(group.map((j) => lists[j])));
        }
      }
    }
    // The walk made choices past the first token, and none was a near tie that rounding could flip.
    expect(branchings).toBeGreaterThan(0);
    expect(smallestMargin).toBeGreaterThan(1e-4);

    const result = await evaluate(model, PreferenceDataset.fromArrow(data.valid), {
      generation: false,
      ranking: false,
      constrained: true,
      batchSize: 5,
      maxRows: ROWS,
    });
    expect(result.perRow.constrainedHit).toEqual(walkHits);
    expect(result.constrainedHr1).toBeCloseTo(walkHits.reduce((s, v) => s + v, 0) / ROWS, 12);
  } finally {
    model.native.dispose();
  }
});

test("sdpo eval --json prints one object with the documented keys", async () => {
  const written: string[] = [];
  const stdout = jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
  const stderr = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    await main(["eval", "--model", folder, "--data", data.valid, "--json", "--max-rows", "8", "--no-generation", "--constrained"]);
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  const lines = written.join("").trim().split("\n");
  expect(lines).toHaveLength(1);
  const json = JSON.parse(lines[0]);
  expect(Object.keys(json).sort()).toEqual(["constrainedHr1", "hr1", "hr3", "hr5", "intervals", "ndcg3", "ndcg5", "popularityBias", "rankHr1", "rows", "validRatio"]);
  expect(typeof json.rankHr1).toBe("number"); // ranking HR@1, measured with --no-generation too
  expect(nonCamelCaseKeys(json)).toEqual([]);
  // A model saved outside a run folder records no training data: the bias metrics are left out, saying why.
  expect(json.popularityBias).toEqual({ measured: false, reason: expect.stringMatching(/no training data is recorded for this model; pass --train-data FILE/) });
  expect(json.rows).toBe(8);
  expect(json.hr1).toBeNull(); // generation was off
  expect(json.intervals.hr1).toBeNull();
  expect(json.hr3).toBeGreaterThanOrEqual(0);
  for (const metric of ["hr3", "hr5", "ndcg3", "ndcg5", "rankHr1", "constrainedHr1"]) {
    const [lo, hi] = json.intervals[metric];
    expect(lo).toBeLessThanOrEqual(json[metric]);
    expect(hi).toBeGreaterThanOrEqual(json[metric]);
  }
});

/** `sdpo eval --json` of the random model with `extra` flags, parsed. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function evalJson(extra: string[]): Promise<Record<string, any>> {
  const written: string[] = [];
  const stdout = jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
  const stderr = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    await main(["eval", "--model", folder, "--data", data.valid, "--json", "--max-rows", "8", "--no-generation", "--resamples", "100", ...extra]);
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  return JSON.parse(written.join(""));
}

test("sdpo eval: popularity bias counted on the run's recorded training file, or on --train-data", async () => {
  const record = path.join(folder, "training_data.json");
  const trainRows = await PreferenceDataset.fromArrow(data.train).countRows();
  try {
    fs.writeFileSync(record, JSON.stringify({ file: data.train, sha256: "0".repeat(64), rows: trainRows }));
    let json = await evalJson([]);
    expect(json.popularityBias.reason).toMatch(/train\.arrow has changed since training \(sha256 [0-9a-f]{12}\.\.\., .*training_data\.json records 000000000000\.\.\.\); pass --train-data/);

    fs.rmSync(record);
    await recordTrainingData(folder, data.train, trainRows);
    json = await evalJson([]);
    const bias = json.popularityBias;
    expect(bias).toMatchObject({ measured: true, source: { file: data.train, rows: trainRows }, catalogueItems: 4606, headItems: 478 });
    expect(bias.headRows + bias.tailRows).toBe(8);
    expect(bias.generation).toBeUndefined(); // --no-generation
    expect(bias.ranking.rows).toBe(8);
    for (const key of ["headShare", "meanPopularity", "meanPopularityRank"]) {
      const [lo, hi] = bias.ranking.intervals[key];
      expect(lo).toBeLessThanOrEqual(bias.ranking[key]);
      expect(hi).toBeGreaterThanOrEqual(bias.ranking[key]);
    }
    expect(bias.ranking.coverage).toBeCloseTo(bias.ranking.distinctItems / 4606, 12);
    expect(bias.ranking.intervals.coverage).toBeUndefined();

    // --train-data overrides the record; a missing file is a clear error.
    fs.writeFileSync(record, JSON.stringify({ file: path.join(folder, "gone.arrow"), sha256: "0".repeat(64), rows: 1 }));
    expect((await evalJson([])).popularityBias.reason).toMatch(/the training file .*gone\.arrow recorded in .*training_data\.json is gone/);
    expect((await evalJson(["--train-data", data.train])).popularityBias).toEqual(bias);
    await expect(evalJson(["--train-data", path.join(folder, "nope.arrow")])).rejects.toThrow(/--train-data .*nope\.arrow: no such file/);
  } finally {
    fs.rmSync(record, { force: true });
  }
});

test("sdpo eval prints the table with intervals and the constrained column", async () => {
  const written: string[] = [];
  const stdout = jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
  const stderr = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    await main(["eval", "--model", folder, "--data", data.valid, "--max-rows", "6", "--no-generation", "--constrained", "--resamples", "200"]);
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  const lines = written.join("").trim().split("\n");
  expect(lines[0]).toMatch(/^method .*\|\s+constrained HR@1 \| rows$/);
  expect(lines[2]).toMatch(/^random-tiny .*\d\.\d{4} \[\d\.\d\d, \d\.\d\d\] \|\s+6$/);
  expect(lines[3]).toMatch(/95% percentile bootstrap intervals over the 6 rows \(200 resamples, seed 0\)/);
  expect(lines[5]).toMatch(/^popularity bias of random-tiny: not measured: no training data is recorded for this model/);
});
