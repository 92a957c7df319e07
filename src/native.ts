/**
 * The whole native surface of softmax-dpo, typed. Nothing else imports the `.node` file.
 *
 * Conventions of the addon (see native/binding/):
 * - argument errors are thrown as TypeError / RangeError naming the argument;
 * - libtorch errors become Error("libtorch: ...");
 * - every long-running call returns a Promise and runs off the event loop;
 * - native objects refuse use after dispose().
 */
import * as path from "path";

/** Float arrays accepted by the ops; results come back in the dtype of the inputs. */
export type FloatArray = Float32Array | Float64Array;

export interface BuildInfo {
  torchVersion: string;
  torchSource: string;
  cudaCompiled: boolean;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  cxx11Abi: boolean;
  numThreads: number;
  napiVersion: number;
  /** Names of the binding groups compiled in (ops, model, train, ...). */
  bindings: string[];
}

// ---------------------------------------------------------------------------
// ops: loss functions (native/binding/ops_binding.cpp)
// ---------------------------------------------------------------------------
// (filled in by the ops binding)

// ---------------------------------------------------------------------------
// model: decoder, checkpoints, scoring, generation (native/binding/model_binding.cpp)
// ---------------------------------------------------------------------------

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

export interface NativeModel {
  readonly config: NativeModelConfig;
  readonly device: string;
  readonly dtype: ModelDType;
  parameterInfo(): ParameterInfo[];
  /** Raw little-endian bytes of a parameter; `merged`: base weight with its LoRA delta folded in. */
  getTensor(name: string, options?: { merged?: boolean }): { dtype: SafetensorsDType; shape: number[]; data: Uint8Array };
  /** Copies bytes (any float safetensors dtype) into a parameter, converting to the model's dtype/device. */
  setTensor(name: string, dtype: SafetensorsDType, shape: number[], data: Uint8Array): void;
  addLora(config: NativeLoraConfig): void;
  setAdaptersEnabled(enabled: boolean): void;
  /** Shared-prefix scoring; `adapters: false` scores with the reference policy (adapters off). */
  score(batch: PackedResponsesInput, options?: { adapters?: boolean; tokenLogps?: boolean; reference?: boolean }): Promise<ScoreResult>;
  /** Batched greedy decoding with a KV cache. `allowed`: optional candidate token lists per prompt to constrain to. */
  generate(
    promptIds: Int32Array,
    promptOffsets: Int32Array,
    options: { maxNewTokens: number; eosTokenId: number; adapters?: boolean; allowed?: { ids: Int32Array; offsets: Int32Array; promptOffsets: Int32Array } }
  ): Promise<{ ids: Int32Array; offsets: Int32Array }>;
  dispose(): void;
  readonly disposed: boolean;
}

export interface NativeModelConstructor {
  new (config: NativeModelConfig, options: { device: DeviceName; dtype: ModelDType; seed?: number }): NativeModel;
}

// ---------------------------------------------------------------------------
// train: optimizer and training steps (native/binding/train_binding.cpp)
// ---------------------------------------------------------------------------

/** A training batch: responses scored against shared prompts, plus where each example's chosen and
 *  rejected responses are among them. */
export interface TrainBatchInput extends PackedResponsesInput {
  /** [B] index of each example's chosen response in [0, R). */
  chosenIndex: Int32Array;
  /** [B * K] indices of each example's negatives, row-major; -1 = no negative there. Empty for sft. */
  rejectedIndex: Int32Array;
  /** [R] reference log-probs computed earlier (referenceMode "precomputed"). */
  referenceLogps?: Float64Array;
}

export interface NativeTrainerOptions {
  loss: "sft" | "dpo" | "sdpo";
  beta?: number;
  weightDecay?: number;
  adamBeta1?: number;
  adamBeta2?: number;
  adamEpsilon?: number;
  /** 0 disables clipping. */
  maxGradNorm?: number;
  referenceMode?: "adapters-off" | "frozen-copy" | "precomputed";
}

export interface TrainStepStats {
  /** Mean loss of the batch (sft: per chosen token; dpo/sdpo: per example). */
  loss: number;
  /** Means of beta * (policy - reference) log-probs; NaN for sft. */
  chosenReward: number;
  rejectedReward: number;
  rewardAccuracy: number;
  rewardMargin: number;
  /** Gradient norm before clipping; NaN unless this call took an optimizer step. */
  gradNorm: number;
  examples: number;
  responses: number;
  tokens: number;
  /** Tokens the loss is averaged over (sft: chosen tokens). */
  lossTokens: number;
  optimizerStep: boolean;
  /** Optimizer steps taken so far. */
  optimizerSteps: number;
}

export interface OptimizerTensor {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  data: Uint8Array;
}

export interface OptimizerState {
  step: number;
  /** "<parameter>.exp_avg" and "<parameter>.exp_avg_sq" for every trainable parameter. */
  tensors: OptimizerTensor[];
}

export interface NativeTrainer {
  /** Forward + backward with the loss scaled by `weight`; `optimizerStep`: then clip, AdamW, zero grads. */
  step(batch: TrainBatchInput, options: { learningRate: number; optimizerStep: boolean; weight: number }): Promise<TrainStepStats>;
  /** The same statistics without gradients. */
  evaluate(batch: TrainBatchInput): Promise<TrainStepStats>;
  optimizerState(): OptimizerState;
  loadOptimizerState(state: OptimizerState): void;
  /** State of the torch generator of the model's device (LoRA dropout). */
  rngState(): Uint8Array;
  setRngState(state: Uint8Array): void;
  dispose(): void;
  readonly disposed: boolean;
  readonly loss: "sft" | "dpo" | "sdpo";
  readonly referenceMode: "adapters-off" | "frozen-copy" | "precomputed";
}

export interface NativeTrainerConstructor {
  new (model: NativeModel, options: NativeTrainerOptions): NativeTrainer;
}

export interface NativeAddon {
  buildInfo(): BuildInfo;
  setNumThreads(n: number): void;
  manualSeed(seed: number): void;
  Model: NativeModelConstructor;
  Trainer: NativeTrainerConstructor;
}

let cached: NativeAddon | undefined;
let loadedFrom: string | undefined;

/** Loads the addon once (prebuilt binary or build/Release) and returns it. */
export function native(): NativeAddon {
  if (cached) return cached;
  const root = path.resolve(__dirname, "..", "..");
  const packageRoot = require("fs").existsSync(path.join(root, "package.json")) ? root : path.resolve(__dirname, "..");
  try {
    // node-gyp-build picks prebuilds/<platform>-<arch>/ first, then build/Release.
    const load = require("node-gyp-build") as ((dir: string) => NativeAddon) & { resolve(dir: string): string };
    loadedFrom = load.resolve(packageRoot);
    cached = load(packageRoot);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(
      `softmax-dpo: could not load the native addon (${msg}).\n` +
        "Build it with `npm run build:native` (needs libtorch: `npm run setup` installs it on Debian/Ubuntu)."
    );
  }
  return cached;
}

/** Path of the loaded `.node` file, once loaded. */
export function nativePath(): string | undefined {
  return loadedFrom;
}
