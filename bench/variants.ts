/**
 * The variants against S-DPO on the shipped LastFM data, from one SFT checkpoint with equal budgets:
 *   S-DPO with random negatives (the paper's baseline), S-DPO with a RoDPO pool, NAPO with in-batch
 *   negatives and a dynamic reward margin (and the SFT checkpoint itself, for reference).
 * Prints HR@1 / ValidRatio (generation), the ranking metrics and the cost of a training step.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/variants.js
 *     [--train-rows N (default all 2,500)] [--epochs 1] [--sft-epochs 4] [--test-rows N (default all 267)] [--threads 2]
 *     [--sft DIR]   reuse an SFT checkpoint written by an earlier run (its out/sft) instead of training one
 *     [--out DIR]   where the models go (default a temp folder)
 *     [--runs random,pool,napo]
 *
 * SFT uses the demo recipe's settings (src/cli/demo-recipe.ts); the preference runs use the demo's S-DPO
 * settings (lr 5e-4, beta 1, K = 3, batch 16) with no evaluation during training, so time is training only.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DEMO_RECIPE, demoModelConfig } from "../src/cli/demo-recipe";
import { firstRows, shippedLastfm } from "../src/cli/demo-data";
import { PreferenceDataset } from "../src/data/dataset";
import { Tokenizer } from "../src/data/tokenizer";
import { evaluate, type EvalResult } from "../src/eval/evaluate";
import { createModel, loadModel, saveModel } from "../src/model/checkpoint";
import { presetConfig } from "../src/model/config";
import { Model } from "../src/model/model";
import { native } from "../src/native";
import { createTrainer } from "../src/trainers/registry";
import type { LossName, TrainerOptions } from "../src/trainers/types";

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

const RUNS: Run[] = [
  { key: "fixed", label: "S-DPO, fixed negatives", loss: "sdpo", options: { negativeSampling: "fixed" } },
  { key: "random", label: "S-DPO, random negatives", loss: "sdpo", options: { negativeSampling: "random" } },
  { key: "pool", label: "S-DPO, RoDPO pool (8, refresh 50)", loss: "sdpo", options: { negativeSampling: "pool", poolSize: 8, poolRefreshSteps: 50 } },
  { key: "hard", label: "S-DPO, hard negatives (top 3 of 8)", loss: "sdpo", options: { negativeSampling: "hard", poolSize: 8, poolRefreshSteps: 50 } },
  {
    key: "napo",
    label: "NAPO, in-batch (cap 4) + dynamic margin",
    loss: "napo",
    options: { negativeSampling: "random", inBatchNegatives: { cap: 4 }, rewardMargin: { mode: "dynamic", gamma: 0.5, tau: 1 } },
  },
];

interface Row {
  method: string;
  result: EvalResult;
  steps?: number;
  msPerStep?: number;
  examplesPerSecond?: number;
  trainSeconds?: number;
}

const fmt = (x: number | undefined, digits: number) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(digits));

function table(rows: Row[]): string {
  const header = ["method", "HR@1", "ValidRatio", "HR@3", "NDCG@3", "HR@5", "NDCG@5", "rank HR@1", "steps", "ms/step", "examples/s"];
  const body = rows.map((r) => [
    r.method,
    fmt(r.result.hr1, 4),
    fmt(r.result.validRatio, 4),
    fmt(r.result.hr3, 4),
    fmt(r.result.ndcg3, 4),
    fmt(r.result.hr5, 4),
    fmt(r.result.ndcg5, 4),
    fmt(r.result.rankHr1, 4),
    r.steps === undefined ? "-" : String(r.steps),
    fmt(r.msPerStep, 0),
    fmt(r.examplesPerSecond, 1),
  ]);
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map((_, i) => (i === 0 ? "---" : "---:"))), ...body.map(line)].join("\n");
}

async function main(): Promise<void> {
  native().setNumThreads(Number(arg("threads", "2")));
  const trainRows = arg("train-rows", "") === "" ? undefined : Number(arg("train-rows", ""));
  const epochs = Number(arg("epochs", "1"));
  const sftEpochs = Number(arg("sft-epochs", String(DEMO_RECIPE.sft.numTrainEpochs ?? 4)));
  const testRows = arg("test-rows", "") === "" ? undefined : Number(arg("test-rows", ""));
  const runKeys = arg("runs", "random,pool,napo").split(",");
  for (const key of runKeys) if (!RUNS.some((r) => r.key === key)) throw new RangeError(`--runs: unknown run '${key}' (known: ${RUNS.map((r) => r.key).join(", ")})`);
  const out = path.resolve(arg("out", fs.mkdtempSync(path.join(os.tmpdir(), "sdpo-variants-"))));
  const data = shippedLastfm();
  const tokenizer = Tokenizer.fromFile(data.tokenizer);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const started = Date.now();

  // 1. The SFT checkpoint every run starts from.
  let sftDir = arg("sft", "");
  if (!sftDir) {
    sftDir = path.join(out, "sft");
    const shape = demoModelConfig(DEMO_RECIPE, presetConfig, tokenizer.vocabSize);
    const model = createModel(shape, { seed: DEMO_RECIPE.seed });
    const trainer = createTrainer("sft", { ...DEMO_RECIPE.sft, numTrainEpochs: sftEpochs, evalSteps: 0, model: model as unknown as Model });
    const report = await trainer.fit(PreferenceDataset.fromArrow(data.train));
    trainer.dispose();
    await saveModel(model, sftDir, { overwrite: true });
    model.native.dispose();
    log(`sft: ${report.steps} steps, ${report.seconds.toFixed(0)} s, final loss ${report.finalLoss.toFixed(3)} -> ${sftDir}`);
  }

  const valid = PreferenceDataset.fromArrow(data.valid);
  const evalOptions = { tokenizer, batchSize: 16, maxNewTokens: DEMO_RECIPE.maxNewTokens, maxRows: testRows };
  const rows: Row[] = [];
  {
    const sft = await loadModel(sftDir);
    rows.push({ method: "SFT (start of every run)", result: await evaluate(sft, valid, evalOptions) });
    sft.native.dispose();
  }

  // 2. The preference runs, equal budgets: the same rows, epochs, batch size, K and learning rate.
  const base: Partial<TrainerOptions> = {
    learningRate: DEMO_RECIPE.sdpo.learningRate,
    beta: DEMO_RECIPE.sdpo.beta,
    negatives: 3,
    batchSize: 16,
    warmupRatio: DEMO_RECIPE.sdpo.warmupRatio,
    numTrainEpochs: epochs,
    seed: 42,
    evalSteps: 0,
    referenceMode: "frozen-copy",
  };
  for (const run of RUNS.filter((r) => runKeys.includes(r.key))) {
    const model = await loadModel(sftDir);
    const trainer = createTrainer(run.loss, { ...base, ...run.options, model: model as unknown as Model });
    const train = await firstRows(PreferenceDataset.fromArrow(data.train), trainRows);
    const report = await trainer.fit(train);
    trainer.dispose();
    const result = await evaluate(model, valid, evalOptions);
    model.native.dispose();
    rows.push({
      method: run.label,
      result,
      steps: report.steps,
      msPerStep: (report.seconds * 1000) / report.steps,
      examplesPerSecond: report.examplesPerSecond,
      trainSeconds: report.seconds,
    });
    log(`${run.label}: ${report.steps} steps in ${report.seconds.toFixed(0)} s, final loss ${report.finalLoss.toFixed(3)}, HR@1 ${fmt(result.hr1, 4)}`);
  }

  process.stdout.write(`\n${table(rows)}\n\n`);
  process.stdout.write(
    `train: ${trainRows ?? "all"} rows x ${epochs} epoch(s) of datasets/lastfm/train.arrow per run (batch 16, K = 3, lr ${base.learningRate}); ` +
      `test: ${rows[0].result.rows} rows of valid.arrow; SFT: ${sftDir}; total ${((Date.now() - started) / 1000).toFixed(0)} s\n`
  );
  fs.writeFileSync(path.join(out, "variants.json"), JSON.stringify({ trainRows, epochs, testRows, rows }, null, 2) + "\n");
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
