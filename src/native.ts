/**
 * The whole native surface of softmax-dpo, typed. Nothing else imports the `.node` file.
 *
 * Conventions of the addon (see native/binding/):
 * - argument errors are thrown as TypeError / RangeError naming the argument;
 * - libtorch errors become Error("libtorch: ...");
 * - every long-running call returns a Promise and runs off the event loop;
 * - native objects refuse use after dispose().
 */
import { loadNativeBinary, packageRootFrom, type NativeLoadReport } from "./native-loader";

export type { NativeLoadReport } from "./native-loader";

/** Float arrays accepted by the ops; results come back in the dtype of the inputs. */
export type FloatArray = Float32Array | Float64Array;

export interface BuildInfo {
  torchVersion: string;
  torchSource: string;
  cudaCompiled: boolean;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  cxx11Abi: boolean;
  /** Intra-op (OpenMP) threads: SDPO_NUM_THREADS / OMP_NUM_THREADS, else 1 over OpenBLAS's own pthread pool, else every core. */
  numThreads: number;
  /** What runs libtorch's matrix products: "openblas-pthreads" | "openblas-openmp" | "openblas-serial" | "other". */
  blasThreading: string;
  napiVersion: number;
  /** Names of the binding groups compiled in (ops, model, train, ...). */
  bindings: string[];
}

// ---------------------------------------------------------------------------
// ops: loss functions (native/binding/ops_binding.cpp)
// ---------------------------------------------------------------------------

/** Which implementation an op runs: the fused kernels (default) or the composed-ATen reference. */
export type OpImplementation = "fused" | "reference";
export type OpDevice = "cpu" | "cuda";

export interface PreferenceLossInputs<T extends FloatArray = FloatArray> {
  /** [B] policy log-probabilities of the chosen responses. */
  policyChosen: T;
  /** [B*K] row-major [B][K] policy log-probabilities of the rejected responses (K = 1 for DPO). */
  policyRejected: T;
  referenceChosen: T;
  referenceRejected: T;
  /** [B*K], nonzero = real negative (S-DPO only); absent: all K are real. */
  mask?: Uint8Array;
}

export interface OpOptions {
  /** Also return the gradient of the mean loss. Default false. */
  grad?: boolean;
  implementation?: OpImplementation;
  device?: OpDevice;
}

export interface PreferenceLossOptions extends OpOptions {
  beta: number;
}

export interface PreferenceLossResult<T extends FloatArray = FloatArray> {
  /** Mean of `losses`. */
  loss: number;
  /** [B] per-row losses. */
  losses: T;
  /** [B] beta * (policyChosen - referenceChosen). */
  chosenRewards: T;
  /** [B*K] beta * (policyRejected - referenceRejected); NaN where `mask` is 0 (no negative there). */
  rejectedRewards: T;
  /** Gradient of `loss` (the mean) w.r.t. the policy inputs. */
  grad?: { policyChosen: T; policyRejected: T };
}

export interface TokenLogProbsInputs<T extends FloatArray = FloatArray> {
  /** [n*d] row-major [n][d] hidden states. */
  hidden: T;
  /** [v*d] row-major [v][d] LM-head weight. */
  weight: T;
  /** [n] target token ids in [0, v) or ignoreIndex. */
  labels: Int32Array;
  n: number;
  d: number;
  v: number;
}

export interface TokenLogProbsOptions extends OpOptions {
  /** Label value that marks a row as not counted (log-prob 0, no gradient). Default -100. */
  ignoreIndex?: number;
  /** Rows per logits chunk in the fused path; 0 or absent: chosen from v. */
  chunkRows?: number;
}

export interface TokenLogProbsResult<T extends FloatArray = FloatArray> {
  /** [n] log softmax(hidden @ weight^T)[i, labels[i]], 0 for ignored rows. */
  logps: T;
  /** Mean negative log-prob over the non-ignored rows (0 if every row is ignored). */
  sftLoss: number;
  /** Gradient of `sftLoss`. */
  grad?: { hidden: T; weight: T };
}

/** How NAPO sets each negative's reward margin: a constant, or scaled by the confidence on that negative. */
export type NapoMarginMode = "fixed" | "dynamic";

