/**
 * `sdpo eval`: HR@1 and ValidRatio by the paper's protocol, plus ranking metrics and (with --constrained)
 * HR@1 of greedy decoding restricted to the candidates, each with a bootstrap interval over rows; and the
 * popularity bias of the top-1 recommendations, counted on the training file the run folder records
 * (training_data.json) or on --train-data.
 */
import * as path from "path";
import { resolveDataArg, resolveTokenizerArg } from "../data-arg";
import { integer, SEED_RANGE } from "../flags";
import type { CommandModule } from "yargs";
import { evaluate, type EvalResult } from "../../eval/evaluate";
import { METRIC_NAMES, type MetricName } from "../../eval/outcomes";
import { popularityBiasJson, type PopularityBiasJson } from "../../eval/popularity-bias";
import { formatMetricsTable, formatPopularityBiasTable } from "../../eval/table";
import { loadModel } from "../../model/checkpoint";
import type { DeviceName } from "../../native";
import { createProgress } from "../../report/progress";
import { findTrainingDataRecord } from "../../trainers/run_dir";
import {
  checkDataFile,
  checkModelFolder,
  checkPositiveInteger,
  disposeModel,
  openEvalData,
  resolvePopularity,
  UsageError,
} from "../eval-setup";

export interface EvalArgs {
  model: string;
  data: string;
  tokenizer?: string;
  json?: boolean;
  batchSize?: number;
  generation?: boolean;
  ranking?: boolean;
  constrained?: boolean;
  resamples?: number;
  bootstrapSeed?: number;
  maxNewTokens?: number;
  maxRows?: number;
  device?: string;
  /** Training split to count item popularity on (default: the one the run folder records). */
  trainData?: string;
}

export type EvalJson = Record<MetricName, number | null> & {
  rows: number;
  intervals: Record<MetricName, [number, number] | null>;
  popularityBias: PopularityBiasJson;
};

/**
 * What `--json` prints: every metric (hr1, validRatio, hr3, hr5, ndcg3, ndcg5, rankHr1, constrainedHr1),
 * rows, intervals { metric: [lo, hi] }, and popularityBias (popularity-bias.ts: { measured: false, reason } when
 * not measured); NaN (a part that was off) becomes null.
 */
export function evalJson(result: EvalResult): EvalJson {
  const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);
  const metrics = Object.fromEntries(METRIC_NAMES.map((k) => [k, finite(result[k])]));
  const intervals = Object.fromEntries(
    METRIC_NAMES.map((k) => {
      const [lo, hi] = result.intervals[k];
      return [k, Number.isFinite(lo) && Number.isFinite(hi) ? [lo, hi] : null];
    })
  );
  return {
    ...(metrics as Record<MetricName, number | null>),
    rows: result.rows,
    intervals: intervals as EvalJson["intervals"],
    popularityBias: popularityBiasJson(result.popularityBias),
  };
}

