/**
 * Public types of the trainers: options (named as in Hugging Face TRL, camelCased), events, report.
 * Shared by the trainers (src/trainers), the reporters (src/report) and the CLI.
 */
import type { Model } from "../model/model";
import type { PreferenceSource } from "./source";

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
  /** "none" (S-DPO exactly), "fixed" (gamma) or "dynamic" (gamma * sigmoid((s_j - s_w) / tau)). @default "dynamic" */
  mode?: RewardMarginMode;
  /** The margin's scale, >= 0. @default 0.5 */
  gamma?: number;
  /** Temperature of the dynamic margin, > 0. @default 1 */
  tau?: number;
  /** The confidence scores s: the reference's log-probs or the policy's (detached either way). @default "reference" */
  confidence?: "reference" | "policy";
}
export type LrSchedulerType = "cosine" | "linear" | "constant";
export type ReferenceMode = "adapters-off" | "frozen-copy" | "precomputed";

/** Options of every trainer (`createTrainer(loss, options)`, `new SDPOTrainer(options)`, ...), named as TRL's
 *  arguments in camelCase. Every one but `model` is optional; an unknown key is refused at run time too. */
export interface TrainerOptions {
  /** The policy to train (`createModel`, `loadModel`); trained in place. */
  model: Model;
  /** AdamW's peak learning rate, >= 0. @default 1e-4 */
  learningRate?: number;
  /** DPO / S-DPO / NAPO's beta, the scale of the rewards, > 0. @default 1.0 */
  beta?: number;
  /** sft only: weight of the candidate-list term, -log of the policy's probability of answering with any of the
   *  row's candidates (the chosen response and its `negatives`, which should then be all the other candidates:
   *  19 on LastFM). Token cross-entropy already holds this term once; more weight asks the model to name a listed
   *  candidate before it asks for the right one. 0: plain token cross-entropy. @default 0 */
  listWeight?: number;
  /** sft only: label smoothing toward the candidate list. The first token of each of the row's candidates (the
   *  chosen response and its `negatives`, which should then be the other candidates: 19 on LastFM) is a target
   *  too, with this weight shared among them: the loss adds `listSmoothing` times the mean over those candidates of
   *  -log p(its first token), at the answer's first position. Every row then asks for probability on the listed
   *  titles, not only copy rows, while cross-entropy still ranks the chosen one first: the push on a wrong listed
   *  token stops at about listSmoothing / ((1 + listSmoothing) * candidates) of the mass, unlike `listWeight`'s. The
   *  negatives are not scored as responses, so the term costs one [batch, vocab] product. 0: off. @default 0 */
  listSmoothing?: number;
  /** sft only: unlikelihood of the history's items as the answer (Welleck et al. 2019). The loss adds this weight
   *  times -sum over the example's history items h of log(1 - p(h's first token)), at the answer's first position
   *  (items whose first token the answer or a candidate also starts with are left out). A decoder that copies
   *  titles out of its prompt can copy one from the history rather than the list; on LastFM a target is in its own
   *  history in 6 of 2,500 rows. Needs batches that carry `historyFirstTokens` (ResampledDataset's do; on the
   *  command line, `--redraw-candidates`). 0: off. @default 0 */
  historyUnlikelihood?: number;
  /** Dropout on each decoder layer's attention and MLP outputs before they join the residual stream (GPT-2's
   *  `resid_pdrop`), in training steps only: evaluation, generation and the reference policy never drop out. A
   *  training setting, not saved in the model's config. In [0, 1). @default 0 */
  residualDropout?: number;
  /** dpo / sdpo / napo: weight of the chosen responses' token NLL (per token) added to the preference loss, as in
   *  RPO (TRL's `rpo_alpha`). Pushing negatives down moves probability to every other answer; the NLL keeps the
   *  chosen answer's likelihood up, so the policy does not drift to answers outside the list. 0: the preference
   *  loss alone. @default 0 */
  chosenNllWeight?: number;
  /** K, negatives per example: sdpo and napo default to 3, dpo uses exactly 1, sft none (with `listWeight`, the
   *  candidates its term scores besides the chosen one). @default 3 (sdpo, napo); 1 (dpo); 0 (sft) */
  negatives?: number;
  /** Examples per micro-batch. @default 8 */
  batchSize?: number;
  /** Micro-batches per optimizer step. @default 1 */
  gradientAccumulationSteps?: number;
  /** Epochs to train; may be fractional, as TRL's num_train_epochs: 0.5 trains ceil(0.5 x steps per epoch)
   *  optimizer steps of the first epoch; 2.5 two epochs and half the third. @default 1 */
  numTrainEpochs?: number;
  /** Stop after this many optimizer steps, overriding numTrainEpochs (TRL's max_steps; the schedule spans them);
   *  the data is read for as many epochs as that takes. @default undefined (numTrainEpochs decides) */
  maxSteps?: number;
  /** Keep only the newest N checkpoint-* folders of outputDir, removing older ones after each save (TRL's
   *  save_total_limit). @default undefined (keep all) */
  saveTotalLimit?: number;
  /** Fraction of the steps over which the learning rate warms up linearly from 0, in [0, 1]. @default 0 */
  warmupRatio?: number;
  /** The learning-rate schedule after warm-up. @default "cosine" */
  lrSchedulerType?: LrSchedulerType;
  /** Clip the gradient's global norm to this; 0 disables clipping. @default 1.0 */
  maxGradNorm?: number;
  /** AdamW's decoupled weight decay, applied to matrices only (dim >= 2), not RMSNorm weights or biases. @default 0 */
  weightDecay?: number;
  /** true: weightDecay applies to every trainable tensor. @default false */
  weightDecayAllParameters?: boolean;
  /** @default 0.9 */
  adamBeta1?: number;
  /** @default 0.999 */
  adamBeta2?: number;
  /** @default 1e-8 */
  adamEpsilon?: number;
  /** Seeds shuffling, negative draws and LoRA dropout. @default 42 */
  seed?: number;
  /** Evaluate (fit's `eval` data) every N optimizer steps; 0: only at the end of each epoch. @default 0 */
  evalSteps?: number;
  /** Checkpoint every N optimizer steps; 0: only at the end (needs outputDir). @default 0 */
  saveSteps?: number;
  /** Where checkpoints, trainer_state.json and the JSONL log go. @default undefined (nothing is written) */
  outputDir?: string;
  /** How the reference policy is scored. @default "adapters-off" with LoRA adapters, else "frozen-copy" */
  referenceMode?: ReferenceMode;
  /** Emit a step event every N optimizer steps. @default 1 */
  logSteps?: number;
  /** Allow an outputDir that holds another run (its checkpoints are removed). @default false */
  overwrite?: boolean;
  /** napo only: the reward margin (see RewardMarginOptions for each field's default). */
  rewardMargin?: RewardMarginOptions;
  /** sdpo / napo: each row also takes the other rows' chosen and rejected items as negatives (NAPO's
   *  in-batch sharing); `cap`: most shared negatives per row (a seeded choice per step). @default false */
  inBatchNegatives?: boolean | { cap?: number };
  /** Where a step's negatives come from (see NegativeSampling). @default "fixed" */
  negativeSampling?: NegativeSampling;
  /** "pool" / "hard": candidates kept per example, >= negatives. @default max(5, negatives) */
  poolSize?: number;
  /** "pool" / "hard": a pool older than this many optimizer steps is rescored. @default 50 */
  poolRefreshSteps?: number;
  /** Data-parallel training over the ranks a launcher started (torchrun's RANK, WORLD_SIZE, MASTER_ADDR, ...):
   *  each rank trains on its share of every global batch of batchSize x WORLD_SIZE rows and the gradients are
   *  summed over the ranks before clipping and AdamW. Where WORLD_SIZE is unset the process trains alone.
   *  `false`: train alone even under a launcher. See README "Data-parallel training".
   *  @default true (data parallel where a launcher set WORLD_SIZE, else alone) */
  distributed?: DistributedOptions | boolean;
}

export type DistributedBackend = "gloo" | "nccl" | "auto";
export interface DistributedOptions {
  /** "gloo" (CPU tensors), "nccl" (CUDA tensors, CUDA builds), "auto" (nccl for a CUDA model where the
   *  build has it, else gloo). @default "auto" */
  backend?: DistributedBackend;
  /** How long a rank waits for the others (rendezvous, each collective) before failing. @default 600000 */
  timeoutMs?: number;
  /** Gradient bucket size of the all-reduce; 0: one collective per tensor. @default 26214400 (25 MiB, PyTorch DDP's) */
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

/** What fit(), fit's `eval` and evaluate() read: a path to an .arrow preference file, or an opened source that
 *  yields PreferenceBatches (`PreferenceDataset.fromArrow(path)`, `ResampledDataset.open(...)`, or your own). */
export type PreferenceData = string | PreferenceSource;

export interface FitOptions {
  /** Evaluation data, scored every `evalSteps` and at the end of each epoch. @default undefined (no evaluation) */
  eval?: PreferenceData;
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
