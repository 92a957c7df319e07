/**
 * NAPO and RoDPO against S-DPO on the shipped LastFM sample, with the current demo recipe (src/cli/demo-recipe.ts)
 * and several seeds. Per seed: SFT as `sdpo demo` trains it (re-drawn sub-sequence rows, ResampledDataset), then
 * every run from that SFT checkpoint with equal budgets (the same re-drawn preference rows, one epoch, batch 16,
 * K = 3, the recipe's S-DPO lr / beta / warm-up, frozen-copy reference, no evaluation during training):
 *
 *   sdpo          S-DPO, the data's negatives (the demo's S-DPO run; the reference point of every comparison)
 *   napo          NAPO with in-batch sharing (cap 4) + a dynamic margin (gamma 0.5, tau 1, reference confidences):
 *                 the paper's recipe
 *   rodpo         RoDPO: K drawn from the 8 candidates the policy scores highest (refreshed every 50 steps)
 *   napo-inbatch  NAPO with in-batch negative sharing (at most 4 shared per row), no margin
 *   napo-fixed    NAPO with a fixed reward margin (gamma 0.5), no sharing
 *   dpo           DPO (K = 1; the recipe's DPO settings), for RoDPO's "over DPO" claim
 *   random        K random candidates (the paper's S-DPO baseline; with re-drawn rows the same as sdpo)
 *   hard          the top K of the RoDPO pool (hard negatives)
 *
 * Each run is evaluated on valid.arrow (HR@1 / ValidRatio by generation, the ranking's HR@k / NDCG@k, constrained
 * HR@1) with the popularity-bias metrics of its ranking top-1 (popularity counted on train.arrow). The tables pool
 * the seeds as `sdpo demo --seeds` does (mean over seeds, 95% bootstrap interval over rows of the seed-averaged
 * per-row values), the paired bootstrap compares each run with S-DPO on the same rows, and the step time of each
 * run is set against S-DPO's of the same seed (same process, one after the other).
 *
 *   npm run build:ts && npm run bench:variants -- [flags]     (or: node dist/bench/variants.js [flags])
 *     --seeds 42,43,44          seeds (SFT initialisation and shuffling, preference shuffling, bootstrap)
 *     --sft DIR[,DIR,...]       reuse SFT checkpoints, one per seed in --seeds order (e.g. `sdpo demo --seeds 3`'s
 *                               <out>/seed-N/sft), instead of training them (10-20 min each on 2 shared cores)
 *     --sft-epochs X            SFT epochs when training (default the recipe's, 5; fractional for smoke runs)
 *     --preference-rows N       re-drawn rows per preference run (default the recipe's, 8192)
 *     --runs a,b,...            which runs, in this order (default sdpo,napo,rodpo,napo-inbatch,napo-fixed,dpo,random,hard);
 *                               sdpo is always run (every comparison is against it)
 *     --test-rows N             rows of valid.arrow (default all 267)
 *     --no-constrained          skip constrained decoding (constrained HR@1)
 *     --threads N               libtorch threads (default 2)
 *     --out DIR                 where trained SFT models and progress.json (the evaluations so far, for --merge)
 *                               go (default a temp folder)
 *     --results DIR             where results-<date>.md / .json are written (default bench/variants; "-": nowhere)
 *     --timing-steps N          no evaluation: time N optimizer steps of every run from the first --sft folder,
 *                               in interleaved rounds (--timing-rounds, default 3) in one process, and write
 *                               timing.json to --out; the fair step-time ratio where runs of a seed were far apart
 *     --timing FILE             with --merge: add the step-time ratios of that timing.json (median over rounds)
 *     --merge A.json,B.json     no training: pool the per-seed evaluations of earlier runs' JSON files (e.g. one
 *                               process per seed, run side by side) into one report; step-time ratios stay per
 *                               process (each run against S-DPO of its own process and seed)
 *     --help
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { itemTokenOptions, DEMO_RECIPE, demoModelConfig } from "../src/cli/demo-recipe";
import { firstRows, itemTokenData, packageRoot, shippedLastfm, type ShippedData } from "../src/cli/demo-data";
import type { PreferenceBatch } from "../src/data/batch";
import { PreferenceDataset } from "../src/data/dataset";
import { ResampledDataset } from "../src/data/resample";
import { Tokenizer } from "../src/data/tokenizer";
import { bootstrapMeans, pairedBootstrap, type Interval, type PairedEstimate } from "../src/eval/bootstrap";
import { evaluate, type EvalResult } from "../src/eval/evaluate";
import type { MetricName } from "../src/eval/outcomes";
import { readItemPopularity, type ItemPopularity } from "../src/eval/popularity-bias";
import { compareSeeds, poolSeeds, seedAveragedRows, type PooledResult } from "../src/eval/seeds";
import { formatMetricCell } from "../src/eval/table";
import { createModel, loadModel, saveModel } from "../src/model/checkpoint";
import { presetConfig } from "../src/model/config";
import type { Model } from "../src/model/model";
import { native } from "../src/native";
import { createTrainer } from "../src/trainers/registry";
import type { LossName, TrainerOptions } from "../src/trainers/types";

const HELP = (fs.readFileSync(__filename, "utf8").match(/\/\*\*([\s\S]*?)\*\//)?.[1] ?? "").replace(/^ \* ?/gm, "");

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

interface Run {
  key: string;
  label: string;
  loss: LossName;
  options: Partial<TrainerOptions>;
}

const K = DEMO_RECIPE.sdpo.negatives ?? 3;
const RUNS: Run[] = [
  { key: "sdpo", label: "S-DPO (K=3)", loss: "sdpo", options: {} },
  {
    key: "napo",
    label: "NAPO in-batch + dynamic margin",
    loss: "napo",
    options: { inBatchNegatives: { cap: 4 }, rewardMargin: { mode: "dynamic", gamma: 0.5, tau: 1, confidence: "reference" } },
  },
  { key: "rodpo", label: "RoDPO pool (top 8, refresh 50)", loss: "sdpo", options: { negativeSampling: "pool", poolSize: 8, poolRefreshSteps: 50 } },
  { key: "napo-inbatch", label: "NAPO in-batch (cap 4), no margin", loss: "napo", options: { inBatchNegatives: { cap: 4 }, rewardMargin: { mode: "none" } } },
  { key: "napo-fixed", label: "NAPO fixed margin (0.5)", loss: "napo", options: { rewardMargin: { mode: "fixed", gamma: 0.5 } } },
  { key: "dpo", label: "DPO (K=1)", loss: "dpo", options: {} },
  { key: "random", label: "S-DPO, random negatives", loss: "sdpo", options: { negativeSampling: "random" } },
  { key: "hard", label: "S-DPO, hard negatives (top 3 of 8)", loss: "sdpo", options: { negativeSampling: "hard", poolSize: 8, poolRefreshSteps: 50 } },
];

/** The comparisons with S-DPO: the metrics of the accuracy table and the bias of the ranking top-1. */
const COMPARED: MetricName[] = ["hr1", "rankHr1", "ndcg5", "constrainedHr1"];

