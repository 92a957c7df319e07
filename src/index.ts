/** softmax-dpo: preference training (SFT, DPO, Softmax-DPO) for LM recommenders on libtorch. */
export { native, nativePath } from "./native";
export type { BuildInfo, FloatArray } from "./native";
// evaluation (paper protocol + ranking) and training reports (progress, JSONL, curves)
export { evaluate, judgeGeneration, mentionedCandidates, pessimisticRank, hitAtK, ndcgAtK, rankingMetrics, formatMetricsTable } from "./eval";
export type { EvalResult, EvaluateOptions, EvaluableModel, DecodingTokenizer, EvalData, GenerationJudgement } from "./eval";
export { attachProgress, createProgress, attachJsonlLog, openJsonl, readJsonl, plotTrainingCurves, lineChartSvg } from "./report";
export type { Progress, ProgressOptions, JsonlWriter, RunLog, Panel, Series, TrainerEventSource } from "./report";
