import { spawnSync } from "child_process";
import { promises as fsp } from "fs";
import * as os from "os";
import * as path from "path";
import { addLoraAdapters, createModel, loadModel, saveModel } from "../../src/model/checkpoint";
import { parseConfig, presetConfig } from "../../src/model/config";
import { openSafetensors, writeSafetensors } from "../../src/model/safetensors";
import type { NativeModel, NativeModelConfig, NativeModelConstructor } from "../../src/native";
import { rejectionOf } from "../helpers";
import { bf16ToF32, f32ToBf16, FakeNativeModel } from "./fake-native";

const modelClass = FakeNativeModel as unknown as NativeModelConstructor;
const tiny = (overrides: Partial<NativeModelConfig> = {}): NativeModelConfig => ({ ...presetConfig("tiny", 40), ...overrides });

let root: string;
beforeEach(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), "sdpo-ckpt-"));
});
afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

function tensorBytes(model: NativeModel, name: string, merged = false): Buffer {
  return Buffer.from(model.getTensor(name, { merged }).data);
}

function expectSameWeights(a: NativeModel, b: NativeModel, filter: (isAdapter: boolean) => boolean = () => true): number {
  const names = a.parameterInfo().filter((p) => filter(p.isAdapter)).map((p) => p.name);
  expect(b.parameterInfo().filter((p) => filter(p.isAdapter)).map((p) => p.name).sort()).toEqual([...names].sort());
  for (const name of names) {
    if (!tensorBytes(a, name).equals(tensorBytes(b, name))) throw new Error(`tensor ${name} differs after the round trip`);
  }
  return names.length;
}

/** Sets every adapter B to a non-zero pattern so merged weights differ from the base. */
function perturbAdapters(model: NativeModel): void {
  for (const p of model.parameterInfo().filter((q) => q.isAdapter)) {
    const n = p.shape.reduce((x, y) => x * y, 1);
    const values = Float32Array.from({ length: n }, (_, i) => ((i % 7) - 3) * 0.01);
    model.setTensor(p.name, "F32", p.shape, new Uint8Array(values.buffer));
  }
}

const TOKENIZER_JSON = JSON.stringify({
  version: "1.0", truncation: null, padding: null, added_tokens: [], normalizer: null,
  pre_tokenizer: { type: "Whitespace" }, post_processor: null, decoder: null,
  model: { type: "WordLevel", vocab: { "[UNK]": 0, rock: 1, jazz: 2, "</s>": 3 }, unk_token: "[UNK]" },
});

