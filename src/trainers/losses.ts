/** The trainers: the loop is PreferenceTrainer's; each names its loss. */
import { PreferenceTrainer } from "./trainer";
import type { TrainerOptions } from "./types";

/** Supervised fine-tuning on the chosen responses: mean token cross-entropy, no reference, no negatives. */
export class SFTTrainer extends PreferenceTrainer {
  readonly loss = "sft" as const;
  constructor(options: TrainerOptions) {
    super("sft", options);
  }
}

/** DPO (sigmoid): -log sigmoid(r(chosen) - r(rejected)) with one negative per example. */
export class DPOTrainer extends PreferenceTrainer {
  readonly loss = "dpo" as const;
  constructor(options: TrainerOptions) {
    super("dpo", options);
  }
}

/** Softmax-DPO: softplus(logsumexp_j (r(y_j) - r(chosen))) over K negatives per example. */
export class SDPOTrainer extends PreferenceTrainer {
  readonly loss = "sdpo" as const;
  constructor(options: TrainerOptions) {
    super("sdpo", options);
  }
}

/** NAPO: S-DPO with a reward margin per negative (rewardMargin: none, fixed gamma, or dynamic, larger for
 *  negatives the confidence scores find likely); pair it with inBatchNegatives for the paper's recipe. */
export class NAPOTrainer extends PreferenceTrainer {
  readonly loss = "napo" as const;
  constructor(options: TrainerOptions) {
    super("napo", options);
  }
}