interface Timing {
  steps: number;
  seconds: number;
  msPerStep: number;
  finalLoss: number;
}

/** Popularity bias of the ranking top-1 pooled over seeds (as poolSeeds pools the metrics). */
interface PooledBias {
  headShare: number;
  meanPopularity: number;
  meanPopularityRank: number;
  /** Mean over seeds of distinct top-1 items / catalogue (no interval, see popularity-bias.ts). */
  coverage: number;
  hr1Head: number;
  hr1Tail: number;
  intervals: Record<"headShare" | "meanPopularity" | "meanPopularityRank" | "hr1Head" | "hr1Tail", Interval>;
  headRows: number;
  tailRows: number;
}

/** Per-row columns of the ranking top-1's bias, averaged over seeds (same rows in every seed). */
function biasRows(results: readonly EvalResult[], popularity: ItemPopularity) {
  seedAveragedRows(results, "rankHr1"); // checks the seeds cover the same rows
  const avg = (f: (r: EvalResult, j: number) => number) => results[0].perRow.rowIds.map((_, j) => results.reduce((s, r) => s + f(r, j), 0) / results.length);
  const top = (r: EvalResult, j: number) => {
    const item = r.perRow.rankTopItem?.[j];
    if (item === undefined || item < 0) throw new RangeError("variants: an evaluation holds no ranking top-1 item");
    return item;
  };
  const targets = results[0].perRow.targetItem;
  if (!targets) throw new RangeError("variants: an evaluation holds no target items");
  return {
    headShare: avg((r, j) => popularity.head[top(r, j)]),
    meanPopularity: avg((r, j) => popularity.counts[top(r, j)]),
    meanPopularityRank: avg((r, j) => popularity.ranks[top(r, j)]),
    hit: avg((r, j) => ((r.perRow.rank as number[])[j] === 1 ? 1 : 0)),
    targetHead: targets.map((item) => popularity.head[item] === 1),
  };
}