export interface NapoLossInputs<T extends FloatArray = FloatArray> extends PreferenceLossInputs<T> {
  /** [B] confidence score of each chosen response (dynamic mode only), e.g. a log-prob. No gradient. */
  chosenConfidence?: T;
  /** [B*K] confidence score of each negative (dynamic mode only), same scale as chosenConfidence. */
  rejectedConfidence?: T;
}

export interface NapoLossOptions extends PreferenceLossOptions {
  /** Margin scale, finite and >= 0; 0 makes NAPO exactly S-DPO. */
  gamma: number;
  /** "fixed": m_j = gamma; "dynamic": m_j = gamma * sigmoid((s_j - s_w) / tau). Default "fixed". */
  mode?: NapoMarginMode;
  /** Temperature of the dynamic margin's sigmoid, finite and > 0. Default 1. */
  tau?: number;
}

export interface NapoLossResult<T extends FloatArray = FloatArray> extends PreferenceLossResult<T> {
  /** [B*K] the margin added to each negative's reward gap (0 where masked). */
  margins: T;
}

export interface NativeOps {
  sdpoLoss<T extends FloatArray>(inputs: PreferenceLossInputs<T>, options: PreferenceLossOptions): PreferenceLossResult<T>;
  dpoLoss<T extends FloatArray>(inputs: PreferenceLossInputs<T>, options: PreferenceLossOptions): PreferenceLossResult<T>;
  napoLoss<T extends FloatArray>(inputs: NapoLossInputs<T>, options: NapoLossOptions): NapoLossResult<T>;
  tokenLogProbs<T extends FloatArray>(inputs: TokenLogProbsInputs<T>, options?: TokenLogProbsOptions): TokenLogProbsResult<T>;
}

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
   * `tokenLogps`: also return per-token log-probs; `reference`: use the slow plain path (each
   * prompt+response run separately, full-vocabulary log_softmax) — for tests.
   * Rejects with a RangeError naming the row and value for bad offsets, ids outside [0, vocab),
   * empty prompts or responses, or responsePrompt out of range.
   */
  score(batch: PackedResponsesInput, options?: { adapters?: boolean; tokenLogps?: boolean; reference?: boolean }): Promise<ScoreResult>;
  /**
   * d(sum_r weights[r] * logp_r) / d(parameter) for each named parameter (frozen ones included), as
   * float64 arrays laid out like getTensor. A diagnostic and gradient-check hook.
   */
  scoreGradients(
    batch: PackedResponsesInput,
    weights: Float64Array,
    names: string[],
    /**
     * `train`: training mode for the call (LoRA dropout active; gradient checkpointing applies);
     * `reference`: differentiate the plain path (score's `reference`) instead — for tests and benches.
     */
    options?: { adapters?: boolean; train?: boolean; reference?: boolean }
  ): Promise<Float64Array[]>;
  /** Gradient checkpointing of every decoder layer in training: less activation memory, one more forward per layer. */
  setGradientCheckpointing(enabled: boolean): void;
  /**
   * Batched greedy decoding with a KV cache; each prompt's new tokens, the EOS that ended it included.
   * `allowed`: candidate token lists (ids/offsets, packed) and, per prompt, the range of lists it may
   * produce (promptOffsets, P + 1): only tokens continuing one of them, EOS once one is complete.
   * `reference`: the slow plain path (a full forward per token, one prompt at a time) — for tests.
   */
  generate(
    promptIds: Int32Array,
    promptOffsets: Int32Array,
    options: {
      maxNewTokens: number;
      eosTokenId: number;
      adapters?: boolean;
      reference?: boolean;
      allowed?: { ids: Int32Array; offsets: Int32Array; promptOffsets: Int32Array };
    }
  ): Promise<{ ids: Int32Array; offsets: Int32Array }>;
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
  loss: "sft" | "dpo" | "sdpo" | "napo";
  /** napo only: the reward margin (defaults: dynamic, gamma 0.5, tau 1, reference confidence). */
  rewardMargin?: { mode?: "none" | "fixed" | "dynamic"; gamma?: number; tau?: number; confidence?: "reference" | "policy" };
  beta?: number;
  weightDecay?: number;
  /** Decay every trainable tensor; default false: matrices only (not RMSNorm weights or biases). */
  weightDecayAllParameters?: boolean;
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
  /** Seconds in the data-parallel gradient sum of this call's optimizer step (0 alone or without a step). */
  gradSyncSeconds: number;
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
  /** Forward + backward with the loss scaled by `weight`; `optimizerStep`: then clip, AdamW, zero grads.
   *  A step that fails zeroes the gradients accumulated so far. */
  step(batch: TrainBatchInput, options: { learningRate: number; optimizerStep: boolean; weight: number }): Promise<TrainStepStats>;
  /** Drops the accumulated gradients, in order with the steps before it. */
  zeroGrad(): Promise<void>;
  /** The same statistics without gradients. */
  evaluate(batch: TrainBatchInput): Promise<TrainStepStats>;
  optimizerState(): OptimizerState;
  loadOptimizerState(state: OptimizerState): void;
  /** State of the torch generator of the model's device (LoRA dropout). */
  rngState(): Uint8Array;
  setRngState(state: Uint8Array): void;
  /** Data parallelism: every optimizer step first sums the gradients over the open process group's ranks,
   *  flattened into buckets of at most `bucketBytes` (0: one per tensor; default 25 MiB). */
  attachProcessGroup(options: { bucketBytes?: number }): void;
  /** The optimizer step of a data-parallel rank whose share of the step holds no examples. */
  applyUpdate(options: { learningRate: number }): Promise<TrainStepStats>;
  dispose(): void;
  readonly disposed: boolean;
  readonly loss: "sft" | "dpo" | "sdpo" | "napo";
  readonly referenceMode: "adapters-off" | "frozen-copy" | "precomputed";
}

