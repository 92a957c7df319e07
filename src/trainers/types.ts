/**
 * Public types of the trainers: options (named as in Hugging Face TRL, camelCased), events, report.
 * Shared by the trainers (src/trainers), the reporters (src/report) and the CLI.
 */
import type { Model } from "../model/model";

/** Every trainer's loss: the paper's (sft, dpo, sdpo, which `sdpo demo` compares) and NAPO's. */
export type LossName = "sft" | "dpo" | "sdpo" | "napo";
/** Where a step's negatives come from: "fixed" (the data's rejected responses, default), "random" (K drawn
 *  from the candidates anew each epoch, the paper's baseline), "pool" (RoDPO: K drawn from the poolSize
 *  candidates the policy scores highest) or "hard" (the top K of that pool). */
export type NegativeSampling = "fixed" | "random" | "hard" | "pool";
export type RewardMarginMode = "none" | "fixed" | "dynamic";

/** NAPO's reward margin per negative j: none (= S-DPO), gamma, or gamma * sigmoid((s_j - s_w) / tau) with
 *  s the confidence scores (no gradient): the reference's log-probs or the policy's. */
export interface RewardMarginOptions {
  mode?: RewardMarginMode; // default "dynamic"
  gamma?: number; // default 0.5
  tau?: number; // default 1
  confidence?: "reference" | "policy"; // default "reference"
}
export type LrSchedulerType = "cosine" | "linear" | "constant";
export type ReferenceMode = "adapters-off" | "frozen-copy" | "precomputed";

export interface TrainerOptions {
  model: Model;
  learningRate?: number; // default 1e-4
  beta?: number; // default 1.0 (DPO / S-DPO)
  negatives?: number; // K, default 3 (S-DPO); DPO uses 1
  batchSize?: number; // examples per micro-batch, default 8
  gradientAccumulationSteps?: number; // default 1
  /** Default 1. May be fractional, as TRL's num_train_epochs: 0.5 trains ceil(0.5 x steps per epoch) optimizer
   *  steps of the first epoch; 2.5 two epochs and half the third. */
  numTrainEpochs?: number;
  /** Stop after this many optimizer steps, overriding numTrainEpochs (TRL's max_steps; the schedule spans them);
   *  the data is read for as many epochs as that takes. Default: none (numTrainEpochs decides). */
  maxSteps?: number;
  /** Keep only the newest N checkpoint-* folders of outputDir, removing older ones after each save (TRL's
   *  save_total_limit). Default: keep all. */
  saveTotalLimit?: number;
  warmupRatio?: number; // default 0
  lrSchedulerType?: LrSchedulerType; // default "cosine"
  maxGradNorm?: number; // default 1.0; 0 disables clipping
  weightDecay?: number; // default 0; applied to matrices only (dim >= 2), not RMSNorm weights or biases
  weightDecayAllParameters?: boolean; // default false; true: weightDecay applies to every trainable tensor
  adamBeta1?: number; // default 0.9
  adamBeta2?: number; // default 0.999
  adamEpsilon?: number; // default 1e-8
  seed?: number; // default 42
  evalSteps?: number; // evaluate every N optimizer steps (0: only at the end of each epoch)
  saveSteps?: number; // checkpoint every N optimizer steps (0: only at the end)
  outputDir?: string; // where checkpoints, trainer_state.json and the JSONL log go
  referenceMode?: ReferenceMode; // default "adapters-off" with LoRA, else "frozen-copy"
  logSteps?: number; // emit a step event every N optimizer steps, default 1
  overwrite?: boolean; // allow an outputDir that holds another run (its checkpoints are removed), default false
  rewardMargin?: RewardMarginOptions; // napo only
  /** sdpo / napo: each row also takes the other rows' chosen and rejected items as negatives (NAPO's
   *  in-batch sharing); `cap`: most shared negatives per row (a seeded choice per step). Default false. */
  inBatchNegatives?: boolean | { cap?: number };
  negativeSampling?: NegativeSampling; // default "fixed"
  poolSize?: number; // "pool" / "hard": candidates kept per example, default 5, >= negatives
  poolRefreshSteps?: number; // "pool" / "hard": a pool older than this many optimizer steps is rescored, default 50
  /** Data-parallel training over the ranks a launcher started (torchrun's RANK, WORLD_SIZE, MASTER_ADDR, ...):
   *  each rank trains on its share of every global batch of batchSize x WORLD_SIZE rows and the gradients are
   *  summed over the ranks before clipping and AdamW. Where WORLD_SIZE is unset the process trains alone.
   *  `false`: train alone even under a launcher. See README "Data-parallel training". */
  distributed?: DistributedOptions | boolean;
}

export type DistributedBackend = "gloo" | "nccl" | "auto";
export interface DistributedOptions {
  /** "gloo" (CPU tensors), "nccl" (CUDA tensors, CUDA builds), "auto" (nccl for a CUDA model where the
   *  build has it, else gloo). Default "auto". */
  backend?: DistributedBackend;
  /** How long a rank waits for the others (rendezvous, each collective) before failing. Default 600000. */
  timeoutMs?: number;
  /** Gradient bucket size of the all-reduce; 0: one collective per tensor. Default 25 MiB (PyTorch DDP's). */
  bucketBytes?: number;
}

export interface StepEvent {
  type: "step";
  step: number; // optimizer steps done
  epoch: number; // fractional epoch
  loss: number;
  chosenReward: number; // mean beta * (logp - ref logp) of the chosen response (NaN for sft: no reference)
  rejectedReward: number; // mean over real negatives (NaN for sft)
  rewardAccuracy: number; // fraction of rows whose chosen reward beats every negative
  rewardMargin: number; // mean chosen reward - mean rejected reward
  learningRate: number;
  gradNorm: number; // before clipping
  examplesPerSecond: number;
  /** Data parallelism: seconds of this step spent in collectives (gradient buckets, loss weights, metrics),
   *  waits for slower ranks included; 0 alone. */
  syncSeconds: number;
  totalSteps: number;
  elapsedSeconds: number;
}

export interface EvalEvent {
  type: "eval";
  step: number;
  epoch: number;
  loss: number;
  chosenReward: number;
  rejectedReward: number;
  rewardAccuracy: number;
  rows: number;
}

export interface CheckpointEvent {
  type: "checkpoint";
  step: number;
  path: string;
}

export type TrainerEvent = StepEvent | EvalEvent | CheckpointEvent;

export interface FitOptions {
  /** Evaluation data (path to .arrow or a PreferenceDataset). */
  eval?: unknown;
  /** Stops training between steps; fit() then resolves with `aborted: true` after saving nothing new. */
  signal?: AbortSignal;
  /** A checkpoint folder written by an earlier fit(): continue exactly where it stopped. */
  resumeFrom?: string;
  /**
   * Without resumeFrom: continue this run id from step 0, for an outputDir that holds the run's marker but
   * no checkpoint (a run stopped before its first save restarts as itself instead of counting as another).
   */
  runId?: string;
}

export interface FitReport {
  steps: number;
  epochs: number;
  aborted: boolean;
  finalLoss: number;
  lastEval?: EvalEvent;
  examplesPerSecond: number;
  seconds: number;
  outputDir?: string;
}
