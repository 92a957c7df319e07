/**
 * The whole native surface of softmax-dpo, typed. Nothing else imports the `.node` file.
 *
 * Conventions of the addon (see native/binding/):
 * - argument errors are thrown as TypeError / RangeError naming the argument;
 * - libtorch errors become Error("libtorch: ...");
 * - every long-running call returns a Promise and runs off the event loop;
 * - native objects refuse use after dispose().
 *
 * Types by idea in ops-types.ts, model-types.ts, train-types.ts and addon.ts; loading in load.ts. The test
 * hooks (test-hooks.ts) are left out of this surface on purpose.
 */
export type { NativeLoadReport } from "../native-loader";
export { native, nativeLoadReport, nativePath } from "./load";
export type { BuildInfo, DistributedGroupInfo, DistributedGroupOptions, MatmulBenchResult, NativeAddon, TokenLogprobsBenchResult } from "./addon";
export type {
  FloatArray,
  NapoLossInputs,
  NapoLossOptions,
  NapoLossResult,
  NapoMarginMode,
  NativeOps,
  OpDevice,
  OpImplementation,
  OpOptions,
  PreferenceLossInputs,
  PreferenceLossOptions,
  PreferenceLossResult,
  TokenLogProbsInputs,
  TokenLogProbsOptions,
  TokenLogProbsResult,
} from "./ops-types";
export type {
  DeviceName,
  ModelDType,
  NativeGenerateOptions,
  NativeLoraConfig,
  NativeModel,
  NativeModelConfig,
  NativeModelConstructor,
  NativeScoreOptions,
  PackedResponsesInput,
  ParameterInfo,
  SafetensorsDType,
  ScoreResult,
} from "./model-types";
export type {
  NativeTrainer,
  NativeTrainerConstructor,
  NativeTrainerOptions,
  OptimizerState,
  OptimizerTensor,
  TrainBatchInput,
  TrainStepStats,
} from "./train-types";