function poolBias(results: readonly EvalResult[], popularity: ItemPopularity, seed: number): PooledBias {
  const rows = biasRows(results, popularity);
  const all = bootstrapMeans({ headShare: rows.headShare, meanPopularity: rows.meanPopularity, meanPopularityRank: rows.meanPopularityRank }, { seed });
  const headHits = rows.hit.filter((_, j) => rows.targetHead[j]);
  const tailHits = rows.hit.filter((_, j) => !rows.targetHead[j]);
  const head = bootstrapMeans({ v: headHits }, { seed }).v;
  const tail = bootstrapMeans({ v: tailHits }, { seed }).v;
  const coverage =
    results.reduce((s, r) => s + new Set(r.perRow.rankTopItem as number[]).size / popularity.counts.length, 0) / results.length;
  return {
    headShare: all.headShare.mean,
    meanPopularity: all.meanPopularity.mean,
    meanPopularityRank: all.meanPopularityRank.mean,
    coverage,
    hr1Head: head.mean,
    hr1Tail: tail.mean,
    intervals: {
      headShare: all.headShare.interval,
      meanPopularity: all.meanPopularity.interval,
      meanPopularityRank: all.meanPopularityRank.interval,
      hr1Head: head.interval,
      hr1Tail: tail.interval,
    },
    headRows: headHits.length,
    tailRows: tailHits.length,
  };
}

const sign = (x: number, digits = 4) => (x >= 0 ? "+" : "") + x.toFixed(digits);
const diffCell = (e: PairedEstimate | undefined, digits = 4, intervalDigits = 2) =>
  e ? `${sign(e.meanDiff, digits)} [${e.interval[0].toFixed(intervalDigits)}, ${e.interval[1].toFixed(intervalDigits)}] P(>0) ${e.probabilityPositive.toFixed(2)}` : "-";
const mdTable = (header: string[], body: string[][]) =>
  [`| ${header.join(" | ")} |`, `| ${header.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`, ...body.map((r) => `| ${r.join(" | ")} |`)].join("\n");