export interface NativeTrainerConstructor {
  new (model: NativeModel, options: NativeTrainerOptions): NativeTrainer;
}

// ---------------------------------------------------------------------------
// optimizer kernels on their own (native/binding/optimizer_binding.cpp), held to their references by tests
// ---------------------------------------------------------------------------

export interface AdamWTensors<T extends FloatArray = FloatArray> {
  param: T;
  grad: T;
  expAvg: T;
  expAvgSq: T;
}

export interface AdamWUpdateOptions {
  learningRate: number;
  /** 1-based update count, this one included (bias correction). */
  step: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Gradient multiplier (the clipping factor), applied in the same pass. Default 1. */
  gradScale?: number;
  /** "fused" (one pass, CPU float32/float64: what the trainer runs) or "reference" (composed ATen ops). */
  implementation?: "fused" | "reference";
}

// ---------------------------------------------------------------------------
// the model's fused CPU layers on their own (native/binding/layers_binding.cpp), held to their references by tests
// ---------------------------------------------------------------------------

export interface LayerOptions<T extends FloatArray> {
  /** "fused" (the model's CPU float32/float64 path) or "reference" (composed ATen ops). */
  implementation?: "fused" | "reference";
  /** dL/dy: when given, the result carries the input gradients. */
  gradOutput?: T;
}

export interface RopeInputs<T extends FloatArray> {
  /** B*H*T*d values in `layout` order. */
  x: T;
  /** [B, T, d] or [1, T, d] values. */
  cos: T;
  sin: T;
  batch: number;
  heads: number;
  tokens: number;
  headDim: number;
  /** "bhtd" (default) or "bthd": x laid out as a projection's output, viewed as [B, H, T, d]. */
  layout?: "bhtd" | "bthd";
}

// ---------------------------------------------------------------------------
// bench: the machine's matmul rate (native/binding/bench_binding.cpp)
// ---------------------------------------------------------------------------

export interface MatmulBenchResult {
  /** 2 n^3 reps / seconds / 1e9, float32 through libtorch's mm (the model's BLAS and threads). */
  gflops: number;
  seconds: number;
  n: number;
  reps: number;
  threads: number;
  device: string;
}

export interface TokenLogprobsBenchResult {
  /** Seconds per forward + backward call (grad for hidden and weight), synchronized around the timed calls. */
  seconds: number;
  /** Rows per logits chunk actually used (chosen after the warm-up when chunkRows was 0). */
  chunkRows: number;
  n: number;
  d: number;
  v: number;
  reps: number;
  device: string;
}

/** The inputs of the rows-per-chunk rule of token log-probs (see tokenChunkRows). */
export interface TokenChunkArguments {
  device: "cpu" | "cuda";
  rows: number;
  vocab: number;
  /** Device memory free for a new chunk (bytes); only read for "cuda". */
  freeBytes: number;
  /** Bytes per logit: 4 (float32) or 8 (float64). */
  elementSize: 4 | 8;
  /** Rows asked for (options.chunkRows); 0 or absent: chosen by the rule. */
  requested?: number;
}

