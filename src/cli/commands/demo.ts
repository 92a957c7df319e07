/**
 * `sdpo demo`: the paper's ablation in miniature on the shipped LastFM sample. Trains a small decoder from
 * scratch with SFT (in one process, or on `--nproc` data-parallel CPU processes), then DPO and S-DPO each from the SFT checkpoint,
 * evaluates all three on the held-out split and prints HR@1 / ValidRatio / HR@3 / NDCG@3 ... as a table. Leaves
 * Hugging Face model folders sft/, dpo/, sdpo/, JSONL logs (logs/) and curve plots (plots/) under the output folder.
 */
import * as fs from "fs";
import * as path from "path";
import type { CommandModule } from "yargs";
import { PreferenceDataset } from "../../data/dataset";
import { Tokenizer } from "../../data/tokenizer";
import { baselineEvalResult, evaluateBaseline } from "../../baselines/evaluate";
import type { BaselineKind } from "../../baselines/baseline";
import { fitBaseline } from "../../baselines/fit";
import { evaluate, type EvalResult } from "../../eval/evaluate";
import type { MetricName } from "../../eval/outcomes";
import { formatMetricsTable } from "../../eval/table";
import { ResampledDataset } from "../../data/resample";
import { ModelAnswerNegatives } from "../../negatives/model-answers";
import { integer, maxThreads } from "../flags";
import { lineChartSvg, PALETTE } from "../../report/svg-chart";
import { createModel, loadModel } from "../../model/checkpoint";
import { presetConfig } from "../../model/config";
import type { Model } from "../../model/model";
import type { DeviceName } from "../../native";
import { plotTrainingCurves } from "../../report/curves";
import { createProgress, formatDuration } from "../../report/progress";
import { localRankThreadsEnv, spawnLocalRanks } from "../../distributed/spawn_local";
import { native } from "../../native";
import type { PreferenceSource } from "../../trainers/source";
import type { FitReport, LossName } from "../../trainers/types";
import { LABELS, METHODS, summarizeDemo, type DemoSummary } from "../demo-summary";
import { DEMO_RECIPE, demoModelConfig, FULL_RECIPE, itemTokenOptions, QUICK_RECIPE, type DemoRecipe } from "../demo-recipe";
import { firstRows, itemTokenData, shippedLastfm } from "../demo-data";
import { disposeModel, UsageError } from "../eval-setup";
import { trainDemoStage } from "../demo-stage";
import { DEMO_SFT_JOB_VARIABLE, type DemoSftJob } from "../demo-sft-rank";

export interface DemoArgs {
  out?: string;
  quick?: boolean;
  /** The longer recipe (FULL_RECIPE: 24 SFT epochs instead of 15). */
  full?: boolean;
  overwrite?: boolean;
  device?: string;
  /** Train and evaluate the recipe with this many seeds (first seed, +1, ...); default 1. */
  seeds?: number;
  /** The first seed; default the recipe's (42). Runs with different first seeds can be pooled afterwards. */
  seed?: number;
  /** Also train S-DPO with each K of the recipe's negatives figure from the first seed's SFT checkpoint. */
  negativesFigure?: boolean;
  /** Continue an interrupted demo in the same --out: models it already saved are evaluated, not trained again. */
  resume?: boolean;
  /** Data-parallel ranks (processes) of the SFT stage on CPU; default defaultDemoRanks(). The recipe's batch is
   *  the global one, so N changes the speed and the float sums, not the recipe. */
  nproc?: number;
}

/**
 * The demo's SFT ranks on CPU: the recipe's `sftRanks`, at most one per core; one process on CUDA. With the demo's
 * template tokens and no list separators a step is small enough that the gradient sum of 2 ranks costs more than
 * the second core gives (bench/recipe/template-tokens-2026-12-07.md), so the recipe trains in one process.
 */
export function defaultDemoRanks(device: string, recipeRanks: number, cores = maxThreads()): number {
  return device.startsWith("cuda") ? 1 : Math.max(1, Math.min(recipeRanks, cores));
}

/** How the demo starts a rank of its SFT stage (tests run the TypeScript sources through a register hook). */
export interface RankCommand {
  command: string;
  args: string[];
}

