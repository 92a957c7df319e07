/**
 * Hugging Face config.json <-> NativeModelConfig.
 *
 * Defaults follow the transformers config classes (LlamaConfig, MistralConfig, Qwen2Config, Qwen3Config)
 * for the fields a checkpoint may leave out; the size fields every real checkpoint carries are required,
 * so a typo never silently builds a 7B-sized model. Anything the decoder cannot run is refused by name.
 */
import { NotRegularFileError, readRegularFile } from "../regular-file";
import type { ModelDType, NativeModelConfig } from "../native";

export type ModelType = NativeModelConfig["model_type"];
export const MODEL_TYPES: readonly ModelType[] = ["llama", "mistral", "qwen2", "qwen3"];

const ARCHITECTURES: Record<ModelType, string> = {
  llama: "LlamaForCausalLM",
  mistral: "MistralForCausalLM",
  qwen2: "Qwen2ForCausalLM",
  qwen3: "Qwen3ForCausalLM",
};

/** transformers' defaults for the optional fields, per model type. */
const DEFAULTS: Record<ModelType, { max_position_embeddings: number; rms_norm_eps: number; rope_theta: number; tie_word_embeddings: boolean }> = {
  llama: { max_position_embeddings: 2048, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false },
  mistral: { max_position_embeddings: 4096 * 32, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false },
  qwen2: { max_position_embeddings: 32768, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false },
  qwen3: { max_position_embeddings: 32768, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false },
};

const REQUIRED_SIZES = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"] as const;

/** Fields of config.json that are not part of the decoder's shape but are worth carrying through a save. */
export interface ConfigExtras {
  torchDtype?: string;
  bosTokenId?: number | number[];
  eosTokenId?: number | number[];
  /** The whole parsed config.json, so a save keeps fields this package does not interpret. */
  raw?: Record<string, unknown>;
}

/**
 * Parses a config.json object into the decoder's config with defaults filled in.
 * `source` names the file in error messages.
 */
