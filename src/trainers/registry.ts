/** Trainers by loss name: createTrainer("sdpo", options). */
import { DPOTrainer, NAPOTrainer, SDPOTrainer, SFTTrainer } from "./losses";
import type { PreferenceTrainer } from "./trainer";
import type { LossName, TrainerOptions } from "./types";

const TRAINERS: Record<LossName, new (options: TrainerOptions) => PreferenceTrainer> = {
  sft: SFTTrainer,
  dpo: DPOTrainer,
  sdpo: SDPOTrainer,
  napo: NAPOTrainer,
};

export const LOSS_NAMES = Object.keys(TRAINERS) as LossName[];

export function isLossName(name: unknown): name is LossName {
  return typeof name === "string" && Object.prototype.hasOwnProperty.call(TRAINERS, name);
}

/** The trainer of `loss` ("sft" | "dpo" | "sdpo" | "napo"); a name outside LossName does not compile (and throws a
 *  RangeError from plain JavaScript). */
export function createTrainer(loss: LossName, options: TrainerOptions): PreferenceTrainer {
  if (!isLossName(loss)) throw new RangeError(`unknown loss '${loss}': valid losses are ${LOSS_NAMES.join(", ")}`);
  return new TRAINERS[loss](options);
}