/** Marks a folder as written by `sdpo demo`, so a re-run may replace it. */
const MARKER = ".sdpo-demo.json";
/** Everything the demo writes; with --overwrite only these are replaced, nothing else is deleted. */
const OWNED = ["sft", "dpo", "sdpo", "logs", "plots", "baselines", "negatives", "results.json", "results.md", MARKER];
const OWNED_PATTERN = /^seed-\d+$/;
/**
 * The subtitle of dpo-vs-sdpo.svg: the two losses share an axis but not a scale. At the start (policy = reference)
 * DPO's loss is -log sigmoid(0) = log 2, S-DPO's with K negatives -log(1 / (K + 1)) = log(K + 1).
 */
export function lossScaleNote(negatives: number): string {
  return `Loss scales differ: DPO starts at log 2 ≈ ${Math.log(2).toFixed(2)}, S-DPO (K = ${negatives}) at log(K+1) ≈ ${Math.log(negatives + 1).toFixed(2)}`;
}


/**
 * Missing or empty: used. An earlier demo's folder (marker file): its outputs are replaced. Anything else
 * non-empty is refused unless `overwrite`, and even then only the demo's own entries are replaced.
 */
export function prepareOutputFolder(dir: string, overwrite: boolean, resume = false): string {
  const out = path.resolve(dir);
  if (resume) {
    if (!fs.existsSync(path.join(out, MARKER))) throw new UsageError(`--resume: ${dir} holds no earlier demo to continue`);
    return out;
  }
  if (fs.existsSync(out)) {
    if (!fs.statSync(out).isDirectory()) throw new UsageError(`--out ${dir}: exists and is not a folder`);
    const entries = fs.readdirSync(out);
    if (entries.length > 0 && !entries.includes(MARKER) && !overwrite) {
      throw new UsageError(
        `--out ${dir}: the folder is not empty and was not written by \`sdpo demo\` (${entries.slice(0, 3).join(", ")}${entries.length > 3 ? ", ..." : ""}); choose another --out or pass --overwrite`
      );
    }
    for (const name of [...OWNED, ...entries.filter((e) => OWNED_PATTERN.test(e))]) fs.rmSync(path.join(out, name), { recursive: true, force: true });
  }
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, MARKER), JSON.stringify({ tool: "sdpo demo", started: new Date().toISOString() }) + "\n");
  return out;
}

/** Where runDemo writes its report (out) and progress (err). */
export interface DemoIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export interface DemoResult extends Omit<DemoSummary, "lines"> {
  /** Every seed's evaluation of every method and baseline, in seed order. */
  perSeed: Record<string, EvalResult[]>;
  /** S-DPO with each K of the negatives figure, from the first seed's SFT checkpoint. */
  negatives?: { k: number; result: EvalResult }[];
  seconds: Record<string, number>;
  out: string;
}

