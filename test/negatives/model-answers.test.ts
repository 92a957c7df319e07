/**
 * ModelAnswerNegatives: the policy's own greedy answer replaces a row's last negative exactly where it is a new
 * wrong answer (not the chosen response, not already a negative), with the candidate's item id when it spells a
 * listed candidate and UNLISTED_ITEM otherwise; and an S-DPO run trains on such batches.
 */
import type { PackedTokens, PreferenceBatch } from "../../src/data/batch";
import { PreferenceDataset } from "../../src/data/dataset";
import { listAt } from "../../src/negatives/layout";
import { ModelAnswerNegatives, UNLISTED_ITEM, type AnsweringModel } from "../../src/negatives/model-answers";
import { createTrainer } from "../../src/trainers/registry";
import type { BatchRequest, PreferenceSource } from "../../src/trainers/source";
import { EOS, TempDir, tinyModel } from "../trainers/fixtures";

jest.setTimeout(60_000);

const E = 9;
const response = (item: number) => [100 + item, E];
function pack(lists: number[][]): PackedTokens {
  const offsets = new Int32Array(lists.length + 1);
  const values: number[] = [];
  lists.forEach((l, i) => {
    values.push(...l);
    offsets[i + 1] = values.length;
  });
  return { values: Int32Array.from(values), offsets };
}

/** 4 rows, each: chosen item b, negatives [10 + b, 20 + b], candidates [b, 10 + b, 20 + b, 30 + b]. */
function batch(): PreferenceBatch {
  const B = 4;
  const rows = [0, 1, 2, 3];
  return {
    size: B,
    rows: Int32Array.from(rows),
    prompt: pack(rows.map((b) => [1, 2, b])),
    chosen: pack(rows.map(response)),
    negatives: 2,
    rejected: pack(rows.flatMap((b) => [response(10 + b), response(20 + b)])),
    chosenItem: Int32Array.from(rows),
    rejectedItems: Int32Array.from(rows.flatMap((b) => [10 + b, 20 + b])),
    candidates: pack(rows.flatMap((b) => [response(b), response(10 + b), response(20 + b), response(30 + b)])),
    candidateOffsets: Int32Array.from([0, 4, 8, 12, 16]),
    candidateItems: Int32Array.from(rows.flatMap((b) => [b, 10 + b, 20 + b, 30 + b])),
    text: { prompt: ["", "", "", ""], chosen: ["", "", "", ""], candidates: [[], [], [], []] },
  };
}

/** Answers: row 0 the chosen response, row 1 its first negative, row 2 a listed candidate (32), row 3 an unlisted title without EOS. */
const model: AnsweringModel = {
  generate: async (prompts) => {
    expect(prompts.offsets.length - 1).toBe(4);
    return [response(0), response(11), response(32), [777]];
  },
};

const source = (b: PreferenceBatch): PreferenceSource => ({
  countRows: async () => b.size,
  async *batches(_request: BatchRequest) {
    yield b;
  },
});

test("the last negative becomes the model's answer only where that answer is a new wrong one", async () => {
  const original = batch();
  const wrapped = new ModelAnswerNegatives(source(original), model, { eos: E });
  const out = await wrapped.withAnswers(original);
  const negatives = (b: number) => [0, 1].map((k) => Array.from(listAt(out.rejected, b * 2 + k)));
  expect(negatives(0)).toEqual([response(10), response(20)]);
  expect(negatives(1)).toEqual([response(11), response(21)]);
  expect(negatives(2)).toEqual([response(12), response(32)]);
  expect(negatives(3)).toEqual([response(13), [777, E]]);
  expect(Array.from(out.rejectedItems)).toEqual([10, 20, 11, 21, 12, 32, 13, UNLISTED_ITEM]);
  expect(wrapped.stats).toEqual({ rows: 4, replaced: 2, unlisted: 1 });
  // The input batch is left as it was; the chosen responses and prompts are shared, not changed.
  expect(Array.from(original.rejectedItems)).toEqual([10, 20, 11, 21, 12, 22, 13, 23]);
  expect(out.chosen).toBe(original.chosen);
});

test("batches() answers only batches with negatives; options are checked", async () => {
  const noNegatives = { ...batch(), negatives: 0, rejected: pack([]), rejectedItems: new Int32Array(0) };
  const wrapped = new ModelAnswerNegatives(source(noNegatives), model, { eos: E });
  for await (const b of wrapped.batches({ batchSize: 4, negatives: 0, shuffle: false, seed: 0, epoch: 0, skipBatches: 0 })) expect(b).toBe(noNegatives);
  expect(wrapped.stats.rows).toBe(0);
  expect(() => new ModelAnswerNegatives(source(batch()), model, { eos: -1 })).toThrow(/eos must be a token id/);
  expect(() => new ModelAnswerNegatives(source(batch()), model, { eos: E, maxNewTokens: 0 })).toThrow(/maxNewTokens must be an integer from 1/);
  expect(() => new ModelAnswerNegatives(source(batch()), {} as AnsweringModel, { eos: E })).toThrow(/must have generate/);
  expect(() => new ModelAnswerNegatives({} as PreferenceSource, model, { eos: E })).toThrow(/batches\(\) and countRows\(\)/);
});

describe("training on the model's answers", () => {
  let tmp: TempDir;
  beforeEach(() => (tmp = new TempDir()));
  afterEach(() => tmp.remove());

  test("S-DPO with a scoring reference trains on them; a precomputed reference refuses them by name", async () => {
    const file = tmp.arrow("train.arrow", 8);
    const policy = tinyModel();
    const data = new ModelAnswerNegatives(PreferenceDataset.fromArrow(file) as unknown as PreferenceSource, policy, { eos: EOS, maxNewTokens: 4 });
    const trainer = createTrainer("sdpo", { model: policy, learningRate: 1e-3, batchSize: 4, numTrainEpochs: 1, negatives: 2 });
    const report = await trainer.fit(data);
    expect(report.steps).toBe(2);
    expect(Number.isFinite(report.finalLoss)).toBe(true);
    expect(data.stats.rows).toBe(8);
    // An untrained tiny model's answers are mostly neither the chosen response nor a negative.
    expect(data.stats.replaced).toBeGreaterThan(0);
    trainer.dispose();

    const again = createTrainer("sdpo", { model: policy, learningRate: 1e-3, batchSize: 4, numTrainEpochs: 1, negatives: 2, referenceMode: "precomputed" });
    await expect(again.fit(new ModelAnswerNegatives(PreferenceDataset.fromArrow(file) as unknown as PreferenceSource, policy, { eos: EOS, maxNewTokens: 4 }))).rejects.toThrow(/precomputed/);
    again.dispose();
  });
});
