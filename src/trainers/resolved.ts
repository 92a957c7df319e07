/** Types of the trainer options once resolved: every default filled in, nested options complete, "off" as null. */
import type { DistributedBackend, RewardMarginMode, TrainerOptions } from "./types";

export interface ResolvedRewardMargin {
  mode: RewardMarginMode;
  gamma: number;
  tau: number;
  confidence: "reference" | "policy";
}

export interface ResolvedDistributed {
  backend: DistributedBackend;
  timeoutMs: number;
  bucketBytes: number;
}

/** Every option of TrainerOptions but the model, which the trainer holds itself. */
export type OptionName = Exclude<keyof TrainerOptions, "model">;

/** The options whose resolved value is not simply the given type made required. */
export interface ResolvedAs {
  /** null: numTrainEpochs decides the number of steps. */
  maxSteps: number | null;
  /** null: every checkpoint is kept. */
  saveTotalLimit: number | null;
  /** undefined: nothing is written. */
  outputDir: string | undefined;
  /** null: train alone even under a launcher (distributed: false). */
  distributed: ResolvedDistributed | null;
  /** napo's margin; null for the other losses. */
  rewardMargin: ResolvedRewardMargin | null;
  /** null: off; cap null: no cap. */
  inBatchNegatives: { cap: number | null } | null;
  /** null unless negativeSampling is "pool" or "hard". */
  poolSize: number | null;
  poolRefreshSteps: number | null;
}

export type ResolvedOptions = { [K in OptionName]-?: K extends keyof ResolvedAs ? ResolvedAs[K] : Exclude<TrainerOptions[K], undefined> };
