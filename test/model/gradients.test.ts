/** Float64 central finite differences of sum_r w_r log p(response_r | prompt_r) vs autograd. */
import type { NativeModel, PackedResponsesInput } from "../../src/native";
import { native } from "../../src/native";
import { makeModel, maxAbsDiff, mixedBatch, randomizeParameters, rng, setValues, tensorValues, tinyConfig } from "./fixtures";
import { modelTestHooks } from "../../src/native/test-hooks";

async function objective(model: NativeModel, batch: PackedResponsesInput, weights: Float64Array): Promise<number> {
  const { logps } = await model.score(batch);
  return logps.reduce((acc, l, r) => acc + weights[r] * l, 0);
}

/** Checks `count` random entries of each named parameter. */
async function checkGradients(model: NativeModel, batch: PackedResponsesInput, names: string[], count: number) {
  const R = batch.responsePrompt.length;
  const next = rng(17);
  const weights = Float64Array.from({ length: R }, () => 2 * next() - 1);
  const grads = await modelTestHooks(model).scoreGradients(batch, weights, names);
  const info = new Map(model.parameterInfo().map((p) => [p.name, p]));
  const h = 1e-6;
  for (let n = 0; n < names.length; n++) {
    const shape = info.get(names[n])!.shape;
    const values = tensorValues(model, names[n]);
    expect(grads[n].length).toBe(values.length);
    for (let c = 0; c < count; c++) {
      const i = Math.floor(next() * values.length);
      const saved = values[i];
      values[i] = saved + h;
      setValues(model, names[n], shape, values);
      const plus = await objective(model, batch, weights);
      values[i] = saved - h;
      setValues(model, names[n], shape, values);
      const minus = await objective(model, batch, weights);
      values[i] = saved;
      setValues(model, names[n], shape, values);
      const numeric = (plus - minus) / (2 * h);
      expect(Math.abs(numeric - grads[n][i])).toBeLessThan(1e-7 + 1e-6 * Math.abs(numeric));
    }
  }
}

describe("gradients of the shared-prefix score (float64 finite differences)", () => {
  test("base parameters: embeddings, attention, q/k norm, bias, MLP, norms, head", async () => {
    const config = tinyConfig({ model_type: "qwen3", qk_norm: true, attention_bias: true, head_dim: 8 });
    const model = makeModel(config, "float64");
    randomizeParameters(model, 6);
    const batch = mixedBatch(config.vocab_size, 12);
    await checkGradients(
      model,
      batch,
      [
        "model.embed_tokens.weight",
        "model.layers.0.self_attn.q_proj.weight",
        "model.layers.0.self_attn.k_proj.bias",
        "model.layers.0.self_attn.k_norm.weight",
        "model.layers.1.self_attn.v_proj.weight",
        "model.layers.1.self_attn.o_proj.weight",
        "model.layers.0.mlp.gate_proj.weight",
        "model.layers.1.mlp.down_proj.weight",
        "model.layers.1.post_attention_layernorm.weight",
        "model.norm.weight",
        "lm_head.weight",
      ],
      3
    );
    model.dispose();
  });

  test("LoRA parameters (A and B), base frozen", async () => {
    const config = tinyConfig();
    const model = makeModel(config, "float64");
    model.addLora({ rank: 2, alpha: 4, dropout: 0, targets: ["q_proj", "k_proj", "up_proj", "o_proj"] });
    randomizeParameters(model, 8);
    const batch = mixedBatch(config.vocab_size, 13);
    await checkGradients(
      model,
      batch,
      [
        "model.layers.0.self_attn.q_proj.lora_A.weight",
        "model.layers.0.self_attn.q_proj.lora_B.weight",
        "model.layers.1.self_attn.k_proj.lora_B.weight",
        "model.layers.1.mlp.up_proj.lora_A.weight",
        "model.layers.0.self_attn.o_proj.lora_B.weight",
      ],
      3
    );
    // The frozen base stays frozen after a gradient call that asked for it.
    await modelTestHooks(model).scoreGradients(batch, new Float64Array(10).fill(1), ["model.layers.0.self_attn.q_proj.weight"]);
    expect(model.parameterInfo().find((p) => p.name === "model.layers.0.self_attn.q_proj.weight")!.trainable).toBe(false);
    model.dispose();
  });

  test("with adapters off, LoRA parameters get no gradient", async () => {
    const config = tinyConfig();
    const model = makeModel(config, "float64");
    model.addLora({ rank: 2, alpha: 4, dropout: 0, targets: ["q_proj"] });
    randomizeParameters(model, 8);
    const batch = mixedBatch(config.vocab_size, 13);
    const [g] = await modelTestHooks(model).scoreGradients(batch, new Float64Array(10).fill(1), ["model.layers.0.self_attn.q_proj.lora_A.weight"], {
      adapters: false,
    });
    expect(g.every((v) => v === 0)).toBe(true);
    model.dispose();
  });
});

