/** Evaluation: the paper's generation protocol (HR@1, ValidRatio), ranking metrics, constrained decoding, bootstrap intervals. */
export { evaluate, evaluableOf } from "./evaluate";
export type { EvalResult, EvaluateOptions, EvaluableModel, DecodingTokenizer, EvalData, BatchSource } from "./evaluate";
export { judgeGeneration, mentionedCandidates } from "./matching";
export type { GenerationJudgement } from "./matching";
export { pessimisticRank, topCandidate, hitAtK, ndcgAtK, rankingMetrics } from "./ranking";
export { bootstrapMean, bootstrapMeans, pairedBootstrap } from "./bootstrap";
export type { BootstrapOptions, Interval, MeanEstimate, PairedEstimate } from "./bootstrap";
export { constrainedGreedyChoice } from "./constrained";
export type { ConstrainedChoice } from "./constrained";
export { METRIC_NAMES, perRowValues, summarizeOutcomes, pairedMetricBootstrap } from "./outcomes";
export type { RowOutcomes, MetricName, MetricValues, MetricIntervals } from "./outcomes";
export { formatMetricsTable, formatMetricCell, formatPopularityBiasTable } from "./table";
export type { TableResult } from "./table";
export { poolSeeds, compareSeeds, seedAveragedRows, formatComparison } from "./seeds";
export type { PooledResult } from "./seeds";
export { itemPopularity, readItemPopularity, popularityBias, popularityBiasJson, HEAD_FRACTION } from "./popularity-bias";
export type { ItemPopularity, PopularityBias, PopularityBiasOmitted, PopularityBiasResult, PopularityBiasJson, Top1Bias } from "./popularity-bias";
