/** softmax-dpo: preference training (SFT, DPO, Softmax-DPO) for LM recommenders on libtorch. */
export { native, nativePath } from "./native";
export type { BuildInfo, FloatArray } from "./native";
// trainers
export { PreferenceTrainer, SFTTrainer, DPOTrainer, SDPOTrainer, createTrainer, LOSS_NAMES, learningRateAt } from "./trainers";
export type {
  TrainerOptions,
  FitOptions,
  FitReport,
  StepEvent,
  EvalEvent,
  CheckpointEvent,
  TrainerEvent,
  LossName,
  LrSchedulerType,
  ReferenceMode,
} from "./trainers";
export type { NativeTrainer, TrainBatchInput, TrainStepStats, OptimizerState } from "./native";
