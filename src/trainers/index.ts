export { PreferenceTrainer } from "./trainer";
export { SFTTrainer, DPOTrainer, SDPOTrainer, NAPOTrainer } from "./losses";
export { createTrainer, isLossName, LOSS_NAMES } from "./registry";
export { learningRateAt, warmupStepsFor } from "./schedules";
export type { ScheduleOptions } from "./schedules";
export type { PreferenceSource, BatchRequest } from "./source";
export type { TrainerState } from "./checkpoint_io";
export * from "./types";
