/** Shared-prefix scoring equals the plain prompt+response forward, across architectures and dtypes. */
import type { NativeModelConfig } from "../../src/native";
import { makeModel, maxAbsDiff, mixedBatch, randomizeParameters, tinyConfig, packBatch } from "./fixtures";
import { modelTestHooks } from "../../src/native/test-hooks";

const variants: [string, Partial<NativeModelConfig>][] = [
  ["llama, GQA (4 heads / 2 kv heads), untied head", {}],
  ["llama, multi-head (kv heads = heads), tied head", { num_key_value_heads: 4, tie_word_embeddings: true }],
  ["mistral, one kv head (multi-query)", { model_type: "mistral", num_key_value_heads: 1 }],
  ["qwen2, q/k/v bias, tied head", { model_type: "qwen2", attention_bias: true, tie_word_embeddings: true }],
  ["qwen3, q/k norm, head_dim 8 != hidden / heads", { model_type: "qwen3", qk_norm: true, head_dim: 8 }],
  [
    "llama3 rope scaling",
    {
      head_dim: 8,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 },
    },
  ],
  ["linear rope scaling", { rope_scaling: { rope_type: "linear", factor: 2 } }],
];

describe("Model.score (shared prefix) == plain forward", () => {
  for (const [name, overrides] of variants) {
    test(`${name}: float32 within 1e-5, float64 within 1e-10`, async () => {
      for (const [dtype, tolerance] of [["float32", 1e-5], ["float64", 1e-10]] as const) {
        const config = tinyConfig(overrides);
        const model = makeModel(config, dtype, 3);
        randomizeParameters(model, 11);
        const batch = mixedBatch(config.vocab_size);
        const fast = await model.score(batch, { tokenLogps: true });
        const plain = await modelTestHooks(model).score(batch, { tokenLogps: true, plainKernels: true });
        expect(fast.logps.length).toBe(10);
        expect(fast.tokenLogps!.length).toBe(batch.responseIds.length);
        expect(maxAbsDiff(fast.logps, plain.logps)).toBeLessThan(tolerance);
        expect(maxAbsDiff(fast.tokenLogps!, plain.tokenLogps!)).toBeLessThan(tolerance);
        // Sums of the per-token values, and real log-probabilities.
        for (let r = 0; r < fast.logps.length; r++) {
          let s = 0;
          for (let i = batch.responseOffsets[r]; i < batch.responseOffsets[r + 1]; i++) s += fast.tokenLogps![i];
          expect(Math.abs(s - fast.logps[r])).toBeLessThan(tolerance);
          expect(fast.logps[r]).toBeLessThan(0);
        }
        model.dispose();
      }
    });
  }

  test("a response's score does not depend on the other responses or prompts in the batch", async () => {
    const config = tinyConfig();
    const model = makeModel(config, "float64", 5);
    randomizeParameters(model, 2);
    const all = await model.score(packBatch([[1, 2, 3], [4, 5, 6, 7, 8]], [[[9, 10], [11]], [[12, 13, 14]]]));
    const alone = await model.score(packBatch([[4, 5, 6, 7, 8]], [[[12, 13, 14]]]));
    expect(Math.abs(all.logps[2] - alone.logps[0])).toBeLessThan(1e-12);
    model.dispose();
  });

  test("prompts without responses, single-token responses only, and an empty batch", async () => {
    const config = tinyConfig();
    const model = makeModel(config, "float64", 5);
    randomizeParameters(model, 2);
    const batch = packBatch([[1, 2, 3], [4, 5], [6]], [[[7], [8]], [], [[9]]]);
    const fast = await model.score(batch, { tokenLogps: true });
    const plain = await modelTestHooks(model).score(batch, { plainKernels: true });
    expect(fast.logps.length).toBe(3);
    expect(maxAbsDiff(fast.logps, plain.logps)).toBeLessThan(1e-10);
    const empty = await model.score(packBatch([], []), { tokenLogps: true });
    expect(empty.logps.length).toBe(0);
    expect(empty.tokenLogps!.length).toBe(0);
    model.dispose();
  });

  test("offsets may start past 0 (views into a larger Arrow buffer)", async () => {
    const config = tinyConfig();
    const model = makeModel(config, "float64", 5);
    randomizeParameters(model, 2);
    const plain = packBatch([[1, 2, 3]], [[[4, 5], [6]]]);
    const shifted = {
      ...plain,
      promptIds: Int32Array.from([30, 30, 1, 2, 3]),
      promptOffsets: Int32Array.from([2, 5]),
      responseIds: Int32Array.from([30, 4, 5, 6]),
      responseOffsets: Int32Array.from([1, 3, 4]),
    };
    expect(maxAbsDiff((await model.score(plain)).logps, (await model.score(shifted)).logps)).toBe(0);
    model.dispose();
  });

  test("the softmax over the vocabulary sums to one for a single next token", async () => {
    const config = tinyConfig({ vocab_size: 9 });
    const model = makeModel(config, "float64", 4);
    randomizeParameters(model, 5);
    const responses = Array.from({ length: 9 }, (_, t) => [t]);
    const { logps } = await model.score(packBatch([[1, 2]], [responses]));
    const total = Array.from(logps).reduce((a, l) => a + Math.exp(l), 0);
    expect(Math.abs(total - 1)).toBeLessThan(1e-12);
    model.dispose();
  });
});
