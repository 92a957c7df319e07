/** Types of the native trainer (native/binding/train_binding.cpp): batches, options, step statistics, state. */
import type { NativeModel, PackedResponsesInput, SafetensorsDType } from "./model-types";

/** A training batch: responses scored against shared prompts, plus where each example's chosen and
 *  rejected responses are among them. */
export interface TrainBatchInput extends PackedResponsesInput {
  /** [B] index of each example's chosen response in [0, R). */
  chosenIndex: Int32Array;
  /** [B * K] indices of each example's negatives, row-major; -1 = no negative there. Empty for sft without listWeight or listSmoothing. */
  rejectedIndex: Int32Array;
  /** sft's historyUnlikelihood: example b's history first tokens are historyTokenIds[historyTokenOffsets[b] ..
   *  historyTokenOffsets[b + 1]) (B + 1 offsets). Both or neither. */
  historyTokenIds?: Int32Array;
  historyTokenOffsets?: Int32Array;
  /** [R] reference log-probs computed earlier (referenceMode "precomputed"). */
  referenceLogps?: Float64Array;
}

export interface NativeTrainerOptions {
  loss: "sft" | "dpo" | "sdpo" | "napo";
  /** napo only: the reward margin (defaults: dynamic, gamma 0.5, tau 1, reference confidence). */
  rewardMargin?: { mode?: "none" | "fixed" | "dynamic"; gamma?: number; tau?: number; confidence?: "reference" | "policy" };
  beta?: number;
  /** sft only: weight of the candidate-list term over the chosen response and the negatives (default 0). */
  listWeight?: number;
  /** sft only: label smoothing toward the first tokens of the chosen response and the negatives (default 0). */
  listSmoothing?: number;
  /** sft only: unlikelihood of the history's first tokens at the answer's first position (default 0; needs
   *  historyTokenIds / historyTokenOffsets in every batch). */
  historyUnlikelihood?: number;
  /** Dropout on the decoder layers' attention and MLP outputs in training steps, in [0, 1) (default 0). */
  residualDropout?: number;
  /** dpo / sdpo / napo: weight of the chosen responses' token NLL added to the loss (RPO; default 0). */
  chosenNllWeight?: number;
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
