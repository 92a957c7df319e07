/** Recommender baselines (random, popularity, co-occurrence, SASRec), scored like the models. */
export { BASELINE_KINDS, BASELINE_FORMAT, BASELINE_FILE, isBaselineKind } from "./baseline";
export type { Baseline, BaselineKind, BaselineSource, BaselineHeader } from "./baseline";
export { fitBaseline, loadBaseline } from "./fit";
export type { FitBaselineOptions } from "./fit";
export { evaluateBaseline, baselineEvalResult } from "./evaluate";
export type { BaselineEvaluation, EvaluateBaselineOptions } from "./evaluate";
export { readRecommendationRows, itemsSha256 } from "./rows";
export type { RecommendationRow, RecommendationData } from "./rows";
export { RandomBaseline } from "./random";
export { PopularityBaseline, countPopularity } from "./popularity";
export { CooccurrenceBaseline, countFollows } from "./cooccurrence";
export { SasrecBaseline, SASREC_SPECIALS } from "./sasrec";
export type { SasrecOptions, SasrecTraining } from "./sasrec";
export { NextItemSource } from "./next-item-source";
