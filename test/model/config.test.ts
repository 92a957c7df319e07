import { promises as fsp } from "fs";
import * as os from "os";
import * as path from "path";
import { configToJson, parseConfig, presetConfig, readConfigFile } from "../../src/model/config";
import { rejectionOf, thrownBy } from "../helpers";

// config.json files as published on the Hugging Face Hub (trimmed of nothing the parser reads).
const LLAMA2_7B = {
  architectures: ["LlamaForCausalLM"], bos_token_id: 1, eos_token_id: 2, hidden_act: "silu", hidden_size: 4096,
  initializer_range: 0.02, intermediate_size: 11008, max_position_embeddings: 4096, model_type: "llama",
  num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 32, pretraining_tp: 1, rms_norm_eps: 1e-5,
  rope_scaling: null, tie_word_embeddings: false, torch_dtype: "float16", use_cache: true, vocab_size: 32000,
};
const LLAMA32_1B = {
  architectures: ["LlamaForCausalLM"], attention_bias: false, attention_dropout: 0.0, bos_token_id: 128000,
  eos_token_id: 128001, head_dim: 64, hidden_act: "silu", hidden_size: 2048, initializer_range: 0.02,
  intermediate_size: 8192, max_position_embeddings: 131072, mlp_bias: false, model_type: "llama",
  num_attention_heads: 32, num_hidden_layers: 16, num_key_value_heads: 8, pretraining_tp: 1, rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: "llama3" },
  rope_theta: 500000.0, tie_word_embeddings: true, torch_dtype: "bfloat16", use_cache: true, vocab_size: 128256,
};
const MISTRAL_7B = {
  architectures: ["MistralForCausalLM"], bos_token_id: 1, eos_token_id: 2, hidden_act: "silu", hidden_size: 4096,
  initializer_range: 0.02, intermediate_size: 14336, max_position_embeddings: 32768, model_type: "mistral",
  num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 8, rms_norm_eps: 1e-5, rope_theta: 10000.0,
  sliding_window: 4096, tie_word_embeddings: false, torch_dtype: "bfloat16", use_cache: true, vocab_size: 32000,
};
const QWEN25_05B = {
  architectures: ["Qwen2ForCausalLM"], attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151643, hidden_act: "silu",
  hidden_size: 896, initializer_range: 0.02, intermediate_size: 4864, max_position_embeddings: 32768, max_window_layers: 24,
  model_type: "qwen2", num_attention_heads: 14, num_hidden_layers: 24, num_key_value_heads: 2, rms_norm_eps: 1e-6,
  rope_theta: 1000000.0, sliding_window: 32768, tie_word_embeddings: true, torch_dtype: "bfloat16", use_cache: true,
  use_sliding_window: false, vocab_size: 151936,
};
const QWEN3_06B = {
  architectures: ["Qwen3ForCausalLM"], attention_bias: false, attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151645,
  head_dim: 128, hidden_act: "silu", hidden_size: 1024, initializer_range: 0.02, intermediate_size: 3072,
  max_position_embeddings: 40960, max_window_layers: 28, model_type: "qwen3", num_attention_heads: 16, num_hidden_layers: 28,
  num_key_value_heads: 8, rms_norm_eps: 1e-6, rope_scaling: null, rope_theta: 1000000, sliding_window: null,
  tie_word_embeddings: true, torch_dtype: "bfloat16", use_cache: true, use_sliding_window: false, vocab_size: 151936,
};