export async function runDemo(args: DemoArgs, io: DemoIo = { out: process.stdout, err: process.stderr }, recipeOverride?: DemoRecipe, rankCommand?: RankCommand): Promise<DemoResult> {
  if (args.quick && args.full) throw new UsageError("--quick and --full are two different recipes: give one of them");
  const recipe = recipeOverride ?? (args.quick ? QUICK_RECIPE : args.full ? FULL_RECIPE : DEMO_RECIPE);
  const device = (args.device ?? "cpu") as DeviceName;
  const seedCount = args.seeds ?? 1;
  if (!Number.isInteger(seedCount) || seedCount < 1 || seedCount > 100) throw new UsageError(`--seeds must be an integer from 1 to 100, got ${String(args.seeds)}`);
  const firstSeed = args.seed ?? recipe.seed;
  if (!Number.isInteger(firstSeed) || firstSeed < 0 || firstSeed > 2 ** 31 - 1) throw new UsageError(`--seed must be an integer from 0 to 2147483647, got ${String(args.seed)}`);
  const nproc = args.nproc ?? defaultDemoRanks(device, recipe.sftRanks);
  if (!Number.isInteger(nproc) || nproc < 1 || nproc > 64) throw new UsageError(`--nproc must be an integer from 1 to 64, got ${String(args.nproc)}`);
  if (nproc > 1 && device.startsWith("cuda")) throw new UsageError(`--nproc ${nproc}: the demo's data-parallel ranks are CPU processes; on ${device} it trains in one process (--nproc 1)`);
  for (const [stage, options] of [["sft", recipe.sft], ["naming", recipe.naming]] as const) {
    const batchSize = options?.batchSize;
    if (options && nproc > 1 && (batchSize === undefined || batchSize % nproc !== 0)) {
      throw new UsageError(`--nproc ${nproc}: the recipe's ${stage} batch of ${batchSize} rows does not split evenly over ${nproc} ranks`);
    }
  }
  const out = prepareOutputFolder(args.out ?? "sdpo-demo", args.overwrite ?? false, args.resume ?? false);
  if ((recipe.templateTokens || recipe.dropListSeparators) && !recipe.itemTokens) throw new UsageError("the demo recipe's templateTokens and dropListSeparators need itemTokens");
  const data = recipe.itemTokens ? await itemTokenData(shippedLastfm(), out, itemTokenOptions(recipe)) : shippedLastfm();
  // A model folder is saved atomically: one with its config and weights is a finished run.
  const saved = (dir: string): boolean => (args.resume ?? false) && fs.existsSync(path.join(dir, "config.json")) && fs.existsSync(path.join(dir, "model.safetensors"));
  const say = (line: string): void => void io.err.write(line + "\n");
  const started = Date.now();
  const seconds: Record<string, number> = {};
  const abort = new AbortController();
  const onSigint = (): void => {
    say("interrupted: stopping after the current step");
    abort.abort();
  };
  process.once("SIGINT", onSigint);

  try {
    const tokenizer = Tokenizer.fromFile(data.tokenizer);
    const resampled = await ResampledDataset.open(data.train, tokenizer, { subsequences: recipe.subsequences, copyRows: recipe.copyRows, skipRows: recipe.skipRows });
    const sftTrain = await firstRows(resampled, recipe.trainRows);
    const preferenceTrain = await firstRows(resampled, recipe.preferenceRows);
    const namingTrain = await firstRows(resampled, recipe.namingRows);
    const curveEval = await firstRows(PreferenceDataset.fromArrow(data.valid), recipe.curveEvalRows);
    const shape = demoModelConfig(recipe, presetConfig, tokenizer.vocabSize);
    const test = PreferenceDataset.fromArrow(data.valid);
    const testRows = Math.min(await test.countRows(), recipe.testRows ?? Infinity);
    const seeds = Array.from({ length: seedCount }, (_, i) => firstSeed + i);
    say(
      `sdpo demo: a ${shape.num_hidden_layers}-layer, ${shape.hidden_size}-wide decoder from scratch on ${sftTrain.numRows} re-drawn training examples ` +
        `an epoch${recipe.subsequences ? " (sub-sequence rows included)" : ""}${recipe.copyRows > 0 ? `, ${Math.round(recipe.copyRows * 100)} % of them copy rows` : ""}` +
        `${recipe.itemTokens ? `, one token per artist name${recipe.templateTokens ? " and per template phrase" : ""}${recipe.dropListSeparators ? ", none for the commas between them" : ""} (${tokenizer.vocabSize} ids; data in ${data.dir})` : ""}` +
        `${(recipe.sft.listSmoothing ?? 0) > 0 ? `, SFT labels smoothed toward the candidate list (${recipe.sft.listSmoothing})` : ""}` +
        `${(recipe.sft.historyUnlikelihood ?? 0) > 0 ? `, history items unlikely as answers (${recipe.sft.historyUnlikelihood})` : ""}, ${seeds.length} seed${seeds.length > 1 ? "s" : ""}, output in ${out}`
    );

    const timed = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
      const t0 = Date.now();
      try {
        return await work();
      } finally {
        seconds[label] = (seconds[label] ?? 0) + (Date.now() - t0) / 1000;
      }
    };
    /** `curves`: validation-loss curves during training (they need the file's K rejected responses). */
    const trainRun = (label: string, loss: LossName, options: DemoRecipe["sft"], model: Model, train: PreferenceSource, dir: string, logDir: string, curves = true): Promise<FitReport> =>
      trainDemoStage({ label, loss, options, model, train, curveEval: curves ? curveEval : undefined, dir, logDir, tokenizerFile: data.tokenizer, err: io.err, signal: abort.signal });
    /** The SFT stage (and the naming stage) on `nproc` data-parallel ranks, each a process of its own. */
    const trainSftOnRanks = async (seed: number, seedDir: string): Promise<void> => {
      const job: DemoSftJob = {
        train: data.train,
        valid: data.valid,
        tokenizer: data.tokenizer,
        recipe: { subsequences: recipe.subsequences, copyRows: recipe.copyRows, skipRows: recipe.skipRows, trainRows: recipe.trainRows, namingRows: recipe.namingRows, curveEvalRows: recipe.curveEvalRows },
        sft: { ...recipe.sft, seed },
        naming: recipe.naming ? { ...recipe.naming, seed } : undefined,
        shape,
        seed,
        device,
        dir: path.join(seedDir, "sft"),
        logDir: seedDir,
      };
      const rank = rankCommand ?? { command: process.execPath, args: [...process.execArgv, require.resolve("../demo-sft-rank")] };
      const env = localRankThreadsEnv({ ...process.env, [DEMO_SFT_JOB_VARIABLE]: JSON.stringify(job) }, nproc, maxThreads(), native().buildInfo().blasThreading);
      say(`sft: ${nproc} data-parallel ranks (processes), ${recipe.sft.batchSize! / nproc} of each batch's ${recipe.sft.batchSize} rows on each`);
      const result = await spawnLocalRanks(rank.command, rank.args, nproc, undefined, env, io.err === process.stderr ? undefined : io.err);
      if (abort.signal.aborted || result.status === 130) throw new Error("interrupted during sft training");
      if (result.status !== 0) throw new Error(`sft on ${nproc} data-parallel ranks failed: exit statuses ${result.statuses.join(", ")} (their messages are above)`);
    };
    const evaluateFolder = async (label: string, dir: string, seed: number): Promise<EvalResult> => {
      if (abort.signal.aborted) throw new Error("interrupted during evaluation");
      const model = await loadModel(dir, { device });
      const progress = createProgress(testRows, { label: `eval ${label}`, unit: "rows", stream: io.err });
      try {
        return await evaluate(model, test, {
          tokenizer,
          batchSize: recipe.evalBatchSize,
          maxNewTokens: recipe.maxNewTokens,
          maxRows: testRows,
          constrained: true,
          bootstrap: { seed },
          onProgress: (done) => progress.update(done),
        });
      } finally {
        progress.stop();
        disposeModel(model);
      }
    };
    /** Trains `loss` from the SFT folder `sftDir` into `dir`. */
    const fromSft = async (label: string, loss: LossName, options: DemoRecipe["sft"], sftDir: string, dir: string, logDir: string, curves = true): Promise<void> => {
      if (saved(dir)) return say(`${label}: kept from the earlier run in ${dir}`);
      const model = (await loadModel(sftDir, { device })) as unknown as Model;
      try {
        const train = recipe.answerNegatives ? new ModelAnswerNegatives(preferenceTrain, model, { eos: tokenizer.eosId, maxNewTokens: recipe.maxNewTokens }) : preferenceTrain;
        await trainRun(label, loss, options, model, train, dir, logDir, curves);
        if (train instanceof ModelAnswerNegatives) {
          const { rows, replaced, unlisted } = train.stats;
          say(`${label}: the model's own answer was a negative in ${replaced} of ${rows} rows (${unlisted} naming no listed candidate)`);
        }
      } finally {
        disposeModel(model);
      }
    };

    const perSeed: Record<string, EvalResult[]> = {};
    const record = (name: string, result: EvalResult) => (perSeed[name] ??= []).push(result);
    for (const seed of seeds) {
      const seedDir = seeds.length > 1 ? path.join(out, `seed-${seed}`) : out;
      const withSeed = (o: DemoRecipe["sft"]) => ({ ...o, seed });
      await timed("train sft", async () => {
        if (saved(path.join(seedDir, "sft"))) return say(`sft: kept from the earlier run in ${path.join(seedDir, "sft")}`);
        if (nproc > 1) return await trainSftOnRanks(seed, seedDir);
        const sft = createModel(shape, { device, seed }) as unknown as Model;
        try {
          await trainRun("sft", "sft", withSeed(recipe.sft), sft, sftTrain, path.join(seedDir, "sft"), seedDir);
          // The naming stage continues the same model and replaces the saved SFT folder.
          if (recipe.naming) await trainRun("sft-naming", "sft", withSeed(recipe.naming), sft, namingTrain, path.join(seedDir, "sft"), seedDir);
        } finally {
          disposeModel(sft);
        }
      });
      for (const loss of ["dpo", "sdpo"] as const) {
        await timed(`train ${loss}`, () => fromSft(loss, loss, withSeed(recipe[loss]), path.join(seedDir, "sft"), path.join(seedDir, loss), seedDir));
      }
      // A resumed demo keeps the models it finds; their logs may have been removed since.
      const preferenceLogs = (["dpo", "sdpo"] as const).map((m) => ({ label: LABELS[m], path: path.join(seedDir, "logs", `${m}.jsonl`) }));
      const missingLogs = preferenceLogs.filter((log) => !fs.existsSync(log.path));
      if (missingLogs.length > 0) say(`plots: ${missingLogs.map((log) => log.path).join(", ")} missing; dpo-vs-sdpo.svg not drawn`);
      else {
        plotTrainingCurves(preferenceLogs, path.join(seedDir, "plots", "dpo-vs-sdpo.svg"), {
          title: "DPO vs S-DPO from the SFT checkpoint",
          notes: [lossScaleNote(recipe.sdpo.negatives ?? 3)],
        });
      }
      for (const method of METHODS) record(method, await timed(`eval ${method}`, () => evaluateFolder(method, path.join(seedDir, method), seed)));
      for (const kind of recipe.baselines) {
        // The counting baselines do not depend on the seed: fitted and scored once, reused for every seed.
        if ((kind === "popularity" || kind === "cooccurrence") && perSeed[kind]) {
          record(kind, perSeed[kind][0]);
          continue;
        }
        record(kind, await timed(`baseline ${kind}`, () => runBaseline(kind, seed)));
      }
    }

    async function runBaseline(kind: BaselineKind, seed: number): Promise<EvalResult> {
      const baseline = await fitBaseline(kind, data.train, { seed, sasrec: { epochs: recipe.sasrecEpochs, device } });
      try {
        if (seeds.length > 1 || kind === "sasrec") await baseline.save(path.join(out, "baselines", seeds.length > 1 ? `${kind}-seed-${seed}` : kind), { overwrite: true });
        const evaluation = await evaluateBaseline(baseline, data.valid, { maxRows: testRows });
        return baselineEvalResult(evaluation, { seed });
      } finally {
        baseline.dispose?.();
      }
    }

    let negatives: DemoResult["negatives"];
    if (args.negativesFigure) {
      negatives = [];
      const sftDir = path.join(seeds.length > 1 ? path.join(out, `seed-${seeds[0]}`) : out, "sft");
      for (const k of recipe.negativesFigure) {
        const dir = path.join(out, "negatives", `k${k}`);
        // No validation curves here: the held-out file has fewer fixed rejected responses than the largest K.
        await timed("negatives figure", () => fromSft(`sdpo-k${k}`, "sdpo", { ...recipe.sdpo, negatives: k, seed: seeds[0] }, sftDir, dir, path.join(out, "negatives"), false));
        negatives.push({ k, result: await timed("negatives figure", () => evaluateFolder(`K=${k}`, dir, seeds[0])) });
      }
      fs.mkdirSync(path.join(out, "plots"), { recursive: true });
      fs.writeFileSync(path.join(out, "plots", "negatives.svg"), negativesFigureSvg(negatives));
    }
    seconds.total = (Date.now() - started) / 1000;

    const { results, comparisons, lines } = summarizeDemo(perSeed, [...METHODS, ...recipe.baselines], seeds, testRows);
    if (negatives) {
      lines.push("", "S-DPO with K negatives from the same SFT checkpoint (K = 1 is DPO):");
      lines.push(formatMetricsTable(negatives.map((n) => ({ method: `K=${n.k}`, result: n.result }))));
    }
    io.out.write(`\n${lines.join("\n")}\n\n`);
    io.out.write(`held-out: ${testRows} rows of ${path.relative(process.cwd(), data.valid) || data.valid}; total ${formatDuration(seconds.total)}\n`);
    io.out.write(`models: ${path.join(out, seeds.length > 1 ? "seed-*" : "", "{sft,dpo,sdpo}")}; plots: ${path.join(out, seeds.length > 1 ? "seed-*" : "", "plots")}\n`);
    fs.writeFileSync(path.join(out, "results.md"), lines.join("\n") + "\n");
    fs.writeFileSync(
      path.join(out, "results.json"),
      JSON.stringify({ recipe: { ...recipe }, seeds, nproc, testRows, seconds, results, comparisons, negatives, perSeed }, null, 2) + "\n"
    );
    return { results, perSeed, comparisons, negatives, seconds, out };
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
}

