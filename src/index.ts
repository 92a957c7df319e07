/** softmax-dpo: preference training (SFT, DPO, Softmax-DPO) for LM recommenders on libtorch. */
export { native, nativePath } from "./native";
export type { BuildInfo, FloatArray } from "./native";
// The addon's own interfaces (what native() returns), for code that calls it directly.
export type {
  NativeAddon,
  NativeOps,
  NativeModel,
  NativeGenerateOptions,
  NativeScoreOptions,
  NativeModelConstructor,
  NativeTrainerConstructor,
  NativeTrainerOptions,
  PackedResponsesInput,
  ScoreResult,
  ParameterInfo,
  OptimizerTensor,
  DistributedGroupInfo,
  DistributedGroupOptions,
  MatmulBenchResult,
  TokenLogprobsBenchResult,
} from "./native";

// Data: Arrow preference files, converter, tokenizer, streaming reader.
export type { PackedTokens, PreferenceBatch } from "./data/batch";
export { PreferenceDataset } from "./data/dataset";
export { ResampledDataset } from "./data/resample";
export { addItemTokens } from "./data/item_tokens";
export { addTemplateTokens, templatePhrases } from "./data/template_tokens";
export { dropListSeparators } from "./data/list_separators";
export type { ResampleOptions } from "./data/resample";
export type { BatchOptions, DatasetOptions, ByteSource } from "./data/dataset";
export type { NegativeSampling as BatchNegativeSampling } from "./data/validate";
export type { ResampleRequest } from "./data/resample";
export { DataError } from "./data/errors";
// Datasets shipped in the package (datasets/<name>): absolute paths from any folder.
export { shippedDataset, SHIPPED_DATASETS } from "./data/shipped";
export type { ShippedDataset, ShippedDatasetName } from "./data/shipped";
export { Tokenizer } from "./data/tokenizer";
export type { TokenizerOptions } from "./data/tokenizer";
export type { TrainTokenizerOptions } from "./data/train_tokenizer";
export { trainByteLevelBpe, DEFAULT_SPECIAL_TOKENS } from "./data/train_tokenizer";
export {
  convertLlaraFile,
  writeLlaraArrow,
  llaraRecords,
  tokenizeRecords,
  itemVocabulary,
  parseLlaraJson,
  readLlaraJson,
  parseTemplates,
  readTemplates,
  fillTemplate,
  responseText,
  DEFAULT_TEMPLATE,
} from "./data/convert";
export type { LlaraRow, ConvertOptions, RecordOptions } from "./data/convert";
export { recordsToTable, writeArrowFile } from "./data/arrow_write";
export type { PreferenceRecord } from "./data/arrow_write";
export { FORMAT_VERSION, META, preferenceSchema, parseMetadata } from "./data/schema";
export type { DatasetMetadata, TokenizerIdentity, SchemaOptions } from "./data/schema";

// model: Hugging Face checkpoints (safetensors, config.json, PEFT adapters)
export { loadModel, createModel, saveModel, addLoraAdapters } from "./model/checkpoint";
export type { SavableModel } from "./model/save";
export type { LoadedModel, ModelOptions, LoadOptions, SaveOptions } from "./model/checkpoint";
export { parseConfig, presetConfig, configToJson, readConfigFile } from "./model/config";
export type { ConfigExtras } from "./model/config";
export { openSafetensors, readSafetensors, writeSafetensors, SafetensorsFile, MAX_HEADER_BYTES } from "./model/safetensors";
export type { SafetensorsTensor, SafetensorsTensorInfo, LazySafetensorsTensor, TensorToWrite } from "./model/safetensors";
export { openCheckpointTensors, readSafetensorsIndex, writeShardedSafetensors } from "./model/sharded";
export type { CheckpointTensors, SafetensorsIndex } from "./model/sharded";
export type { LoraOptions } from "./model/peft";
export type { NativeModelConfig, NativeLoraConfig, SafetensorsDType, ModelDType, DeviceName } from "./native";

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

// Native binary selection: which .node file was loaded and why.
export { nativeLoadReport } from "./native";
export type { NativeLoadReport } from "./native";
export type { Rejection as NativeRejection } from "./native-loader";

// model
export { Model } from "./model/model";
export type { PromptTokens, ScoreCandidatesOptions, CandidateScores, GenerateOptions as ModelGenerateOptions } from "./model/model";

// Variants (seed papers): NAPO loss, in-batch negative sharing, RoDPO negative pool.
export { napoLoss } from "./ops/napo";
export type { NapoLossInputs, NapoLossOptions, NapoLossResult, NapoMarginMode } from "./ops/napo";
export { shareInBatchNegatives, jaccard } from "./negatives/in-batch";
export type { InBatchOptions, InBatchNegatives } from "./negatives/in-batch";
export { gatherLogps } from "./negatives/layout";
export type { NegativeLayout } from "./negatives/layout";
export { NegativePool } from "./negatives/pool";
export { ModelAnswerNegatives, UNLISTED_ITEM } from "./negatives/model-answers";
export type { AnsweringModel, ModelAnswerOptions, ModelAnswerStats } from "./negatives/model-answers";
export { packCandidates, samplePoolNegatives } from "./negatives/pool-batch";
export type { CandidateScoringInput } from "./negatives/pool-batch";
export type { NegativePoolOptions, NegativePoolState, PoolFallback, PoolSelection, PoolUpdate } from "./negatives/pool";
export { SeededRng } from "./rng";
export type { SeededRngState } from "./rng";