export function parseConfig(json: unknown, source = "config.json"): NativeModelConfig {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}`);
  };
  if (typeof json !== "object" || json === null || Array.isArray(json)) fail("must be a JSON object");
  const raw = json as Record<string, unknown>;

  const modelType = raw.model_type;
  if (typeof modelType !== "string") fail(`"model_type" is missing (expected one of ${MODEL_TYPES.join(", ")})`);
  if (!MODEL_TYPES.includes(modelType as ModelType)) {
    fail(`unsupported "model_type" ${JSON.stringify(modelType)} (expected one of ${MODEL_TYPES.join(", ")})`);
  }
  const type = modelType as ModelType;
  const defaults = DEFAULTS[type];

  const positiveInt = (field: string, fallback?: number): number => {
    const value = raw[field] ?? fallback;
    if (value === undefined) fail(`"${field}" is missing`);
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
      fail(`"${field}" must be a positive integer, got ${JSON.stringify(value)}`);
    }
    return value as number;
  };
  const positiveNumber = (field: string, fallback: number): number => {
    const value = raw[field] ?? fallback;
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
      fail(`"${field}" must be a positive number, got ${JSON.stringify(value)}`);
    }
    return value as number;
  };
  const flag = (field: string, fallback: boolean): boolean => {
    const value = raw[field] ?? fallback;
    if (typeof value !== "boolean") fail(`"${field}" must be true or false, got ${JSON.stringify(value)}`);
    return value as boolean;
  };

  const sizes = Object.fromEntries(REQUIRED_SIZES.map((f) => [f, positiveInt(f)])) as Record<(typeof REQUIRED_SIZES)[number], number>;
  const heads = sizes.num_attention_heads;
  const kvHeads = positiveInt("num_key_value_heads", heads);
  if (heads % kvHeads !== 0) fail(`"num_attention_heads" (${heads}) must be a multiple of "num_key_value_heads" (${kvHeads})`);
  let headDim: number;
  if (raw.head_dim !== undefined && raw.head_dim !== null) {
    headDim = positiveInt("head_dim");
  } else {
    if (type === "qwen3") headDim = 128; // Qwen3Config's default is a fixed 128, not hidden / heads.
    else {
      if (sizes.hidden_size % heads !== 0) {
        fail(`"hidden_size" (${sizes.hidden_size}) must be divisible by "num_attention_heads" (${heads}) when "head_dim" is not given`);
      }
      headDim = sizes.hidden_size / heads;
    }
  }

  if (type === "mistral" || type === "qwen2") {
    // These classes have no attention_bias field: Mistral never has one, Qwen2 always has q/k/v biases.
    if (raw.attention_bias !== undefined && raw.attention_bias !== (type === "qwen2")) {
      fail(`"attention_bias" ${JSON.stringify(raw.attention_bias)} is not supported for ${type}`);
    }
  }
  if (raw.mlp_bias === true) fail(`"mlp_bias": true is not supported`);
  // Qwen's per-layer sliding window (layers past max_window_layers) is not implemented; Mistral's window is
  // carried to the native side, which refuses sequences longer than it.
  if ((type === "qwen2" || type === "qwen3") && raw.use_sliding_window === true) {
    fail(`"use_sliding_window": true is not supported (windowed attention is not implemented)`);
  }
  let slidingWindow: number | null = null;
  if (type === "mistral") {
    const value = raw.sliding_window === undefined ? 4096 : raw.sliding_window; // MistralConfig's default
    if (value !== null && (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0)) {
      fail(`"sliding_window" must be a positive integer or null, got ${JSON.stringify(value)}`);
    }
    slidingWindow = value as number | null;
  }
  if (raw.hidden_act !== undefined && raw.hidden_act !== "silu") fail(`"hidden_act" ${JSON.stringify(raw.hidden_act)} is not supported (only "silu")`);

  return {
    model_type: type,
    ...sizes,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    max_position_embeddings: positiveInt("max_position_embeddings", defaults.max_position_embeddings),
    rms_norm_eps: positiveNumber("rms_norm_eps", defaults.rms_norm_eps),
    rope_theta: positiveNumber("rope_theta", defaults.rope_theta),
    rope_scaling: parseRopeScaling(raw.rope_scaling, fail),
    tie_word_embeddings: flag("tie_word_embeddings", defaults.tie_word_embeddings),
    attention_bias: type === "qwen2" ? true : type === "mistral" ? false : flag("attention_bias", false),
    qk_norm: type === "qwen3",
    ...(slidingWindow !== null ? { sliding_window: slidingWindow } : {}), // absent: no window
  };
}

function parseRopeScaling(value: unknown, fail: (what: string) => never): NativeModelConfig["rope_scaling"] {
  if (value === undefined || value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) return fail(`"rope_scaling" must be an object or null`);
  const rs = value as Record<string, unknown>;
  // transformers renamed "type" to "rope_type"; old checkpoints still carry "type".
  const ropeType = rs.rope_type ?? rs.type;
  if (ropeType === "default") return null;
  const num = (field: string, optional = false): number | undefined => {
    const v = rs[field];
    if (v === undefined && optional) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
      return fail(`"rope_scaling.${field}" must be a positive number, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  if (ropeType === "linear") return { rope_type: "linear", factor: num("factor")! };
  if (ropeType === "llama3") {
    const scaling = {
      rope_type: "llama3" as const,
      factor: num("factor")!,
      low_freq_factor: num("low_freq_factor")!,
      high_freq_factor: num("high_freq_factor")!,
      original_max_position_embeddings: num("original_max_position_embeddings")!,
    };
    if (!Number.isSafeInteger(scaling.original_max_position_embeddings)) {
      fail(`"rope_scaling.original_max_position_embeddings" must be an integer`);
    }
    if (scaling.high_freq_factor <= scaling.low_freq_factor) {
      fail(`"rope_scaling.high_freq_factor" must exceed "low_freq_factor"`);
    }
    return scaling;
  }
  return fail(`unsupported "rope_scaling" type ${JSON.stringify(ropeType)} (supported: default, linear, llama3)`);
}