describe("parseConfig", () => {
  test("llama 2: head_dim from hidden / heads, no bias, no q/k norm, untied", () => {
    expect(parseConfig(LLAMA2_7B)).toEqual({
      model_type: "llama", vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32,
      num_attention_heads: 32, num_key_value_heads: 32, head_dim: 128, max_position_embeddings: 4096, rms_norm_eps: 1e-5,
      rope_theta: 10000, rope_scaling: null, tie_word_embeddings: false, attention_bias: false, qk_norm: false,
    });
  });

  test("llama 3.2: llama3 rope scaling, explicit head_dim, tied head", () => {
    const c = parseConfig(LLAMA32_1B);
    expect(c.rope_scaling).toEqual({ rope_type: "llama3", factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 });
    expect(c.head_dim).toBe(64);
    expect(c.num_key_value_heads).toBe(8);
    expect(c.rope_theta).toBe(500000);
    expect(c.tie_word_embeddings).toBe(true);
  });

  test("mistral: GQA, no bias", () => {
    const c = parseConfig(MISTRAL_7B);
    expect(c).toMatchObject({ model_type: "mistral", num_key_value_heads: 8, head_dim: 128, attention_bias: false, qk_norm: false, max_position_embeddings: 32768 });
  });

  test("sliding windows: mistral's is kept (default 4096, null = none); Qwen's use_sliding_window is refused", () => {
    expect(parseConfig(MISTRAL_7B).sliding_window).toBe(4096);
    const { sliding_window: _unused, ...noWindowField } = MISTRAL_7B;
    expect(parseConfig(noWindowField).sliding_window).toBe(4096); // MistralConfig's default
    expect("sliding_window" in parseConfig({ ...MISTRAL_7B, sliding_window: null })).toBe(false);
    expect(() => parseConfig({ ...MISTRAL_7B, sliding_window: 0 }, "/m/config.json")).toThrow(/\/m\/config\.json: "sliding_window" must be a positive integer or null, got 0/);
    expect(() => parseConfig({ ...QWEN25_05B, use_sliding_window: true })).toThrow(/"use_sliding_window": true is not supported/);
    expect("sliding_window" in parseConfig(QWEN25_05B)).toBe(false); // not applied (use_sliding_window false)
    expect(configToJson({ ...parseConfig(MISTRAL_7B), sliding_window: undefined }).sliding_window).toBeNull();
  });

  test("qwen2: q/k/v bias always on, 896 / 14 heads = 64", () => {
    const c = parseConfig(QWEN25_05B);
    expect(c).toMatchObject({ model_type: "qwen2", head_dim: 64, attention_bias: true, qk_norm: false, tie_word_embeddings: true, rope_theta: 1e6 });
  });

  test("qwen3: q/k norm on, head_dim given (128, not 1024 / 16)", () => {
    const c = parseConfig(QWEN3_06B);
    expect(c).toMatchObject({ model_type: "qwen3", head_dim: 128, attention_bias: false, qk_norm: true, num_key_value_heads: 8 });
    const { head_dim: _unused, ...withoutHeadDim } = QWEN3_06B;
    expect(parseConfig(withoutHeadDim).head_dim).toBe(128); // Qwen3Config's own default
  });

  test("defaults as transformers applies them", () => {
    const minimal = { model_type: "llama", vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4 };
    expect(parseConfig(minimal)).toMatchObject({
      num_key_value_heads: 4, head_dim: 16, max_position_embeddings: 2048, rms_norm_eps: 1e-6, rope_theta: 10000,
      rope_scaling: null, tie_word_embeddings: false, attention_bias: false,
    });
    expect(parseConfig({ ...minimal, model_type: "qwen2" })).toMatchObject({ max_position_embeddings: 32768, attention_bias: true });
    expect(parseConfig({ ...minimal, model_type: "mistral" }).max_position_embeddings).toBe(4096 * 32);
    expect(parseConfig({ ...minimal, attention_bias: true }).attention_bias).toBe(true);
  });

  test("legacy rope_scaling 'type' and 'default'", () => {
    expect(parseConfig({ ...LLAMA2_7B, rope_scaling: { type: "linear", factor: 2.0 } }).rope_scaling).toEqual({ rope_type: "linear", factor: 2 });
    expect(parseConfig({ ...LLAMA2_7B, rope_scaling: { rope_type: "default" } }).rope_scaling).toBeNull();
  });

  test("refuses what the decoder cannot run, naming the field and the file", () => {
    const err = (json: unknown) => thrownBy(() => parseConfig(json, "/m/config.json")).message;
    expect(err({ ...LLAMA2_7B, model_type: "gpt2" })).toBe('/m/config.json: unsupported "model_type" "gpt2" (expected one of llama, mistral, qwen2, qwen3)');
    const { model_type: _m, ...noType } = LLAMA2_7B;
    expect(err(noType)).toMatch(/\/m\/config.json: "model_type" is missing/);
    const { hidden_size: _h, ...noHidden } = LLAMA2_7B;
    expect(err(noHidden)).toBe('/m/config.json: "hidden_size" is missing');
    expect(err({ ...LLAMA2_7B, num_hidden_layers: 0 })).toBe('/m/config.json: "num_hidden_layers" must be a positive integer, got 0');
    expect(err({ ...LLAMA2_7B, vocab_size: -5 })).toMatch(/"vocab_size" must be a positive integer, got -5/);
    expect(err({ ...LLAMA2_7B, intermediate_size: 11008.5 })).toMatch(/"intermediate_size" must be a positive integer/);
    expect(err({ ...LLAMA2_7B, rms_norm_eps: 0 })).toMatch(/"rms_norm_eps" must be a positive number, got 0/);
    expect(err({ ...LLAMA2_7B, num_key_value_heads: 5 })).toMatch(/"num_attention_heads" \(32\) must be a multiple of "num_key_value_heads" \(5\)/);
    expect(err({ ...LLAMA2_7B, hidden_size: 4001 })).toMatch(/"hidden_size" \(4001\) must be divisible by "num_attention_heads" \(32\)/);
    expect(err({ ...LLAMA2_7B, rope_scaling: { rope_type: "yarn", factor: 4 } })).toMatch(/unsupported "rope_scaling" type "yarn"/);
    expect(err({ ...LLAMA32_1B, rope_scaling: { rope_type: "llama3", factor: 8 } })).toMatch(/"rope_scaling.low_freq_factor" must be a positive number/);
    expect(err({ ...LLAMA2_7B, tie_word_embeddings: "yes" })).toMatch(/"tie_word_embeddings" must be true or false/);
    expect(err({ ...LLAMA2_7B, hidden_act: "gelu" })).toMatch(/"hidden_act" "gelu" is not supported/);
    expect(err({ ...QWEN25_05B, attention_bias: false })).toMatch(/"attention_bias" false is not supported for qwen2/);
    expect(err([1])).toBe("/m/config.json: must be a JSON object");
  });

  test("readConfigFile names the file for unreadable or invalid JSON and keeps token ids", async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "sdpo-cfg-"));
    try {
      const file = path.join(dir, "config.json");
      expect((await rejectionOf(readConfigFile(file))).message).toBe(`${file}: cannot read (ENOENT)`);
      await fsp.writeFile(file, "{ nope");
      expect((await rejectionOf(readConfigFile(file))).message).toMatch(new RegExp(`^${file}: not valid JSON`));
      await fsp.writeFile(file, JSON.stringify(QWEN3_06B));
      const { config, extras } = await readConfigFile(file);
      expect(config.qk_norm).toBe(true);
      expect(extras).toMatchObject({ torchDtype: "bfloat16", bosTokenId: 151643, eosTokenId: 151645 });
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

describe("presetConfig", () => {
  test("tiny and small are llama configs of the documented sizes", () => {
    expect(presetConfig("tiny", 500)).toMatchObject({ model_type: "llama", vocab_size: 500, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16 });
    expect(presetConfig("small", 1000)).toMatchObject({ hidden_size: 256, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 688, head_dim: 64 });
    expect(thrownBy(() => presetConfig("tiny", 0)).message).toMatch(/vocabSize must be a positive integer/);
    expect(thrownBy(() => presetConfig("huge" as "tiny", 10)).message).toMatch(/unknown preset "huge"/);
  });
});

describe("configToJson", () => {
  test.each([
    ["llama 2", LLAMA2_7B],
    ["llama 3.2", LLAMA32_1B],
    ["mistral", MISTRAL_7B],
    ["qwen2", QWEN25_05B],
    ["qwen3", QWEN3_06B],
  ])("%s: parse -> json -> parse is the identity, with the fields transformers needs", (_name, json) => {
    const config = parseConfig(json);
    const out = configToJson(config, { raw: json, dtype: "float32", eosTokenId: (json as { eos_token_id: number }).eos_token_id });
    expect(parseConfig(JSON.parse(JSON.stringify(out)))).toEqual(config);
    expect(out.architectures).toEqual([json.architectures[0]]);
    expect(out.torch_dtype).toBe("float32");
    expect(out.hidden_act).toBe("silu");
    expect(out.eos_token_id).toBe(json.eos_token_id);
    // Fields the package does not read are carried through (e.g. Qwen's sliding-window settings).
    if ("max_window_layers" in json) expect(out.max_window_layers).toBe(json.max_window_layers);
  });

  test("a preset gets a complete llama config.json", () => {
    const out = configToJson(presetConfig("tiny", 300), { bosTokenId: 1, eosTokenId: 2 });
    expect(out).toMatchObject({ architectures: ["LlamaForCausalLM"], model_type: "llama", torch_dtype: "float32", attention_bias: false, mlp_bias: false, bos_token_id: 1, eos_token_id: 2, rope_scaling: null });
  });

  test("refuses configs transformers cannot express", () => {
    expect(thrownBy(() => configToJson({ ...presetConfig("tiny", 10), qk_norm: true })).message).toMatch(/llama has no q\/k norm/);
    expect(thrownBy(() => configToJson({ ...parseConfig(QWEN25_05B), attention_bias: false })).message).toMatch(/qwen2 always has q\/k\/v biases/);
  });
});