describe("save and load through a stand-in native model", () => {
  test("a created model round-trips bit-exact; the folder holds config.json and model.safetensors only", async () => {
    const { native: model } = createModel(tiny(), { seed: 7, modelClass });
    const dir = path.join(root, "ckpt");
    await saveModel(model, dir);
    expect((await fsp.readdir(dir)).sort()).toEqual(["config.json", "model.safetensors"]);
    expect(await fsp.readdir(root)).toEqual(["ckpt"]); // no temp folder left beside it
    const config = JSON.parse(await fsp.readFile(path.join(dir, "config.json"), "utf8"));
    expect(config).toMatchObject({ architectures: ["LlamaForCausalLM"], model_type: "llama", torch_dtype: "float32", hidden_size: 64 });
    const st = await openSafetensors(path.join(dir, "model.safetensors"));
    expect(st.metadata).toEqual({ format: "pt" });
    expect(st.has("lm_head.weight")).toBe(true);

    const loaded = await loadModel(dir, { modelClass });
    expect(loaded.path).toBe(dir);
    expect(loaded.tokenizer).toBeUndefined();
    expect(loaded.native.config).toEqual(model.config);
    expect(expectSameWeights(model, loaded.native)).toBe(2 + 2 * 9 + 1);
  });

  test("tied heads store no lm_head.weight, and a stored copy is ignored on load", async () => {
    const { native: model } = createModel(tiny({ tie_word_embeddings: true }), { seed: 3, modelClass });
    const dir = path.join(root, "tied");
    await saveModel(model, dir);
    const st = await openSafetensors(path.join(dir, "model.safetensors"));
    expect(st.has("lm_head.weight")).toBe(false);
    expect(st.has("model.embed_tokens.weight")).toBe(true);
    // An export that also stores the head (and the old rotary buffer) still loads.
    const tensors = await Promise.all(st.names().map((n) => st.read(n)));
    const embed = tensors.find((t) => t.name === "model.embed_tokens.weight")!;
    tensors.push({ ...embed, name: "lm_head.weight" });
    tensors.push({ name: "model.layers.0.self_attn.rotary_emb.inv_freq", dtype: "F32", shape: [8], data: new Uint8Array(32) });
    await writeSafetensors(path.join(dir, "model.safetensors"), tensors);
    expectSameWeights(model, (await loadModel(dir, { modelClass })).native);
  });

  test("missing and unexpected tensors are refused with every name listed", async () => {
    const { native: model } = createModel(tiny(), { seed: 1, modelClass });
    const dir = path.join(root, "m");
    await saveModel(model, dir);
    const file = path.join(dir, "model.safetensors");
    const st = await openSafetensors(file);
    const all = await Promise.all(st.names().map((n) => st.read(n)));
    const missing = ["model.layers.1.mlp.up_proj.weight", "model.norm.weight"];
    await writeSafetensors(file, all.filter((t) => !missing.includes(t.name)));
    let err = await rejectionOf(loadModel(dir, { modelClass }));
    expect(err.message).toBe(`loadModel ${dir}: 2 parameter(s) missing from the checkpoint: model.layers.1.mlp.up_proj.weight, model.norm.weight`);

    await writeSafetensors(file, [...all, { name: "model.layers.9.extra.weight", dtype: "F32", shape: [1], data: new Uint8Array(4) }, { name: "score.weight", dtype: "F32", shape: [1], data: new Uint8Array(4) }]);
    err = await rejectionOf(loadModel(dir, { modelClass }));
    expect(err.message).toBe(`loadModel ${dir}: 2 unexpected tensor(s) the model has no parameter for: model.layers.9.extra.weight, score.weight`);

    const bad = all.map((t) => (t.name === "model.norm.weight" ? { ...t, shape: [32], data: new Uint8Array(128) } : t));
    await writeSafetensors(file, bad);
    err = await rejectionOf(loadModel(dir, { modelClass }));
    // Held to config.json before the model is built.
    expect(err.message).toBe(`${file}: tensor "model.norm.weight" has shape [32] but ${path.join(dir, "config.json")} (hidden_size) implies [64]`);

    const ints = all.map((t) => (t.name === "model.norm.weight" ? { ...t, dtype: "I32" as const } : t));
    await writeSafetensors(file, ints);
    err = await rejectionOf(loadModel(dir, { modelClass }));
    expect(err.message).toMatch(/tensor "model.norm.weight" has dtype I32; parameters need F32, F16, BF16 or F64/);

    await fsp.rm(path.join(dir, "config.json"));
    err = await rejectionOf(loadModel(dir, { modelClass }));
    expect(err.message).toMatch(/has no config.json/);
  });

  test("bf16 and f16 checkpoints are converted by setTensor into the model's dtype", async () => {
    const config = tiny();
    const { native: ref } = createModel(config, { seed: 11, modelClass });
    const dir = path.join(root, "bf16");
    await fsp.mkdir(dir);
    await fsp.writeFile(path.join(dir, "config.json"), JSON.stringify({ ...config, torch_dtype: "bfloat16" }));
    const tensors = ref.parameterInfo().map((p) => {
      const f32 = new Float32Array(ref.getTensor(p.name).data.slice().buffer);
      const bf16 = new Uint16Array(f32.length).map((_, i) => f32ToBf16(f32[i]));
      return { name: p.name, dtype: "BF16" as const, shape: p.shape, data: bf16 };
    });
    await writeSafetensors(path.join(dir, "model.safetensors"), tensors);
    const loaded = (await loadModel(dir, { modelClass })).native;
    const embed = new Float32Array(loaded.getTensor("model.embed_tokens.weight").data.slice().buffer);
    const stored = tensors.find((t) => t.name === "model.embed_tokens.weight")!.data;
    expect(embed.every((v, i) => v === bf16ToF32(stored[i]))).toBe(true);
    // Loaded as bf16, the bytes come back exactly as stored.
    const asBf16 = (await loadModel(dir, { modelClass, dtype: "bfloat16" })).native;
    expect(Buffer.from(asBf16.getTensor("model.embed_tokens.weight").data).equals(Buffer.from(stored.buffer))).toBe(true);

    // f16 (mixed dtypes in one file are allowed): 1, -2, 1/3 (rounded), 65504, 2^-24 (subnormal).
    const f16Bits = [0x3c00, 0xc000, 0x3555, 0x7bff, 0x0001];
    const norm = new Uint16Array(64).map((_, i) => f16Bits[i % f16Bits.length]);
    await writeSafetensors(
      path.join(dir, "model.safetensors"),
      tensors.map((t) => (t.name === "model.norm.weight" ? { ...t, dtype: "F16" as const, data: norm } : t))
    );
    const fromF16 = new Float32Array((await loadModel(dir, { modelClass })).native.getTensor("model.norm.weight").data.slice().buffer);
    expect(Array.from(fromF16.slice(0, 5))).toEqual([1, -2, Math.fround(0.333251953125), 65504, Math.fround(2 ** -24)]);
  });

  test("sharded checkpoints save and load", async () => {
    const { native: model } = createModel(tiny(), { seed: 5, modelClass });
    const dir = path.join(root, "sharded");
    await saveModel(model, dir, { maxShardBytes: 40_000 });
    const files = (await fsp.readdir(dir)).sort();
    expect(files).toContain("model.safetensors.index.json");
    expect(files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length).toBeGreaterThan(2);
    expectSameWeights(model, (await loadModel(dir, { modelClass })).native);
  });

  test("tokenizer.json is loaded and copied through a save byte for byte", async () => {
    const { native: model } = createModel(tiny(), { seed: 2, modelClass });
    const dir = path.join(root, "with-tok");
    await saveModel(model, dir);
    await fsp.writeFile(path.join(dir, "tokenizer.json"), TOKENIZER_JSON);
    await fsp.writeFile(path.join(dir, "tokenizer_config.json"), '{"model_max_length": 512}');
    const loaded = await loadModel(dir, { modelClass });
    expect(loaded.tokenizer).toBeDefined();
    expect(Array.from(await loaded.tokenizer!.encode("rock jazz"))).toEqual([1, 2]);
    const copy = path.join(root, "copy");
    await saveModel(loaded, copy);
    expect(await fsp.readFile(path.join(copy, "tokenizer.json"), "utf8")).toBe(TOKENIZER_JSON);
    expect(await fsp.readFile(path.join(copy, "tokenizer_config.json"), "utf8")).toBe('{"model_max_length": 512}');
    expect((await loadModel(dir, { modelClass, tokenizer: false })).tokenizer).toBeUndefined();
    // A model created from scratch with a tokenizer from elsewhere: its file is copied, its EOS id recorded.
    const tokFile = path.join(root, "tok.json");
    await fsp.writeFile(tokFile, TOKENIZER_JSON);
    const scratch = path.join(root, "scratch");
    await saveModel({ native: model, tokenizer: { source: tokFile, eosId: 2 } }, scratch);
    expect(await fsp.readFile(path.join(scratch, "tokenizer.json"), "utf8")).toBe(TOKENIZER_JSON);
    expect(JSON.parse(await fsp.readFile(path.join(scratch, "config.json"), "utf8")).eos_token_id).toBe(2);
  });
});

