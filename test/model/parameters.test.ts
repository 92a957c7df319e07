/** Parameter names (Hugging Face's), initialisation, and raw tensor get/set. */
import { native } from "../../src/native";
import { makeModel, tensorValues, tinyConfig } from "./fixtures";

function layerNames(i: number, opts: { bias?: boolean; qkNorm?: boolean } = {}): string[] {
  const a = `model.layers.${i}.self_attn`;
  return [
    `${a}.q_proj.weight`,
    ...(opts.bias ? [`${a}.q_proj.bias`] : []),
    `${a}.k_proj.weight`,
    ...(opts.bias ? [`${a}.k_proj.bias`] : []),
    `${a}.v_proj.weight`,
    ...(opts.bias ? [`${a}.v_proj.bias`] : []),
    `${a}.o_proj.weight`,
    ...(opts.qkNorm ? [`${a}.q_norm.weight`, `${a}.k_norm.weight`] : []),
    `model.layers.${i}.mlp.gate_proj.weight`,
    `model.layers.${i}.mlp.up_proj.weight`,
    `model.layers.${i}.mlp.down_proj.weight`,
    `model.layers.${i}.input_layernorm.weight`,
    `model.layers.${i}.post_attention_layernorm.weight`,
  ];
}

describe("parameters", () => {
  test("names and shapes match Hugging Face's state dict (llama, untied)", () => {
    const model = makeModel(tinyConfig());
    const info = model.parameterInfo();
    expect(info.map((p) => p.name)).toEqual([
      "model.embed_tokens.weight",
      ...layerNames(0),
      ...layerNames(1),
      "model.norm.weight",
      "lm_head.weight",
    ]);
    const shape = (n: string) => info.find((p) => p.name === n)!.shape;
    expect(shape("model.embed_tokens.weight")).toEqual([37, 16]);
    expect(shape("model.layers.0.self_attn.q_proj.weight")).toEqual([16, 16]);
    expect(shape("model.layers.0.self_attn.k_proj.weight")).toEqual([8, 16]); // 2 kv heads x 4
    expect(shape("model.layers.0.mlp.down_proj.weight")).toEqual([16, 24]);
    expect(shape("lm_head.weight")).toEqual([37, 16]);
    expect(info.every((p) => p.dtype === "float32" && p.trainable && !p.isAdapter)).toBe(true);
    model.dispose();
  });

  test("qwen2 has q/k/v biases and a tied head (no lm_head.weight); qwen3 has q/k norms", () => {
    const qwen2 = makeModel(tinyConfig({ model_type: "qwen2", attention_bias: true, tie_word_embeddings: true }));
    expect(qwen2.parameterInfo().map((p) => p.name)).toEqual([
      "model.embed_tokens.weight",
      ...layerNames(0, { bias: true }),
      ...layerNames(1, { bias: true }),
      "model.norm.weight",
    ]);
    qwen2.dispose();
    const qwen3 = makeModel(tinyConfig({ model_type: "qwen3", qk_norm: true, head_dim: 8 }));
    const info = qwen3.parameterInfo();
    expect(info.map((p) => p.name)).toContain("model.layers.1.self_attn.k_norm.weight");
    expect(info.find((p) => p.name === "model.layers.0.self_attn.q_norm.weight")!.shape).toEqual([8]);
    expect(info.find((p) => p.name === "model.layers.0.self_attn.q_proj.weight")!.shape).toEqual([32, 16]);
    expect(info.find((p) => p.name === "model.layers.0.self_attn.o_proj.weight")!.shape).toEqual([16, 32]);
    qwen3.dispose();
  });

  test("initialised like Hugging Face: weights N(0, 0.02), norms 1, biases 0; seeded", () => {
    const config = tinyConfig({ model_type: "qwen2", attention_bias: true, vocab_size: 500, hidden_size: 64, head_dim: 16 });
    const model = makeModel(config, "float32", 42);
    const w = tensorValues(model, "model.embed_tokens.weight");
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(Math.abs(std - 0.02)).toBeLessThan(0.001);
    expect(tensorValues(model, "model.norm.weight").every((v) => v === 1)).toBe(true);
    expect(tensorValues(model, "model.layers.0.self_attn.q_proj.bias").every((v) => v === 0)).toBe(true);
    const again = makeModel(config, "float32", 42);
    expect(tensorValues(again, "lm_head.weight")).toEqual(tensorValues(model, "lm_head.weight"));
    const other = makeModel(config, "float32", 43);
    expect(tensorValues(other, "lm_head.weight")).not.toEqual(tensorValues(model, "lm_head.weight"));
    for (const m of [model, again, other]) m.dispose();
  });

  test("randomInit: false creates zero weights (norms 1) for a checkpoint to fill", () => {
    const model = new (native().Model)(tinyConfig(), { device: "cpu", dtype: "bfloat16", randomInit: false });
    for (const p of model.parameterInfo()) {
      expect(p.dtype).toBe("bfloat16");
      const bytes = model.getTensor(p.name).data;
      const words = new Uint16Array(bytes.slice().buffer);
      const one = 0x3f80; // bfloat16 1.0
      expect(words.every((w) => w === (/norm\.weight$/.test(p.name) ? one : 0))).toBe(true);
    }
    model.dispose();
  });

  test("getTensor / setTensor move raw bytes, converting dtypes, from unaligned buffers", () => {
    const model = makeModel(tinyConfig(), "float64");
    const name = "model.norm.weight";
    const values = Float32Array.from({ length: 16 }, (_, i) => 0.5 + i / 8);
    // A Uint8Array starting at an odd byte offset, like a tensor inside a safetensors file.
    const buffer = new Uint8Array(1 + 64);
    buffer.set(new Uint8Array(values.buffer), 1);
    model.setTensor(name, "F32", [16], buffer.subarray(1));
    const t = model.getTensor(name);
    expect(t.dtype).toBe("F64");
    expect(t.shape).toEqual([16]);
    expect(Array.from(new Float64Array(t.data.slice().buffer))).toEqual(Array.from(values));
    // bfloat16: the top half of a float32.
    const bf16 = new Uint16Array(16);
    const f32 = Float32Array.from({ length: 16 }, (_, i) => -2 + i * 0.25); // exact in bf16
    const u32 = new Uint32Array(f32.buffer);
    for (let i = 0; i < 16; i++) bf16[i] = u32[i] >>> 16;
    model.setTensor(name, "BF16", [16], new Uint8Array(bf16.buffer));
    expect(Array.from(tensorValues(model, name))).toEqual(Array.from(f32));
    model.dispose();
    const bf = makeModel(tinyConfig(), "bfloat16");
    const got = bf.getTensor("model.norm.weight");
    expect(got.dtype).toBe("BF16");
    expect(got.data.length).toBe(32);
    expect(bf.dtype).toBe("bfloat16");
    bf.dispose();
  });
});
