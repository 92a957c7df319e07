/** Tiny models and batches for the model tests. */
import { native, type ModelDType, type NativeModel, type NativeModelConfig, type PackedResponsesInput } from "../../src/native";
import { SeededRng } from "../../src/rng";

export function tinyConfig(overrides: Partial<NativeModelConfig> = {}): NativeModelConfig {
  return {
    model_type: "llama",
    vocab_size: 37,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 4,
    max_position_embeddings: 128,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    rope_scaling: null,
    tie_word_embeddings: false,
    attention_bias: false,
    qk_norm: false,
    ...overrides,
  };
}

/** Deterministic pseudo-random numbers (the package's mulberry32), so tests do not depend on Math.random. */
export function rng(seed: number): () => number {
  const generator = new SeededRng(seed);
  return () => generator.next();
}

export function makeModel(config: NativeModelConfig, dtype: ModelDType = "float32", seed = 1): NativeModel {
  const Model = native().Model;
  return new Model(config, { device: "cpu", dtype, seed });
}

/** Float64 view of a float tensor's raw bytes (F32 / F64 only). */
export function tensorValues(model: NativeModel, name: string, merged = false): Float64Array {
  const t = model.getTensor(name, { merged });
  const bytes = t.data.slice().buffer;
  return Float64Array.from(t.dtype === "F64" ? new Float64Array(bytes) : new Float32Array(bytes));
}

export function setValues(model: NativeModel, name: string, shape: number[], values: ArrayLike<number>): void {
  const data = new Uint8Array(Float64Array.from(values).buffer);
  model.setTensor(name, "F64", shape, data);
}

/**
 * Replaces every parameter with larger random values (weights ~ U(-scale, scale), norms and biases
 * away from their 1 / 0 init, LoRA B non-zero) so attention, biases and norms all matter.
 */
export function randomizeParameters(model: NativeModel, seed: number, scale = 0.35): void {
  const next = rng(seed);
  for (const p of model.parameterInfo()) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const isNorm = /norm\.weight$/.test(p.name);
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const u = 2 * next() - 1;
      values[i] = isNorm ? 1 + 0.5 * u : scale * u;
    }
    setValues(model, p.name, p.shape, values);
  }
}

/** Packs prompts and, per prompt, its responses. */
export function packBatch(prompts: number[][], responses: number[][][]): PackedResponsesInput {
  const promptIds: number[] = [];
  const promptOffsets = [0];
  const responseIds: number[] = [];
  const responseOffsets = [0];
  const responsePrompt: number[] = [];
  prompts.forEach((p, i) => {
    promptIds.push(...p);
    promptOffsets.push(promptIds.length);
    for (const r of responses[i]) {
      responseIds.push(...r);
      responseOffsets.push(responseIds.length);
      responsePrompt.push(i);
    }
  });
  return {
    promptIds: Int32Array.from(promptIds),
    promptOffsets: Int32Array.from(promptOffsets),
    responseIds: Int32Array.from(responseIds),
    responseOffsets: Int32Array.from(responseOffsets),
    responsePrompt: Int32Array.from(responsePrompt),
  };
}

/**
 * Prompts of different lengths (1 to 7 tokens), 1 to 4 responses each of 1 to 6 tokens; the prompt
 * with one response sits between the others.
 */
export function mixedBatch(vocab: number, seed = 7): PackedResponsesInput {
  const next = rng(seed);
  const tokens = (n: number) => Array.from({ length: n }, () => Math.floor(next() * vocab));
  const promptLengths = [3, 7, 1, 5];
  const responseLengths = [[2, 5, 1], [4], [6, 3], [1, 2, 3, 6]];
  return packBatch(
    promptLengths.map(tokens),
    responseLengths.map((ls) => ls.map(tokens))
  );
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