describe("gradient checkpointing", () => {
  const names = [
    "model.embed_tokens.weight",
    "model.layers.0.self_attn.q_proj.weight",
    "model.layers.0.self_attn.k_norm.weight",
    "model.layers.1.self_attn.v_proj.bias",
    "model.layers.1.mlp.down_proj.weight",
    "model.norm.weight",
  ];

  test("full fine-tuning: the same gradients with layers recomputed in backward", async () => {
    const config = tinyConfig({ model_type: "qwen3", qk_norm: true, attention_bias: true, head_dim: 8 });
    const model = makeModel(config, "float64");
    randomizeParameters(model, 6);
    const batch = mixedBatch(config.vocab_size, 12);
    const weights = Float64Array.from({ length: 10 }, (_, i) => (i % 3) - 1);
    const plain = await modelTestHooks(model).scoreGradients(batch, weights, names, { train: true });
    model.setGradientCheckpointing(true);
    const recomputed = await modelTestHooks(model).scoreGradients(batch, weights, names, { train: true });
    for (let n = 0; n < names.length; n++) {
      expect(plain[n].some((v) => v !== 0)).toBe(true);
      let worst = 0;
      for (let i = 0; i < plain[n].length; i++) worst = Math.max(worst, Math.abs(plain[n][i] - recomputed[n][i]));
      expect(worst).toBeLessThan(1e-12);
    }
    model.dispose();
  });

  test("LoRA with dropout: recomputation replays the same dropout masks", async () => {
    const config = tinyConfig();
    const model = makeModel(config, "float64");
    model.addLora({ rank: 2, alpha: 4, dropout: 0.3, targets: ["q_proj", "v_proj", "gate_proj"] });
    randomizeParameters(model, 8);
    const batch = mixedBatch(config.vocab_size, 13);
    const weights = new Float64Array(10).fill(1);
    const lora = ["model.layers.0.self_attn.q_proj.lora_A.weight", "model.layers.1.mlp.gate_proj.lora_B.weight"];
    const run = async (seed: number, train: boolean) => {
      native().manualSeed(seed);
      return modelTestHooks(model).scoreGradients(batch, weights, lora, { train });
    };
    const a = await run(5, true);
    const eval_ = await run(5, false);
    expect(maxAbsDiff(a[0], eval_[0])).toBeGreaterThan(1e-6); // dropout is active in train mode
    expect(maxAbsDiff(a[0], (await run(6, true))[0])).toBeGreaterThan(1e-6); // and random
    model.setGradientCheckpointing(true);
    const b = await run(5, true);
    for (let n = 0; n < lora.length; n++) expect(maxAbsDiff(a[n], b[n])).toBeLessThan(1e-12);
    model.dispose();
  });
});

describe("gradients: shared prefix == plain path", () => {
  test("every parameter's gradient, float64 within 1e-10, with LoRA and GQA", async () => {
    const config = tinyConfig({ model_type: "qwen2", attention_bias: true });
    const model = makeModel(config, "float64");
    model.addLora({ rank: 2, alpha: 4, dropout: 0, targets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] });
    randomizeParameters(model, 15);
    const batch = mixedBatch(config.vocab_size, 16);
    const weights = Float64Array.from({ length: 10 }, (_, i) => Math.cos(i));
    const names = model.parameterInfo().map((p) => p.name);
    const fast = await modelTestHooks(model).scoreGradients(batch, weights, names);
    const plain = await modelTestHooks(model).scoreGradients(batch, weights, names, { plainKernels: true });
    for (let n = 0; n < names.length; n++) expect(maxAbsDiff(fast[n], plain[n])).toBeLessThan(1e-10);
    model.dispose();
  });
});
