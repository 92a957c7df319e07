/**
 * `sdpo baseline`: fit a recommender baseline on a training split and save it to a folder;
 * `sdpo baseline eval DIR`: score a saved baseline on a split with `sdpo eval`'s ranking metrics and
 * popularity-bias metrics (popularity counted on the training file baseline.json records, or --train-data).
 */
import * as fs from "fs";
import * as path from "path";
import type { Argv, CommandModule } from "yargs";
import { BASELINE_KINDS, isBaselineKind, type Baseline } from "../../baselines/baseline";
import { baselineEvalResult, evaluateBaseline, type BaselineEvaluation } from "../../baselines/evaluate";
import { fitBaseline, loadBaseline } from "../../baselines/fit";
import { popularityBiasJson, type ItemPopularity, type PopularityBiasResult } from "../../eval/popularity-bias";
import { formatMetricsTable, formatPopularityBiasTable } from "../../eval/table";
import type { DeviceName } from "../../native";
import { createProgress, type Progress } from "../../report/progress";
import { checkDataFile, checkPositiveInteger, resolvePopularity, UsageError } from "../eval-setup";
import { resolveDataArg } from "../data-arg";
import { integer, SEED_RANGE } from "../flags";

export interface BaselineFitArgs {
  kind?: string;
  data?: string;
  out?: string;
  seed?: number;
  epochs?: number;
  overwrite?: boolean;
  /** Also evaluate on this split once fitted. */
  eval?: string;
  json?: boolean;
  device?: string;
}

export interface BaselineEvalArgs {
  dir: string;
  data: string;
  json?: boolean;
  maxRows?: number;
  device?: string;
  /** Training split to count item popularity on (default: the one baseline.json records). */
  trainData?: string;
}

function checkSeed(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new UsageError(`--seed must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

/**
 * What `--json` prints: the ranking metrics, the per-row ranks, and popularityBias as `sdpo eval --json` has it,
 * under `sdpo eval --json`'s camelCase keys. A baseline's HR@1 is a ranking HR@1 (the top-scored candidate), so it
 * is also given as rankHr1, the key `sdpo eval --json` has for that figure of a model.
 */
export function baselineJson(kind: string, evaluation: BaselineEvaluation, bias?: PopularityBiasResult): Record<string, unknown> {
  const { rows, hr1, hr3, hr5, ndcg3, ndcg5 } = evaluation.metrics;
  return { kind, rows, hr1, rankHr1: hr1, hr3, hr5, ndcg3, ndcg5, ranks: evaluation.ranks, ...(bias ? { popularityBias: popularityBiasJson(bias) } : {}) };
}

async function report(
  baseline: Baseline,
  dataFile: string,
  popularity: { popularity: ItemPopularity } | { omitted: string },
  args: { json?: boolean; maxRows?: number },
  out: NodeJS.WritableStream
): Promise<BaselineEvaluation> {
  if ("popularity" in popularity && popularity.popularity.itemsSha256 !== baseline.source.itemsSha256) {
    throw new UsageError(`${popularity.popularity.file}: another item vocabulary than the baseline's training file ${baseline.source.file}; item ids would mean other items`);
  }
  const evaluation = await evaluateBaseline(baseline, dataFile, { maxRows: args.maxRows });
  const result = baselineEvalResult(evaluation, {}, "popularity" in popularity ? popularity.popularity : undefined);
  if ("omitted" in popularity) result.popularityBias = { measured: false, reason: popularity.omitted };
  if (args.json) out.write(JSON.stringify(baselineJson(baseline.kind, evaluation, result.popularityBias)) + "\n");
  else {
    out.write(formatMetricsTable([{ method: baseline.kind, result }]) + "\n");
    out.write("\n" + formatPopularityBiasTable([{ method: baseline.kind, bias: result.popularityBias }]) + "\n");
  }
  return evaluation;
}