// evaluation (paper protocol + ranking) and training reports (progress, JSONL, curves)
export { evaluate, judgeGeneration, mentionedCandidates, pessimisticRank, hitAtK, ndcgAtK, rankingMetrics, formatMetricsTable } from "./eval";
export type { EvalResult, EvaluateOptions, EvaluableModel, DecodingTokenizer, EvalData, GenerationJudgement } from "./eval";
export type { BatchSource } from "./eval/evaluate";
export type { RankingTotals } from "./eval/ranking";
// bootstrap intervals over rows (bootstrapMean, pairedBootstrap: a - b on the same rows, P(diff > 0)),
// per-row outcomes of evaluate() and constrained decoding over candidate titles
export { bootstrapMean, bootstrapMeans, pairedBootstrap, pairedMetricBootstrap, perRowValues, summarizeOutcomes, METRIC_NAMES } from "./eval";
export { constrainedGreedyChoice, formatMetricCell } from "./eval";
export type { BootstrapOptions, Interval, MeanEstimate, PairedEstimate, RowOutcomes, MetricName, MetricValues, MetricIntervals } from "./eval";
export type { ConstrainedChoice, TableResult } from "./eval";
// evaluations of one method over several seeds, pooled (mean; interval over rows of the seed-averaged per-row values), and paired
export { poolSeeds, compareSeeds, seedAveragedRows } from "./eval";
export type { PooledResult } from "./eval";
// popularity bias of the top-1 recommendations (head share, coverage, ARP, popularity rank, HR@1 on head / tail targets)
export { itemPopularity, readItemPopularity, popularityBias, popularityBiasJson, formatPopularityBiasTable, topCandidate } from "./eval";
export type { ItemPopularity, PopularityBias, PopularityBiasOmitted, PopularityBiasResult, Top1Bias } from "./eval";
export type { PopularityBiasJson, JsonOf, Top1IntervalName } from "./eval/popularity-bias";
export { runDemo } from "./cli/commands/demo";
export type { DemoArgs, DemoResult, DemoIo, RankCommand } from "./cli/commands/demo";
export type { DemoSummary } from "./cli/demo-summary";
export type { DemoRecipe, DemoRunOptions } from "./cli/demo-recipe";
export { attachProgress, createProgress, attachJsonlLog, openJsonl, readJsonl, plotTrainingCurves, lineChartSvg } from "./report";
export type { Progress, ProgressOptions, JsonlWriter, RunLog, Panel, Series, TrainerEventSource } from "./report";
export type { CurveOptions } from "./report/curves";
export type { ChartOptions } from "./report/svg-chart";

// trainers
export { PreferenceTrainer, SFTTrainer, DPOTrainer, SDPOTrainer, NAPOTrainer, createTrainer, LOSS_NAMES, learningRateAt } from "./trainers";
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
  NegativeSampling,
  RewardMarginMode,
  RewardMarginOptions,
  DistributedOptions,
  DistributedBackend,
  PreferenceData,
  PreferenceSource,
  BatchRequest,
  ScheduleOptions,
} from "./trainers";
// what a trainer's `options` hold: every option with its default filled in
export type { ResolvedOptions, ResolvedRewardMargin, ResolvedDistributed } from "./trainers/options";
export type { OptionName, ResolvedAs } from "./trainers/resolved";
export type { Listener as TrainerListener, TrainerEventName, TrainerEventMap } from "./trainers/events";
// data parallelism: torchrun's launch contract (the process groups live in the addon)
export { readLaunchEnv } from "./distributed/launch_env";
export type { LaunchEnv } from "./distributed/launch_env";
export type { NativeTrainer, TrainBatchInput, TrainStepStats, OptimizerState } from "./native";

// Recommender baselines (random, popularity, co-occurrence, SASRec): fitted on a training file, ranked like the models.
export {
  fitBaseline,
  loadBaseline,
  evaluateBaseline,
  baselineEvalResult,
  readRecommendationRows,
  BASELINE_KINDS,
  RandomBaseline,
  PopularityBaseline,
  CooccurrenceBaseline,
  SasrecBaseline,
  NextItemSource,
} from "./baselines";
export type { NextItemExample } from "./baselines/next-item-source";
export type {
  Baseline,
  BaselineKind,
  BaselineSource,
  BaselineEvaluation,
  EvaluateBaselineOptions,
  FitBaselineOptions,
  RecommendationRow,
  RecommendationData,
  SasrecOptions,
  SasrecTraining,
} from "./baselines";
