/** softmax-dpo: preference training (SFT, DPO, Softmax-DPO) for LM recommenders on libtorch. */
export { native, nativePath } from "./native";
export type { BuildInfo, FloatArray } from "./native";
export { sdpoLoss, dpoLoss, tokenLogProbs } from "./ops/losses";
export type {
  OpDevice,
  OpImplementation,
  OpOptions,
  PreferenceLossInputs,
  PreferenceLossOptions,
  PreferenceLossResult,
  TokenLogProbsInputs,
  TokenLogProbsOptions,
  TokenLogProbsResult,
} from "./ops/losses";