describe("LoRA adapters", () => {
  test("a full save merges adapters into the weights and stores no adapter tensor", async () => {
    const { native: model } = createModel(tiny(), { seed: 9, modelClass, lora: { rank: 4, alpha: 8, targets: ["q_proj", "v_proj"] } });
    expect(model.parameterInfo().filter((p) => p.isAdapter).length).toBe(2 * 2 * 2);
    perturbAdapters(model);
    const merged = tensorBytes(model, "model.layers.0.self_attn.q_proj.weight", true);
    expect(merged.equals(tensorBytes(model, "model.layers.0.self_attn.q_proj.weight"))).toBe(false);
    const dir = path.join(root, "merged");
    await saveModel(model, dir);
    const st = await openSafetensors(path.join(dir, "model.safetensors"));
    expect(st.names().some((n) => n.includes("lora"))).toBe(false);
    const loaded = (await loadModel(dir, { modelClass })).native;
    expect(tensorBytes(loaded, "model.layers.0.self_attn.q_proj.weight").equals(merged)).toBe(true);
  });

  test("adapterOnly writes the PEFT layout, and loading it on its base restores the adapters bit-exact", async () => {
    const baseDir = path.join(root, "base");
    const { native: base } = createModel(tiny(), { seed: 4, modelClass });
    await saveModel(base, baseDir);
    const { native: tuned } = await loadModel(baseDir, { modelClass, lora: { rank: 2, alpha: 4, dropout: 0.05, targets: ["q_proj", "down_proj"] } });
    perturbAdapters(tuned);
    const adapterDir = path.join(root, "adapter");
    await saveModel(tuned, adapterDir, { adapterOnly: true });
    expect((await fsp.readdir(adapterDir)).sort()).toEqual(["adapter_config.json", "adapter_model.safetensors"]);
    const adapterConfig = JSON.parse(await fsp.readFile(path.join(adapterDir, "adapter_config.json"), "utf8"));
    expect(adapterConfig).toMatchObject({
      r: 2, lora_alpha: 4, lora_dropout: 0.05, target_modules: ["down_proj", "q_proj"], peft_type: "LORA",
      task_type: "CAUSAL_LM", base_model_name_or_path: baseDir, bias: "none", use_dora: false,
    });
    const st = await openSafetensors(path.join(adapterDir, "adapter_model.safetensors"));
    expect(st.names()).toContain("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
    expect(st.info("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight").shape).toEqual([64, 2]);
    expect(st.names().every((n) => /^base_model\.model\.model\.layers\.\d\.(self_attn\.q_proj|mlp\.down_proj)\.lora_[AB]\.weight$/.test(n))).toBe(true);

    const restored = await loadModel(adapterDir, { modelClass }); // base found through base_model_name_or_path
    expect(expectSameWeights(tuned, restored.native)).toBe(21 + 8);
    expect(tensorBytes(restored.native, "model.layers.1.mlp.down_proj.weight", true).equals(tensorBytes(tuned, "model.layers.1.mlp.down_proj.weight", true))).toBe(true);
  });

  test("adapter folders: explicit base, missing base, unsupported PEFT features, mismatched tensors", async () => {
    const baseDir = path.join(root, "base");
    const { native: base } = createModel(tiny(), { seed: 4, modelClass });
    await saveModel(base, baseDir);
    const adapterDir = path.join(root, "adapter");
    const { native: tuned } = createModel(tiny(), { seed: 4, modelClass });
    addLoraAdapters(tuned, { rank: 2 });
    await saveModel(tuned, adapterDir, { adapterOnly: true });
    const configPath = path.join(adapterDir, "adapter_config.json");
    const adapterConfig = JSON.parse(await fsp.readFile(configPath, "utf8"));
    expect(adapterConfig.base_model_name_or_path).toBeNull();
    expect((await rejectionOf(loadModel(adapterDir, { modelClass }))).message).toMatch(/names no base model; pass \{ baseModel/);
    const loaded = await loadModel(adapterDir, { modelClass, baseModel: baseDir });
    expect(loaded.native.parameterInfo().filter((p) => p.isAdapter).length).toBe(2 * 2 * 7);

    await fsp.writeFile(configPath, JSON.stringify({ ...adapterConfig, base_model_name_or_path: "org/not-here" }));
    expect((await rejectionOf(loadModel(adapterDir, { modelClass }))).message).toMatch(/base model "org\/not-here" from adapter_config.json is not a local folder/);
    await fsp.writeFile(configPath, JSON.stringify({ ...adapterConfig, use_dora: true }));
    expect((await rejectionOf(loadModel(adapterDir, { modelClass, baseModel: baseDir }))).message).toBe(`${configPath}: "use_dora": true is not supported`);
    await fsp.writeFile(configPath, JSON.stringify({ ...adapterConfig, target_modules: ["q_proj", "lm_head"] }));
    expect((await rejectionOf(loadModel(adapterDir, { modelClass, baseModel: baseDir }))).message).toMatch(/unknown layer "lm_head"/);
    // Targets that disagree with the stored tensors: the extra tensors are named.
    await fsp.writeFile(configPath, JSON.stringify({ ...adapterConfig, target_modules: ["q_proj"] }));
    const err = await rejectionOf(loadModel(adapterDir, { modelClass, baseModel: baseDir }));
    expect(err.message).toMatch(/adapter_model.safetensors: 24 unexpected tensor\(s\) .*base_model\.model\.model\.layers\.0\.mlp\.down_proj\.lora_A\.weight/);
  });

  test("adapter tensors named with PEFT's adapter name (.default.) load; two names for one parameter are refused", async () => {
    const baseDir = path.join(root, "base");
    await saveModel(createModel(tiny(), { seed: 4, modelClass }).native, baseDir);
    const { native: tuned } = await loadModel(baseDir, { modelClass, lora: { rank: 2, targets: ["v_proj"] } });
    perturbAdapters(tuned);
    const adapterDir = path.join(root, "adapter");
    await saveModel(tuned, adapterDir, { adapterOnly: true });
    const file = path.join(adapterDir, "adapter_model.safetensors");
    const st = await openSafetensors(file);
    const tensors = await Promise.all(st.names().map((n) => st.read(n)));
    const renamed = tensors.map((t) => ({ ...t, name: t.name.replace(/\.(lora_[AB])\.weight$/, ".$1.default.weight") }));
    await writeSafetensors(file, renamed);
    expectSameWeights(tuned, (await loadModel(adapterDir, { modelClass })).native);
    await writeSafetensors(file, [...tensors, renamed[0]]);
    expect((await rejectionOf(loadModel(adapterDir, { modelClass }))).message).toMatch(
      /tensors ".*v_proj\.lora_A\.default\.weight" and ".*v_proj\.lora_A\.weight" both hold parameter "model\.layers\.0\.self_attn\.v_proj\.lora_A\.weight"/
    );
  });

  test("adapterOnly without adapters, or with settings unknown, is refused", async () => {
    const { native: model } = createModel(tiny(), { modelClass });
    expect((await rejectionOf(saveModel(model, path.join(root, "a"), { adapterOnly: true }))).message).toMatch(/has no LoRA adapters/);
    model.addLora({ rank: 2, alpha: 2, dropout: 0, targets: ["q_proj"] }); // behind this module's back
    expect((await rejectionOf(saveModel(model, path.join(root, "a"), { adapterOnly: true }))).message).toMatch(/settings are unknown.*pass \{ lora \}/);
    await saveModel(model, path.join(root, "a"), { adapterOnly: true, lora: { rank: 2, alpha: 2, dropout: 0, targets: ["q_proj"] } });
    expect(await fsp.readdir(root)).toEqual(["a"]);
  });
});

describe("kill safety", () => {
  test("an existing folder is replaced only with overwrite: true", async () => {
    const dir = path.join(root, "ckpt");
    const first = createModel(tiny(), { seed: 1, modelClass }).native;
    const second = createModel(tiny(), { seed: 2, modelClass }).native;
    await saveModel(first, dir);
    expect((await rejectionOf(saveModel(second, dir))).message).toBe(`saveModel: ${dir} already exists; pass { overwrite: true } to replace it`);
    expectSameWeights(first, (await loadModel(dir, { modelClass })).native);
    await saveModel(second, dir, { overwrite: true });
    expectSameWeights(second, (await loadModel(dir, { modelClass })).native);
    expect(await fsp.readdir(root)).toEqual(["ckpt"]);
  });

  test("a save that fails midway leaves the previous folder intact and no temp files", async () => {
    const dir = path.join(root, "ckpt");
    const first = createModel(tiny(), { seed: 1, modelClass }).native;
    await saveModel(first, dir);
    const before = await fsp.readFile(path.join(dir, "model.safetensors"));
    const failing = createModel(tiny(), { seed: 2, modelClass }).native;
    let calls = 0;
    const getTensor = failing.getTensor.bind(failing);
    failing.getTensor = (name, options) => {
      if (++calls === 10) throw new Error("device lost");
      return getTensor(name, options);
    };
    expect((await rejectionOf(saveModel(failing, dir, { overwrite: true }))).message).toBe("device lost");
    expect(await fsp.readdir(root)).toEqual(["ckpt"]);
    expect((await fsp.readFile(path.join(dir, "model.safetensors"))).equals(before)).toBe(true);
    // A failing first save leaves nothing at all.
    calls = 0;
    await rejectionOf(saveModel(failing, path.join(root, "fresh")));
    expect(await fsp.readdir(root)).toEqual(["ckpt"]);
  });

  test("the leftovers of a writer killed between its two renames are recovered: the old folder comes back", async () => {
    const dir = path.join(root, "ckpt");
    const first = createModel(tiny(), { seed: 1, modelClass }).native;
    await saveModel(first, dir);
    // What a writer killed mid-replace leaves: the old folder moved aside, the new one complete at its temp path.
    const deadPid = spawnSync(process.execPath, ["-e", ""]).pid;
    const stale = path.join(root, `.ckpt.tmp-${deadPid}-dead`);
    await fsp.rename(dir, `${stale}.old`);
    await fsp.mkdir(stale);
    await fsp.writeFile(path.join(stale, "config.json"), "{}");
    const second = createModel(tiny(), { seed: 2, modelClass }).native;
    expect((await rejectionOf(saveModel(second, dir))).message).toMatch(/already exists/); // the old one is back
    expect(await fsp.readdir(root)).toEqual(["ckpt"]);
    expectSameWeights(first, (await loadModel(dir, { modelClass })).native);
    // A live writer's temp folder (this process's pid) is left alone.
    const live = path.join(root, `.ckpt.tmp-${process.pid}-live`);
    await fsp.mkdir(live);
    await saveModel(second, dir, { overwrite: true });
    expect((await fsp.readdir(root)).sort()).toEqual([".ckpt.tmp-" + process.pid + "-live", "ckpt"]);
  });

  test("a disposed model is refused before anything is written", async () => {
    const { native: model } = createModel(tiny(), { modelClass });
    model.dispose();
    expect((await rejectionOf(saveModel(model, path.join(root, "x")))).message).toMatch(/disposed/);
    expect(await fsp.readdir(root)).toEqual([]);
  });
});

describe("checkpoint config from a real config.json", () => {
  test("a qwen2-shaped checkpoint (q/k/v biases, tied) round-trips", async () => {
    const config = parseConfig({ model_type: "qwen2", vocab_size: 30, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: true });
    const { native: model } = createModel(config, { seed: 6, modelClass });
    expect(model.parameterInfo().some((p) => p.name === "model.layers.0.self_attn.q_proj.bias")).toBe(true);
    const dir = path.join(root, "qwen2");
    await saveModel(model, dir);
    const json = JSON.parse(await fsp.readFile(path.join(dir, "config.json"), "utf8"));
    expect(json.architectures).toEqual(["Qwen2ForCausalLM"]);
    expectSameWeights(model, (await loadModel(dir, { modelClass })).native);
  });
});

// The real decoder (branch `model`): enabled as soon as the addon exports Model.
const realModelClass: NativeModelConstructor | undefined = (() => {
  try {
    const Model = require("../../src/native").native().Model as NativeModelConstructor | undefined;
    return typeof Model === "function" ? Model : undefined;
  } catch {
    return undefined;
  }
})();

(realModelClass ? describe : describe.skip)("save and load through the native Model", () => {
  const batch = {
    promptIds: Int32Array.from([3, 9, 14, 2, 7]),
    promptOffsets: Int32Array.from([0, 3, 5]),
    responseIds: Int32Array.from([5, 6, 11, 12, 13, 1]),
    responseOffsets: Int32Array.from([0, 2, 4, 6]),
    responsePrompt: Int32Array.from([0, 0, 1]),
  };

  test.each([
    ["float32", false],
    ["bfloat16", true],
  ] as const)("%s (tied head: %s): save -> load is bit-exact and scores identically", async (dtype, tied) => {
    const config = tiny({ tie_word_embeddings: tied });
    const { native: model } = createModel(config, { seed: 13, dtype });
    const dir = path.join(root, `real-${dtype}`);
    await saveModel(model, dir);
    const st = await openSafetensors(path.join(dir, "model.safetensors"));
    expect(new Set(st.names().map((n) => st.info(n).dtype))).toEqual(new Set([dtype === "float32" ? "F32" : "BF16"]));
    expect(st.has("lm_head.weight")).toBe(!tied);
    const loaded = (await loadModel(dir, { dtype })).native;
    expectSameWeights(model, loaded);
    const [a, b] = [await model.score(batch), await loaded.score(batch)];
    expect(Array.from(b.logps)).toEqual(Array.from(a.logps));
    model.dispose();
    loaded.dispose();
  });

  test.each(["qwen2", "qwen3", "mistral"])("%s-shaped checkpoint (biases / q-k norm / GQA) round-trips bit-exact", async (modelType) => {
    const config = parseConfig({ model_type: modelType, vocab_size: 40, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 8, tie_word_embeddings: modelType === "qwen2" });
    const { native: model } = createModel(config, { seed: 5 });
    const dir = path.join(root, modelType);
    await saveModel(model, dir);
    const loaded = (await loadModel(dir)).native;
    expectSameWeights(model, loaded);
    expect(Array.from((await loaded.score(batch)).logps)).toEqual(Array.from((await model.score(batch)).logps));
    model.dispose();
    loaded.dispose();
  });

  test("a bf16 checkpoint loads into a float32 model with the exact widened values", async () => {
    const { native: model } = createModel(tiny(), { seed: 8, dtype: "bfloat16" });
    const dir = path.join(root, "bf16");
    await saveModel(model, dir);
    const wide = (await loadModel(dir, { dtype: "float32" })).native;
    for (const p of model.parameterInfo()) {
      const bf16 = new Uint16Array(model.getTensor(p.name).data.slice().buffer);
      const f32 = new Float32Array(wide.getTensor(p.name).data.slice().buffer);
      expect(f32.every((v, i) => Object.is(v, bf16ToF32(bf16[i])))).toBe(true);
    }
    model.dispose();
    wide.dispose();
  });

  test("LoRA adapters: adapterOnly save -> load restores adapters bit-exact; a merged save scores like the adapted model", async () => {
    const baseDir = path.join(root, "base");
    const { native: base } = createModel(tiny(), { seed: 21 });
    await saveModel(base, baseDir);
    const { native: tuned } = await loadModel(baseDir, { lora: { rank: 4, alpha: 8 } });
    perturbAdapters(tuned);
    const adapterDir = path.join(root, "adapter");
    await saveModel(tuned, adapterDir, { adapterOnly: true });
    const restored = (await loadModel(adapterDir)).native;
    expectSameWeights(tuned, restored);
    const mergedDir = path.join(root, "merged");
    await saveModel(tuned, mergedDir);
    const merged = (await loadModel(mergedDir)).native;
    const [withAdapters, fromMerged] = [await tuned.score(batch), await merged.score(batch)];
    for (let i = 0; i < withAdapters.logps.length; i++) expect(fromMerged.logps[i]).toBeCloseTo(withAdapters.logps[i], 4);
    for (const m of [base, tuned, restored, merged]) m.dispose();
  });
});