export async function runBaselineFit(args: BaselineFitArgs, out: NodeJS.WritableStream = process.stdout): Promise<Baseline> {
  if (args.kind === undefined || args.data === undefined || args.out === undefined) {
    throw new UsageError("sdpo baseline needs --kind, --data and --out (or: sdpo baseline eval DIR --data FILE)");
  }
  if (!isBaselineKind(args.kind)) throw new UsageError(`--kind must be one of ${BASELINE_KINDS.join(", ")}, got ${JSON.stringify(args.kind)}`);
  const dataFile = checkDataFile(resolveDataArg(args.data, "train", "--data").file);
  const evalFile = args.eval === undefined ? undefined : checkDataFile(resolveDataArg(args.eval, "valid", "--eval").file, "--eval");
  const seed = checkSeed(args.seed ?? 0);
  const epochs = args.epochs === undefined ? undefined : checkPositiveInteger(args.epochs, "--epochs");
  const outDir = path.resolve(args.out);
  if (fs.existsSync(outDir) && !args.overwrite) throw new UsageError(`--out ${args.out} already exists; pass --overwrite to replace it`);

  let progress: Progress | undefined;
  let baseline: Baseline;
  try {
    baseline = await fitBaseline(args.kind, dataFile, {
      seed,
      sasrec: {
        epochs,
        device: (args.device ?? "cpu") as DeviceName,
        onStep: (step, total, loss) => (progress ??= createProgress(total, { label: "sasrec", unit: "steps" })).update(step, `loss ${loss.toFixed(3)}`),
      },
    });
  } finally {
    progress?.stop();
  }
  try {
    await baseline.save(outDir, { overwrite: args.overwrite === true });
    if (!args.json) out.write(`${args.kind} baseline fitted on ${args.data}, saved to ${args.out}\n`);
    // Fitted here on dataFile: that is the training file, whatever baseline.json will be checked against later.
    if (evalFile) await report(baseline, evalFile, await resolvePopularity(undefined, dataFile), args, out);
    return baseline;
  } finally {
    baseline.dispose();
  }
}

export async function runBaselineEval(args: BaselineEvalArgs, out: NodeJS.WritableStream = process.stdout): Promise<BaselineEvaluation> {
  const dir = path.resolve(args.dir);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`${args.dir}: no such folder (expected a folder written by \`sdpo baseline\`)`);
  const dataFile = checkDataFile(resolveDataArg(args.data, "valid", "--data").file);
  const maxRows = args.maxRows === undefined ? undefined : checkPositiveInteger(args.maxRows, "--max-rows");
  const baseline = await loadBaseline(dir, { device: (args.device ?? "cpu") as DeviceName });
  try {
    const { file, sha256 } = baseline.source;
    const popularity = await resolvePopularity({ file, sha256, where: path.join(dir, "baseline.json") }, args.trainData === undefined ? undefined : resolveDataArg(args.trainData, "train", "--train-data").file);
    return await report(baseline, dataFile, popularity, { json: args.json, maxRows }, out);
  } finally {
    baseline.dispose();
  }
}

const evalSubcommand: CommandModule<object, BaselineEvalArgs> = {
  command: "eval <dir>",
  describe: "Score a saved baseline on a split: HR@1 over the candidates, HR@3/5, NDCG@3/5",
  builder: (y) =>
    y
      .positional("dir", { type: "string", describe: "folder written by `sdpo baseline`" })
      .option("data", { type: "string", demandOption: true, describe: "evaluation split (.arrow), or a shipped dataset's name (lastfm: its validation split)" })
      .option("json", { type: "boolean", describe: "print one JSON object (kind, rows, hr1, rankHr1, hr3, hr5, ndcg3, ndcg5, ranks, popularityBias)" })
      .option("train-data", {
        type: "string",
        describe: "training split (.arrow) to count item popularity on for the popularity-bias metrics (default: the one baseline.json records)",
      })
      .option("max-rows", integer("max-rows", "evaluate only the first N rows", { min: 1, max: 2147483647 }))
      .option("device", { type: "string", default: "cpu", describe: "sasrec: cpu, cuda or cuda:N" }) as never,
  handler: async (args) => {
    await runBaselineEval(args);
  },
};

export const baselineCommand: CommandModule<object, BaselineFitArgs> = {
  command: "baseline",
  describe: "Fit a recommender baseline (random, popularity, cooccurrence, sasrec) on a training split; `baseline eval DIR` scores one",
  builder: (y: Argv) =>
    y
      .command(evalSubcommand)
      .option("kind", { type: "string", choices: [...BASELINE_KINDS], describe: "which baseline" })
      .option("data", { type: "string", describe: "training split (.arrow), or a shipped dataset's name (lastfm: its training split): counts and training use only this file" })
      .option("out", { type: "string", describe: "folder to write (baseline.json; the model files for sasrec)" })
      .option("seed", { ...integer("seed", "random: the scores; sasrec: initialisation and example order", SEED_RANGE), default: 0 })
      .option("epochs", integer("epochs", "sasrec: training epochs (default 3)", { min: 1, max: 10000 }))
      .option("overwrite", { type: "boolean", describe: "replace an existing --out folder" })
      .option("eval", { type: "string", describe: "also score the fitted baseline on this split (.arrow, or lastfm: its validation split)" })
      .option("json", { type: "boolean", describe: "with --eval: print the metrics as one JSON object" })
      .option("device", { type: "string", default: "cpu", describe: "sasrec: cpu, cuda or cuda:N" }) as never,
  handler: async (args) => {
    await runBaselineFit(args);
  },
};