async function main(): Promise<void> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    process.stdout.write(HELP.trim() + "\n");
    return;
  }
  const threads = Number(arg("threads", "2"));
  native().setNumThreads(threads);
  const seeds = arg("seeds", "42,43,44").split(",").map(Number);
  if (seeds.some((s) => !Number.isInteger(s))) throw new RangeError(`--seeds: integers separated by commas, got ${arg("seeds", "")}`);
  const sftDirs = arg("sft", "") === "" ? [] : arg("sft", "").split(",").map((d) => path.resolve(d));
  if (sftDirs.length > 0 && sftDirs.length !== seeds.length) throw new RangeError(`--sft: ${sftDirs.length} folders for ${seeds.length} seeds (one per seed, in --seeds order)`);
  const sftEpochs = Number(arg("sft-epochs", String(DEMO_RECIPE.sft.numTrainEpochs ?? 5)));
  const preferenceRows = Number(arg("preference-rows", String(DEMO_RECIPE.preferenceRows ?? 8192)));
  const testRowsFlag = arg("test-rows", "");
  const constrained = !process.argv.includes("--no-constrained");
  const runKeys = ["sdpo", ...arg("runs", RUNS.map((r) => r.key).join(",")).split(",").filter((k) => k !== "sdpo")];
  for (const key of runKeys) if (!RUNS.some((r) => r.key === key)) throw new RangeError(`--runs: unknown run '${key}' (known: ${RUNS.map((r) => r.key).join(", ")})`);
  const runs = runKeys.map((k) => RUNS.find((r) => r.key === k) as Run);
  const resultsDir = arg("results", path.join(packageRoot(), "bench", "variants"));
  const timingSteps = Number(arg("timing-steps", "0"));
  if (timingSteps > 0) {
    if (sftDirs.length === 0) throw new RangeError("--timing-steps needs --sft");
    const data = await recipeData(fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-variants-data-")));
    const tokenizer = Tokenizer.fromFile(data.tokenizer);
    const resampled = await ResampledDataset.open(data.train, tokenizer, { subsequences: DEMO_RECIPE.subsequences, copyRows: DEMO_RECIPE.copyRows });
    const train = await firstRows(resampled, preferenceRows);
    const rounds = Number(arg("timing-rounds", "3"));
    const msPerStep: Record<string, number[]> = {};
    for (let round = 0; round < rounds; round++) {
      for (const run of runs) {
        const recipe = run.loss === "dpo" ? DEMO_RECIPE.dpo : DEMO_RECIPE.sdpo;
        const model = (await loadModel(sftDirs[0])) as unknown as Model;
        const trainer = createTrainer(run.loss, { ...recipe, negatives: run.loss === "dpo" ? 1 : K, seed: seeds[0], evalSteps: 0, referenceMode: "frozen-copy", maxSteps: timingSteps, ...run.options, model });
        const pooled = run.options.negativeSampling === "pool" || run.options.negativeSampling === "hard";
        const report = await trainer.fit(pooled ? perExampleRows(train) : train);
        trainer.dispose();
        model.native.dispose();
        (msPerStep[run.key] ??= []).push((report.seconds * 1000) / report.steps);
        process.stderr.write(`timing round ${round + 1} ${run.key}: ${report.steps} steps, ${((report.seconds * 1000) / report.steps).toFixed(0)} ms/step\n`);
      }
    }
    const out = path.resolve(arg("out", "") || fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-variants-")));
    fs.mkdirSync(out, { recursive: true });
    const ratios = Object.fromEntries(runs.map((r) => [r.key, msPerStep[r.key].map((ms, i) => ms / msPerStep.sdpo[i])]));
    fs.writeFileSync(path.join(out, "timing.json"), JSON.stringify({ argv: process.argv.slice(2), steps: timingSteps, rounds, threads, msPerStep, ratios }, null, 1) + "\n");
    process.stdout.write(JSON.stringify({ msPerStep, ratios }) + "\n");
    return;
  }
  const merge = arg("merge", "");
  if (merge !== "") {
    const parts = merge.split(",").map((f) => JSON.parse(fs.readFileSync(f, "utf8")) as Collected);
    const first = parts[0];
    const joined: Collected = {
      ...first,
      argv: process.argv.slice(2),
      merged: parts.map((p) => p.argv.join(" ")),
      seeds: parts.flatMap((p) => p.seeds),
      sftDirs: parts.flatMap((p) => p.sftDirs),
      sftSeconds: parts.flatMap((p) => p.sftSeconds),
      totalSeconds: Math.max(...parts.map((p) => p.totalSeconds)),
      perSeed: {},
      timing: {},
    };
    // The runs every file has (a file may be a partial run's progress.json): sdpo and sft first.
    joined.runs = first.runs.filter((k) => parts.every((p) => p.perSeed[k]?.length === p.seeds.length));
    for (const p of parts) {
      if (p.preferenceRows !== first.preferenceRows || p.testRows !== first.testRows || p.constrained !== first.constrained) {
        throw new RangeError("--merge: the files differ in preference rows, test rows or constrained decoding");
      }
      for (const k of ["sft", ...joined.runs]) {
        (joined.perSeed[k] ??= []).push(...p.perSeed[k].map(revive));
        if (k !== "sft") (joined.timing[k] ??= []).push(...p.timing[k]);
      }
    }
    if (!joined.runs.includes("sdpo")) throw new RangeError("--merge: some file has no S-DPO run for every seed");
    if (arg("timing", "") !== "") joined.interleaved = JSON.parse(fs.readFileSync(arg("timing", ""), "utf8")) as Interleaved;
    return report(joined, resultsDir, await readItemPopularity(shippedLastfm().train));
  }
  const out = path.resolve(arg("out", "") || fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-variants-")));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const started = Date.now();

  const data = await recipeData(out);
  const tokenizer = Tokenizer.fromFile(data.tokenizer);
  const resampled = await ResampledDataset.open(data.train, tokenizer, { subsequences: DEMO_RECIPE.subsequences, copyRows: DEMO_RECIPE.copyRows });
  const sftTrain = await firstRows(resampled, DEMO_RECIPE.trainRows);
  const preferenceTrain = await firstRows(resampled, preferenceRows);
  const test = PreferenceDataset.fromArrow(data.valid);
  const testRows = Math.min(await test.countRows(), testRowsFlag === "" ? Infinity : Number(testRowsFlag));
  const popularity = await readItemPopularity(data.train);
  const shape = demoModelConfig(DEMO_RECIPE, presetConfig, tokenizer.vocabSize);

  const perSeed: Record<string, EvalResult[]> = {};
  const timing: Record<string, Timing[]> = {};
  const sftSeconds: number[] = [];
  const evalOptions = (seed: number) => ({
    tokenizer,
    batchSize: DEMO_RECIPE.evalBatchSize,
    maxNewTokens: DEMO_RECIPE.maxNewTokens,
    maxRows: testRows,
    constrained,
    bootstrap: { seed },
    popularityFrom: popularity,
  });

  for (const [s, seed] of seeds.entries()) {
    // 1. The SFT checkpoint every run of this seed starts from: the demo's SFT, or a reused one.
    let sftDir = sftDirs[s];
    if (!sftDir) {
      sftDir = path.join(out, `seed-${seed}`, "sft");
      const model = createModel(shape, { seed }) as unknown as Model;
      const trainer = createTrainer("sft", { ...DEMO_RECIPE.sft, numTrainEpochs: sftEpochs, seed, model });
      const report = await trainer.fit(sftTrain);
      trainer.dispose();
      await saveModel(model, sftDir, { overwrite: true });
      fs.copyFileSync(data.tokenizer, path.join(sftDir, "tokenizer.json"));
      model.native.dispose();
      sftSeconds.push(report.seconds);
      log(`seed ${seed} sft: ${report.steps} steps, ${report.seconds.toFixed(0)} s, final loss ${report.finalLoss.toFixed(3)} -> ${sftDir}`);
    }
    {
      const sft = await loadModel(sftDir);
      const t0 = Date.now();
      (perSeed.sft ??= []).push(await evaluate(sft, test, evalOptions(seed)));
      sft.native.dispose();
      log(`seed ${seed} sft: evaluated in ${((Date.now() - t0) / 1000).toFixed(0)} s (${sftDir})`);
    }

    // 2. The preference runs from it, equal budgets: the same re-drawn rows (same seed), epoch, batch size, lr.
    for (const run of runs) {
      const recipe = run.loss === "dpo" ? DEMO_RECIPE.dpo : DEMO_RECIPE.sdpo;
      const model = (await loadModel(sftDir)) as unknown as Model;
      const trainer = createTrainer(run.loss, { ...recipe, negatives: run.loss === "dpo" ? 1 : K, seed, evalSteps: 0, referenceMode: "frozen-copy", ...run.options, model });
      const pooled = run.options.negativeSampling === "pool" || run.options.negativeSampling === "hard";
      const report = await trainer.fit(pooled ? perExampleRows(preferenceTrain) : preferenceTrain);
      trainer.dispose();
      const t0 = Date.now();
      const result = await evaluate(model, test, evalOptions(seed));
      model.native.dispose();
      (perSeed[run.key] ??= []).push(result);
      (timing[run.key] ??= []).push({ steps: report.steps, seconds: report.seconds, msPerStep: (report.seconds * 1000) / report.steps, finalLoss: report.finalLoss });
      fs.mkdirSync(out, { recursive: true });
      fs.writeFileSync(path.join(out, "progress.json"), JSON.stringify(collect(), (_, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v)) + "\n");
      log(
        `seed ${seed} ${run.key}: ${report.steps} steps in ${report.seconds.toFixed(0)} s (${((report.seconds * 1000) / report.steps).toFixed(0)} ms/step), ` +
          `final loss ${report.finalLoss.toFixed(3)}; eval ${((Date.now() - t0) / 1000).toFixed(0)} s: HR@1 ${result.hr1.toFixed(4)}, rank HR@1 ${result.rankHr1.toFixed(4)}, NDCG@5 ${result.ndcg5.toFixed(4)}`
      );
    }
  }

  return report(collect(), resultsDir, popularity);

  function collect(): Collected {
    return {
      argv: process.argv.slice(2),
      seeds,
      sftDirs: sftDirs.length ? sftDirs : seeds.map((s) => path.join(out, `seed-${s}`, "sft")),
      sftReused: sftDirs.length > 0,
      sftEpochs,
      sftRows: sftTrain.numRows,
      sftSeconds,
      preferenceRows,
      testRows,
      constrained,
      threads,
      totalSeconds: (Date.now() - started) / 1000,
      runs: runs.map((r) => r.key),
      perSeed,
      timing,
    };
  }
}

/**
 * The pool of RoDPO / hard negatives is kept per `batch.rows` entry, and re-drawn rows carry the file row they
 * come from: the sub-sequence examples of one file row (about 7 of 2,500 rows' worth in 17,576 examples) share
 * it, each with its own candidate list, so a pool built for one would be sampled for another whose candidates
 * lack its items (samplePoolNegatives refuses that). Numbering the examples of each pass instead keys one pool
 * per example: in one epoch each is built, from the current policy's scores, when its batch comes up.
 */
function perExampleRows<S extends { numRows: number; countRows(): Promise<number>; batches(request: never): AsyncIterable<PreferenceBatch> }>(source: S): S {
  return {
    ...source,
    async *batches(request: never) {
      let next = 0;
      for await (const batch of source.batches(request)) yield { ...batch, rows: Int32Array.from(batch.rows, () => next++) };
    },
  };
}

interface Interleaved {
  argv: string[];
  steps: number;
  rounds: number;
  msPerStep: Record<string, number[]>;
  ratios: Record<string, number[]>;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** What the training half gathers (and the JSON keeps, so that --merge can pool several processes' seeds). */
interface Collected {
  argv: string[];
  /** --merge --timing: step times measured in interleaved rounds (--timing-steps). */
  interleaved?: Interleaved;
  /** --merge: the command lines of the merged processes. */
  merged?: string[];
  seeds: number[];
  sftDirs: string[];
  sftReused: boolean;
  sftEpochs: number;
  sftRows: number;
  sftSeconds: number[];
  preferenceRows: number;
  testRows: number;
  constrained: boolean;
  threads: number;
  totalSeconds: number;
  runs: string[];
  perSeed: Record<string, EvalResult[]>;
  timing: Record<string, Timing[]>;
}

/** An evaluation read back from JSON: non-finite numbers were written as null. */
function revive(r: EvalResult): EvalResult {
  const out = { ...r } as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(out)) if (v === null) out[k] = NaN;
  return out as unknown as EvalResult;
}

/** Pooling over seeds, paired comparisons with S-DPO, step-time ratios against S-DPO of the same seed; prints and writes. */
function report(c: Collected, resultsDir: string, popularity: ItemPopularity): void {
  const { seeds, perSeed, timing, constrained, threads, preferenceRows, testRows, sftEpochs, sftDirs } = c;
  const runs = c.runs.map((k) => RUNS.find((r) => r.key === k) as Run);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const bootstrapSeed = seeds[0];
  const names = ["sft", ...runs.map((r) => r.key)];
  const label = (key: string) => (key === "sft" ? "SFT (start of every run)" : (RUNS.find((r) => r.key === key) as Run).label);
  const pooled: Record<string, PooledResult> = {};
  const bias: Record<string, PooledBias> = {};
  for (const name of names) {
    pooled[name] = poolSeeds(perSeed[name], { seed: bootstrapSeed });
    bias[name] = poolBias(perSeed[name], popularity, bootstrapSeed);
  }
  // Step time: from interleaved rounds where measured (--timing), else each run against S-DPO of its seed.
  const interleavedRatio: Record<string, { median: number; rounds: number[]; msPerStep: number }> = {};
  if (c.interleaved) for (const [k, r] of Object.entries(c.interleaved.ratios)) interleavedRatio[k] = { median: median(r), rounds: r, msPerStep: median(c.interleaved.msPerStep[k]) };
  const ratio: Record<string, { mean: number; perSeed: number[] }> = {};
  for (const run of runs) {
    const r = timing[run.key].map((t, i) => t.msPerStep / timing.sdpo[i].msPerStep);
    ratio[run.key] = { mean: r.reduce((a, b) => a + b, 0) / r.length, perSeed: r };
  }
  const comparisons: Record<string, Record<string, PairedEstimate>> = {};
  const sdpoBias = biasRows(perSeed.sdpo, popularity);
  for (const name of names.filter((n) => n !== "sdpo")) {
    const c: Record<string, PairedEstimate> = {};
    for (const m of COMPARED) if (Number.isFinite(pooled[name][m]) && Number.isFinite(pooled.sdpo[m])) c[m] = compareSeeds(perSeed[name], perSeed.sdpo, m, { seed: bootstrapSeed });
    const b = biasRows(perSeed[name], popularity);
    c.headShare = pairedBootstrap(b.headShare, sdpoBias.headShare, { seed: bootstrapSeed });
    c.meanPopularity = pairedBootstrap(b.meanPopularity, sdpoBias.meanPopularity, { seed: bootstrapSeed });
    comparisons[name] = c;
  }

  const cell = (name: string, m: MetricName) => formatMetricCell(pooled[name][m], pooled[name].intervals?.[m]);
  const accuracy = mdTable(
    ["method", "HR@1", "ValidRatio", "rank HR@1", "NDCG@5", ...(constrained ? ["constrained HR@1"] : []), "head share (rank top-1)", "ms/step", "step time / S-DPO", ...(c.interleaved ? ["step time / S-DPO, interleaved"] : [])],
    names.map((name) => {
      const t = timing[name];
      const ms = t ? t.reduce((s, x) => s + x.msPerStep, 0) / t.length : NaN;
      return [
        label(name),
        cell(name, "hr1"),
        cell(name, "validRatio"),
        cell(name, "rankHr1"),
        cell(name, "ndcg5"),
        ...(constrained ? [cell(name, "constrainedHr1")] : []),
        formatMetricCell(bias[name].headShare, bias[name].intervals.headShare, 3),
        Number.isFinite(ms) ? ms.toFixed(0) : "-",
        ratio[name] ? `${ratio[name].mean.toFixed(2)}x` : "-",
        ...(c.interleaved ? [interleavedRatio[name] ? `${interleavedRatio[name].median.toFixed(2)}x (${interleavedRatio[name].msPerStep.toFixed(0)} ms)` : "-"] : []),
      ];
    })
  );
  const biasTable = mdTable(
    ["method", "head share", "coverage", "ARP (count)", "popularity rank", "rank HR@1 head", "rank HR@1 tail"],
    names.map((name) => {
      const b = bias[name];
      return [
        label(name),
        formatMetricCell(b.headShare, b.intervals.headShare, 3),
        b.coverage.toFixed(3),
        formatMetricCell(b.meanPopularity, b.intervals.meanPopularity, 1, 1),
        formatMetricCell(b.meanPopularityRank, b.intervals.meanPopularityRank, 0, 0),
        formatMetricCell(b.hr1Head, b.intervals.hr1Head, 3),
        formatMetricCell(b.hr1Tail, b.intervals.hr1Tail, 3),
      ];
    })
  );
  const compared = [...COMPARED.filter((m) => m !== "constrainedHr1" || constrained), "headShare", "meanPopularity"];
  const compareTable = mdTable(
    ["minus S-DPO", ...compared.map((m) => (m === "meanPopularity" ? "ARP" : m === "headShare" ? "head share" : m))],
    names.filter((n) => n !== "sdpo").map((name) => [label(name), ...compared.map((m) => diffCell(comparisons[name][m], m === "meanPopularity" ? 2 : 4, m === "meanPopularity" ? 1 : 2))])
  );
  const perSeedTable = mdTable(
    ["method", ...seeds.map((s) => `seed ${s}: HR@1 / rank HR@1 / NDCG@5 / ms per step`)],
    names.map((name) => [
      label(name),
      ...seeds.map((_, i) => {
        const r = perSeed[name][i];
        const t = timing[name]?.[i];
        return `${r.hr1.toFixed(3)} / ${r.rankHr1.toFixed(3)} / ${r.ndcg5.toFixed(3)} / ${t ? t.msPerStep.toFixed(0) : "-"}`;
      }),
    ])
  );
  const totalSeconds = c.totalSeconds;
  const date = new Date().toISOString().slice(0, 10);
  const { headItems, counts } = popularity;
  const md = [
    `# Variants against S-DPO, ${date}`,
    "",
    `\`node dist/bench/variants.js ${c.argv.join(" ")}\` (bench/variants.ts), ${threads} libtorch thread(s), ${os.cpus().length} CPU cores` +
      ` (load average at the end ${os.loadavg().map((l) => l.toFixed(1)).join(", ")}); ${c.merged ? "longest process" : "total"} ${(totalSeconds / 60).toFixed(1)} min.` +
      (c.merged ? ` Merged from processes run side by side: ${c.merged.map((a) => `\`${a}\``).join("; ")}.` : ""),
    "",
    `Seeds ${seeds.join(", ")}. Per seed: the demo recipe's SFT (tiny preset from scratch, ${sftEpochs} epochs of ${c.sftRows} re-drawn sub-sequence rows, ` +
      `batch ${DEMO_RECIPE.sft.batchSize}, lr ${DEMO_RECIPE.sft.learningRate})${c.sftReused ? ` from ${sftDirs.join(", ")}` : ""}; then every run from that ` +
      `checkpoint with equal budgets: ${preferenceRows} re-drawn rows (the same rows for every run of a seed), 1 epoch, batch ${DEMO_RECIPE.sdpo.batchSize}, ` +
      `K = ${K} (DPO: 1), lr ${DEMO_RECIPE.sdpo.learningRate}, beta ${DEMO_RECIPE.sdpo.beta}, warm-up ${DEMO_RECIPE.sdpo.warmupRatio}, frozen-copy reference.`,
    `Test: ${testRows} rows of valid.arrow. Each value is the mean over the seeds, [95% bootstrap interval over rows] of the seed-averaged per-row values ` +
      `(as \`sdpo demo --seeds\`). Popularity bias of the ranking's top-1 item, popularity counted on train.arrow (${popularity.rows} rows): head = the ${headItems} ` +
      `most popular of ${counts.length} items. ms/step: training only, mean over seeds; step time / S-DPO: mean over seeds of the run's ms/step over S-DPO's ` +
      `of the same seed, measured in the same process.` +
      (c.interleaved
        ? ` Step time / S-DPO, interleaved: ${c.interleaved.rounds} rounds of ${c.interleaved.steps} steps of every run in turn in one process (\`${c.interleaved.argv.join(" ")}\`), the median of each round's ratio to S-DPO's, and the median ms/step.`
        : ""),
    "",
    "## Accuracy, bias and cost",
    "",
    accuracy,
    "",
    "## Popularity bias of the ranking top-1",
    "",
    biasTable,
    "",
    "coverage: distinct top-1 items / catalogue, mean over seeds (no interval); ARP: mean training count of the top-1 item; popularity rank: 1 = most popular; " +
      `rank HR@1 head / tail: over the ${bias.sdpo.headRows} / ${bias.sdpo.tailRows} rows whose target is a head / tail item.`,
    "",
    "## Paired against S-DPO (same rows; difference [95% interval], P(>0) = share of resamples with a positive difference)",
    "",
    compareTable,
    "",
    "## Per seed",
    "",
    perSeedTable,
    "",
  ].join("\n");
  process.stdout.write(`\n${md}\n`);
  const json = {
    date,
    ...c,
    recipe: { sft: DEMO_RECIPE.sft, sdpo: DEMO_RECIPE.sdpo, dpo: DEMO_RECIPE.dpo },
    runOptions: runs.map((r) => ({ key: r.key, label: r.label, loss: r.loss, options: r.options })),
    pooled: Object.fromEntries(names.map((n) => [n, { ...pooled[n], bias: bias[n] }])),
    stepTimeRatio: ratio,
    interleavedStepTimeRatio: c.interleaved ? interleavedRatio : undefined,
    comparisonsWithSdpo: comparisons,
    perSeed: Object.fromEntries(
      names.map((n) => [n, perSeed[n].map((r) => ({ hr1: r.hr1, validRatio: r.validRatio, hr3: r.hr3, hr5: r.hr5, ndcg3: r.ndcg3, ndcg5: r.ndcg5, rankHr1: r.rankHr1, constrainedHr1: r.constrainedHr1, rows: r.rows, perRow: r.perRow }))])
    ),
  };
  if (resultsDir !== "-") {
    fs.mkdirSync(resultsDir, { recursive: true });
    fs.writeFileSync(path.join(resultsDir, `results-${date}.md`), md);
    fs.writeFileSync(path.join(resultsDir, `results-${date}.json`), JSON.stringify(json, (_, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 1) + "\n");
    log(`written: ${path.join(resultsDir, `results-${date}.{md,json}`)}`);
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});

/** The demo recipe's data: the shipped rows, re-tokenized with item tokens into `out`/data when the recipe says so. */
async function recipeData(out: string): Promise<ShippedData> {
  return DEMO_RECIPE.itemTokens ? itemTokenData(shippedLastfm(), out, itemTokenOptions(DEMO_RECIPE)) : shippedLastfm();
}