/** HR@1, rank HR@1 and NDCG@5 against K, each with its bootstrap interval as a dashed band. */
function negativesFigureSvg(points: { k: number; result: EvalResult }[]): string {
  const series = (metric: MetricName, name: string, color: string) => [
    { name, color, points: points.map((p) => [p.k, p.result[metric]] as [number, number]) },
    { name: `${name} 95%`, color, dashed: true, opacity: 0.5, legend: false, points: points.map((p) => [p.k, p.result.intervals[metric][0]] as [number, number]) },
    { name: `${name} 95% hi`, color, dashed: true, opacity: 0.5, legend: false, points: points.map((p) => [p.k, p.result.intervals[metric][1]] as [number, number]) },
  ];
  return lineChartSvg(
    [
      { title: "HR@1 (free generation) and constrained HR@1", xLabel: "negatives K", yLabel: "HR@1", series: [...series("hr1", "HR@1", PALETTE[0]), ...series("constrainedHr1", "constrained HR@1", PALETTE[1])] },
      { title: "Ranking", xLabel: "negatives K", yLabel: "metric", series: [...series("rankHr1", "rank HR@1", PALETTE[2]), ...series("ndcg5", "NDCG@5", PALETTE[3])] },
    ],
    { title: "S-DPO against the number of negatives (K = 1 is DPO), same SFT checkpoint" }
  );
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: "demo",
  describe: "Train SFT, DPO and S-DPO on the shipped LastFM sample and compare them (HR@1, ValidRatio, HR@3, NDCG@3, ...)",
  builder: (y) =>
    y
      .option("out", { type: "string", default: "sdpo-demo", describe: "output folder (model folders sft/, dpo/, sdpo/, logs/, plots/)" })
      .option("quick", { type: "boolean", describe: "a smoke run of under a minute (128 training rows, one epoch each, 32 test rows)" })
      .option("full", { type: "boolean", describe: "the longer recipe: 24 SFT epochs instead of 15 (about 1.6 times the time; higher ValidRatio)" })
      .option("overwrite", { type: "boolean", describe: "write into a non-empty folder not made by the demo (only the demo's own entries are replaced)" })
      .option("device", { type: "string", default: "cpu", describe: "cpu, cuda or cuda:N" })
      .option("seeds", { ...integer("seeds", "train and evaluate the recipe with N seeds; the table pools them (mean, interval over rows)", { min: 1, max: 100 }), default: 1 })
      .option("seed", { ...integer("seed", "the first seed (the recipe's is 42); demos with other first seeds can be pooled with bench/demo/pool.js", { min: 0, max: 2 ** 31 - 1 }) })
      .option("nproc", integer("nproc", "SFT on N data-parallel CPU processes (default: the recipe's, 1, at most one per core; 1 on CUDA)", { min: 1, max: 64 }))
      .option("resume", { type: "boolean", describe: "continue an interrupted demo in --out: models it already saved are evaluated, not trained again" })
      .option("negatives-figure", { type: "boolean", describe: "also train S-DPO with K = 1, 3, 7, 15 from the first seed's SFT checkpoint (plots/negatives.svg)" }) as never,
  handler: async (args) => {
    await runDemo(args);
  },
};