// ---------------------------------------------------------------------------
// data parallelism: the process's c10d process group (native/binding/distributed_binding.cpp)
// ---------------------------------------------------------------------------

export interface DistributedGroupOptions {
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  backend: "gloo" | "nccl";
  timeoutMs: number;
  /** torchrun's agent serves the store (TORCHELASTIC_USE_AGENT_STORE): every rank is a client. */
  agentStore?: boolean;
  /** nccl: this rank's CUDA device (LOCAL_RANK). */
  deviceIndex?: number;
}

export interface DistributedGroupInfo {
  rank: number;
  worldSize: number;
  backend: "gloo" | "nccl";
}

export interface NativeAddon {
  buildInfo(): BuildInfo;
  /** Rendezvous and process group, once per process (same options again: the same group). */
  initDistributed(options: DistributedGroupOptions): Promise<DistributedGroupInfo>;
  /** Sum over all ranks of a Float64Array (a new array); `phase` names the call in errors. */
  allReduceSum(values: Float64Array, phase: string): Promise<Float64Array>;
  destroyDistributed(): Promise<void>;
  /** Backends this build carries, and the open group. */
  distributedInfo(): { gloo: boolean; nccl: boolean; group: DistributedGroupInfo | null };
  setNumThreads(n: number): void;
  manualSeed(seed: number): void;
  Model: NativeModelConstructor;
  // ops
  sdpoLoss: NativeOps["sdpoLoss"];
  dpoLoss: NativeOps["dpoLoss"];
  napoLoss: NativeOps["napoLoss"];
  tokenLogProbs: NativeOps["tokenLogProbs"];
  /** Rows per logits chunk token log-probs uses for these inputs when options.chunkRows is 0 (a pure function). */
  tokenChunkRows(args: TokenChunkArguments): number;

  Trainer: NativeTrainerConstructor;
  /** One AdamW update of one parameter; returns new arrays (the inputs are not changed). */
  adamwUpdate<T extends FloatArray>(tensors: AdamWTensors<T>, options: AdamWUpdateOptions): { param: T; expAvg: T; expAvgSq: T };
  /** RMSNorm over rows of x (length rows * D) with weight [D]; y and, with gradOutput, grad.x / grad.weight. */
  rmsNorm<T extends FloatArray>(
    inputs: { x: T; weight: T },
    options: LayerOptions<T> & { eps: number; frozenWeight?: boolean },
  ): { y: T; grad?: { x: T; weight?: T } };
  /** RoPE on x [B, H, T, d]; y and grad.x in [B, H, T, d] order. */
  applyRope<T extends FloatArray>(inputs: RopeInputs<T>, options: LayerOptions<T>): { y: T; grad?: { x: T } };
  /** Sum of grad^2 accumulated in float64 (the gradient-norm kernel of clipping). */
  gradSumSquares(grad: FloatArray, options?: { implementation?: "fused" | "reference" }): number;

  /** Times `reps` float32 [n, n] x [n, n] products (after one warm-up) off the event loop; device default "cpu". */
  benchMatmul(n: number, reps: number, device?: DeviceName): Promise<MatmulBenchResult>;
  /** Times token log-probs forward + backward on random float32 device tensors (one warm-up, then reps calls). */
  benchTokenLogprobs(args: { n: number; d: number; v: number; chunkRows?: number; reps?: number; device?: DeviceName }): Promise<TokenLogprobsBenchResult>;
}

let cached: { addon: NativeAddon; report: NativeLoadReport } | undefined;

/**
 * Loads the addon once per process and returns it: SDPO_BINARY, then a prebuilt binary that fits this
 * machine's libtorch (test-loaded in a child first), then build/Release. See src/native-loader.ts.
 */
export function native(): NativeAddon {
  if (!cached) {
    const { value, report } = loadNativeBinary(packageRootFrom(__dirname), (file) => require(file) as NativeAddon);
    cached = { addon: value, report };
  }
  return cached.addon;
}

/** Which binary native() loaded, why, and which candidates were passed over (loads the addon if needed). */
export function nativeLoadReport(): NativeLoadReport {
  native();
  return cached!.report;
}

/** Path of the loaded `.node` file, once loaded. */
export function nativePath(): string | undefined {
  return cached?.report.binary;
}
