/** Types of the native decoder (native/binding/model_binding.cpp): config, parameters, scoring, generation. */

/** Hugging Face config.json fields the decoder uses (snake_case, as in config.json), defaults filled in. */
export interface NativeModelConfig {
  model_type: "llama" | "mistral" | "qwen2" | "qwen3";
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta: number;
  rope_scaling: {
    rope_type: "llama3" | "linear";
    factor: number;
    low_freq_factor?: number;
    high_freq_factor?: number;
    original_max_position_embeddings?: number;
  } | null;
  tie_word_embeddings: boolean;
  /** qwen2: q/k/v projections carry a bias. */
  attention_bias: boolean;
  /** qwen3: RMSNorm on q and k per head. */
  qk_norm: boolean;
  /**
   * mistral: attention to the last `sliding_window` positions only; absent or null: none. Windowed attention
   * is not implemented: longer sequences are refused with a RangeError rather than computed differently.
   */
  sliding_window?: number | null;
}

export type DeviceName = "cpu" | "cuda" | `cuda:${number}`;
export type ModelDType = "float32" | "float64" | "bfloat16" | "float16";
/** safetensors dtype tags. */
export type SafetensorsDType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

export interface NativeLoraConfig {
  rank: number;
  alpha: number;
  dropout: number;
  /** Linear layer names: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj. */
  targets: string[];
}

export interface ParameterInfo {
  /** Hugging Face name, e.g. "model.layers.0.self_attn.q_proj.weight"; LoRA: "...q_proj.lora_A.weight". */
  name: string;
  shape: number[];
  dtype: ModelDType;
  trainable: boolean;
  isAdapter: boolean;
}

/** Responses scored against shared prompts: list i of a packed array is values[offsets[i]..offsets[i+1]). */
export interface PackedResponsesInput {
  promptIds: Int32Array;
  promptOffsets: Int32Array; // [P + 1]
  responseIds: Int32Array;
  responseOffsets: Int32Array; // [R + 1]
  responsePrompt: Int32Array; // [R], index of each response's prompt
}

export interface ScoreResult {
  /** [R] summed log-probability of each response given its prompt. */
  logps: Float64Array;
  /** Per-token log-probabilities, packed like responseIds (when asked for). */
  tokenLogps?: Float64Array;
}

export interface NativeScoreOptions {
  adapters?: boolean;
  tokenLogps?: boolean;
}

export interface NativeGenerateOptions {
  maxNewTokens: number;
  eosTokenId: number;
  adapters?: boolean;
  allowed?: { ids: Int32Array; offsets: Int32Array; promptOffsets: Int32Array };
}

export interface NativeModel {
  readonly config: NativeModelConfig;
  readonly device: string;
  readonly dtype: ModelDType;
  /** Every parameter, by Hugging Face name (lm_head.weight absent when tied). */
  parameterInfo(): ParameterInfo[];
  /** Raw little-endian bytes of a parameter; `merged`: base weight with its LoRA delta folded in. */
  getTensor(name: string, options?: { merged?: boolean }): { dtype: SafetensorsDType; shape: number[]; data: Uint8Array };
  /**
   * Copies bytes (any float safetensors dtype) into a parameter, converting to the model's dtype/device.
   * Like every synchronous method that touches parameters, it waits for an in-flight score/generate.
   */
  setTensor(name: string, dtype: SafetensorsDType, shape: number[], data: Uint8Array): void;
  addLora(config: NativeLoraConfig): void;
  setAdaptersEnabled(enabled: boolean): void;
  /**
   * Shared-prefix scoring: each prompt encoded once, every response attending to its keys/values.
   * `adapters`: override the adapters switch for this call (false = the reference policy);
   * `tokenLogps`: also return per-token log-probs.
   * Rejects with a RangeError naming the row and value for bad offsets, ids outside [0, vocab),
   * empty prompts or responses, or responsePrompt out of range.
   */
  score(batch: PackedResponsesInput, options?: NativeScoreOptions): Promise<ScoreResult>;
  /** Gradient checkpointing of every decoder layer in training: less activation memory, one more forward per layer. */
  setGradientCheckpointing(enabled: boolean): void;
  /**
   * Batched greedy decoding with a KV cache; each prompt's new tokens, the EOS that ended it included.
   * `allowed`: candidate token lists (ids/offsets, packed) and, per prompt, the range of lists it may
   * produce (promptOffsets, P + 1): only tokens continuing one of them, EOS once one is complete.
   */
  generate(promptIds: Int32Array, promptOffsets: Int32Array, options: NativeGenerateOptions): Promise<{ ids: Int32Array; offsets: Int32Array }>;
  /** A deep copy with every parameter frozen (trainable false): the reference policy of full fine-tuning. */
  cloneFrozen(): NativeModel;
  dispose(): void;
  readonly disposed: boolean;
}

export interface NativeModelConstructor {
  /**
   * A model with its parameters created on `device` in `dtype`: randomly like Hugging Face's init
   * (`seed` seeds libtorch's generator first), or zero-filled with `randomInit: false` when a
   * checkpoint will overwrite every parameter (skips the random draw; no float32 CPU copy either way).
   */
  new (config: NativeModelConfig, options: { device: DeviceName; dtype: ModelDType; seed?: number; randomInit?: boolean }): NativeModel;
}
