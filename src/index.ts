/** softmax-dpo: preference training (SFT, DPO, Softmax-DPO) for LM recommenders on libtorch. */
export { native, nativePath } from "./native";
export type { BuildInfo, FloatArray } from "./native";
// model
export { Model } from "./model/model";
export type { PromptTokens, ScoreCandidatesOptions, CandidateScores, GenerateOptions as ModelGenerateOptions } from "./model/model";