export async function runEval(args: EvalArgs, out: NodeJS.WritableStream = process.stdout): Promise<EvalResult> {
  const modelFolder = checkModelFolder(args.model);
  const dataFile = checkDataFile(resolveDataArg(args.data, "valid", "--data").file);
  const tokenizerFile = args.tokenizer === undefined ? undefined : resolveTokenizerArg(args.tokenizer);
  const batchSize = checkPositiveInteger(args.batchSize ?? 8, "--batch-size");
  const maxNewTokens = checkPositiveInteger(args.maxNewTokens ?? 20, "--max-new-tokens");
  const maxRows = args.maxRows === undefined ? undefined : checkPositiveInteger(args.maxRows, "--max-rows");
  const generation = args.generation ?? true;
  const ranking = args.ranking ?? true;
  const constrained = args.constrained ?? false;
  const resamples = checkPositiveInteger(args.resamples ?? 1000, "--resamples");
  const seed = args.bootstrapSeed ?? 0;
  if (!Number.isInteger(seed)) throw new UsageError(`--bootstrap-seed must be an integer, got ${String(seed)}`);
  if (!generation && !ranking && !constrained) throw new UsageError("--no-generation and --no-ranking together leave nothing to measure (add --constrained?)");
  const device = (args.device ?? "cpu") as DeviceName;

  const { dataset, tokenizer, rows } = await openEvalData(dataFile, modelFolder, { tokenizer: tokenizerFile, needTokenizer: generation });
  const recorded = await findTrainingDataRecord(modelFolder);
  const trainData = args.trainData === undefined ? undefined : resolveDataArg(args.trainData, "train", "--train-data").file;
  const popularity = await resolvePopularity(recorded && { ...recorded.record, where: recorded.where }, trainData);
  const model = await loadModel(modelFolder, { device });
  const progress = createProgress(maxRows ? Math.min(rows, maxRows) : rows, { label: "eval", unit: "rows" });
  try {
    const result = await evaluate(model, dataset, {
      tokenizer,
      batchSize,
      maxNewTokens,
      generation,
      ranking,
      constrained,
      bootstrap: { resamples, seed, confidence: 0.95 },
      maxRows,
      onProgress: (done) => progress.update(done),
      ...("popularity" in popularity ? { popularityFrom: popularity.popularity } : {}),
    });
    progress.stop();
    if ("omitted" in popularity) result.popularityBias = { measured: false, reason: popularity.omitted };
    if (args.json) out.write(JSON.stringify(evalJson(result)) + "\n");
    else {
      const method = path.basename(modelFolder);
      out.write(formatMetricsTable([{ method, result }]) + "\n");
      out.write(`[lo, hi]: 95% percentile bootstrap intervals over the ${result.rows} rows (${resamples} resamples, seed ${seed})\n`);
      out.write("\n" + formatPopularityBiasTable([{ method, bias: result.popularityBias }]) + "\n");
    }
    return result;
  } finally {
    progress.stop();
    disposeModel(model);
  }
}

export const evalCommand: CommandModule<object, EvalArgs> = {
  command: "eval",
  describe: "Evaluate a model folder on an .arrow split: HR@1 and ValidRatio (paper protocol), HR@3/5, NDCG@3/5, with 95% intervals",
  builder: (y) =>
    y
      .option("model", { type: "string", demandOption: true, describe: "Hugging Face model folder (config.json, *.safetensors)" })
      .option("data", {
        type: "string",
        demandOption: true,
        describe: "evaluation split (.arrow), or a shipped dataset's name (lastfm: its validation split; lastfm:train)",
      })
      .option("tokenizer", {
        type: "string",
        describe: "tokenizer.json to decode generations with, or a shipped dataset's name (default: the model folder's, else the one beside --data; --no-generation needs none)",
      })
      .option("json", {
        type: "boolean",
        describe: "print one JSON object (hr1, validRatio, hr3, hr5, ndcg3, ndcg5, rankHr1, constrainedHr1, rows, intervals, popularityBias)",
      })
      .option("train-data", {
        type: "string",
        describe: "training split (.arrow) to count item popularity on for the popularity-bias metrics (default: the one the run folder records)",
      })
      .option("batch-size", { ...integer("batch-size", "prompts per batch", { min: 1, max: 65536 }), default: 8 })
      .option("generation", { type: "boolean", default: true, describe: "greedy generation for HR@1 / ValidRatio (--no-generation: ranking only)" })
      .option("ranking", { type: "boolean", default: true, describe: "score every candidate for HR@k / NDCG@k (--no-ranking: generation only)" })
      .option("constrained", {
        type: "boolean",
        default: false,
        describe: "also greedy decoding restricted to the candidates' titles (constrained HR@1, an extra column)",
      })
      .option("resamples", { ...integer("resamples", "bootstrap resamples for the 95% intervals", { min: 1, max: 1000000 }), default: 1000 })
      .option("bootstrap-seed", { ...integer("bootstrap-seed", "seed of the bootstrap's row draws", SEED_RANGE), default: 0 })
      .option("max-new-tokens", { ...integer("max-new-tokens", "generation length, 20 as in the paper", { min: 1, max: 4096 }), default: 20 })
      .option("max-rows", integer("max-rows", "evaluate only the first N rows", { min: 1, max: 2147483647 }))
      .option("device", { type: "string", default: "cpu", describe: "cpu, cuda or cuda:N" }) as never,
  handler: async (args) => {
    await runEval(args);
  },
};