/** Reads and parses `<dir>/config.json`; also returns the fields worth keeping for a save. */
export async function readConfigFile(file: string): Promise<{ config: NativeModelConfig; extras: ConfigExtras }> {
  let text: string;
  try {
    text = await readRegularFile(file);
  } catch (err) {
    if (err instanceof NotRegularFileError) throw err;
    throw new Error(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const config = parseConfig(json, file);
  const raw = json as Record<string, unknown>;
  const tokenId = (v: unknown) => (typeof v === "number" || (Array.isArray(v) && v.every((x) => typeof x === "number")) ? (v as number | number[]) : undefined);
  return {
    config,
    extras: {
      torchDtype: typeof raw.torch_dtype === "string" ? raw.torch_dtype : typeof raw.dtype === "string" ? raw.dtype : undefined,
      bosTokenId: tokenId(raw.bos_token_id),
      eosTokenId: tokenId(raw.eos_token_id),
      raw,
    },
  };
}

/** Configs for training from scratch. tiny: for tests and smoke runs; small: a few-million-parameter LM. */
export function presetConfig(name: "tiny" | "small", vocabSize: number): NativeModelConfig {
  if (!(Number.isSafeInteger(vocabSize) && vocabSize > 0)) throw new RangeError(`presetConfig: vocabSize must be a positive integer, got ${vocabSize}`);
  const shapes = {
    tiny: { hidden_size: 64, intermediate_size: 176, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 },
    small: { hidden_size: 256, intermediate_size: 688, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 4 },
  } as const;
  const shape = shapes[name];
  if (!shape) throw new RangeError(`presetConfig: unknown preset ${JSON.stringify(name)} (expected "tiny" or "small")`);
  return {
    model_type: "llama",
    vocab_size: vocabSize,
    ...shape,
    head_dim: shape.hidden_size / shape.num_attention_heads,
    max_position_embeddings: 2048,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    rope_scaling: null,
    tie_word_embeddings: false,
    attention_bias: false,
    qk_norm: false,
  };
}

export const TORCH_DTYPE: Record<ModelDType, string> = {
  float32: "float32",
  float64: "float64",
  bfloat16: "bfloat16",
  float16: "float16",
};

/**
 * A config.json object transformers' AutoModelForCausalLM accepts for this config. Fields of the
 * original file (`extras.raw`) that this package does not interpret are kept.
 */
export function configToJson(config: NativeModelConfig, extras: ConfigExtras & { dtype?: ModelDType } = {}): Record<string, unknown> {
  const type = config.model_type;
  const fail = (what: string): never => {
    throw new RangeError(`configToJson: ${what}`);
  };
  if (!MODEL_TYPES.includes(type)) fail(`unsupported model_type ${JSON.stringify(type)}`);
  if (config.qk_norm !== (type === "qwen3")) fail(`${type} ${config.qk_norm ? "has no" : "always has"} q/k norm in transformers`);
  if (type === "qwen2" && !config.attention_bias) fail("qwen2 always has q/k/v biases in transformers");
  if (type === "mistral" && config.attention_bias) fail("mistral has no attention bias in transformers");
  const out: Record<string, unknown> = { ...(extras.raw ?? {}) };
  Object.assign(out, {
    architectures: [ARCHITECTURES[type]],
    model_type: type,
    vocab_size: config.vocab_size,
    hidden_size: config.hidden_size,
    intermediate_size: config.intermediate_size,
    num_hidden_layers: config.num_hidden_layers,
    num_attention_heads: config.num_attention_heads,
    num_key_value_heads: config.num_key_value_heads,
    head_dim: config.head_dim,
    hidden_act: "silu",
    max_position_embeddings: config.max_position_embeddings,
    rms_norm_eps: config.rms_norm_eps,
    rope_theta: config.rope_theta,
    rope_scaling: config.rope_scaling ? { ...config.rope_scaling } : null,
    tie_word_embeddings: config.tie_word_embeddings,
    torch_dtype: extras.dtype ? TORCH_DTYPE[extras.dtype] : extras.torchDtype ?? (extras.raw?.torch_dtype as string | undefined) ?? "float32",
  });
  if (type === "llama" || type === "qwen3") out.attention_bias = config.attention_bias;
  if (type === "llama") out.mlp_bias = false;
  if (type === "mistral") out.sliding_window = config.sliding_window ?? null;
  if (out.initializer_range === undefined) out.initializer_range = 0.02;
  if (out.use_cache === undefined) out.use_cache = true;
  if (out.attention_dropout === undefined) out.attention_dropout = 0.0;
  if (extras.bosTokenId !== undefined) out.bos_token_id = extras.bosTokenId;
  if (extras.eosTokenId !== undefined) out.eos_token_id = extras.eosTokenId;
  return out;
}
