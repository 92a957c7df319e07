/** Evaluation: the paper's generation protocol (HR@1, ValidRatio) and ranking metrics. */
export { evaluate, evaluableOf } from "./evaluate";
export type { EvalResult, EvaluateOptions, EvaluableModel, DecodingTokenizer, EvalData, BatchSource } from "./evaluate";
export { judgeGeneration, mentionedCandidates } from "./matching";
export type { GenerationJudgement } from "./matching";
export { pessimisticRank, hitAtK, ndcgAtK, rankingMetrics } from "./ranking";
export { formatMetricsTable } from "./table";
