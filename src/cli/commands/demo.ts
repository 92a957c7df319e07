/**
 * `sdpo demo`: the paper's ablation in miniature on the shipped LastFM sample. Trains a small decoder
 * from scratch with SFT, then DPO and S-DPO each from the SFT checkpoint, evaluates all three on the
 * held-out split and prints HR@1 / ValidRatio / HR@3 / NDCG@3 ... as a table. Leaves Hugging Face model
 * folders sft/, dpo/, sdpo/, JSONL logs (logs/) and curve plots (plots/) under the output folder.
 */
import * as fs from "fs";
import * as path from "path";
import type { CommandModule } from "yargs";
import { PreferenceDataset } from "../../data/dataset";
import { Tokenizer } from "../../data/tokenizer";
import { evaluate, type EvalResult } from "../../eval/evaluate";
import { formatMetricsTable } from "../../eval/table";
import { createModel, loadModel, saveModel } from "../../model/checkpoint";
import { presetConfig } from "../../model/config";
import type { Model } from "../../model/model";
import type { DeviceName } from "../../native";
import { plotTrainingCurves } from "../../report/curves";
import { attachJsonlLog } from "../../report/jsonl";
import { attachProgress, createProgress, formatDuration } from "../../report/progress";
import { createTrainer } from "../../trainers";
import type { FitReport, LossName } from "../../trainers/types";
import { DEMO_RECIPE, demoModelConfig, QUICK_RECIPE, type DemoRecipe } from "../demo-recipe";
import { firstRows, shippedLastfm } from "../demo-data";
import { disposeModel, UsageError } from "../eval-setup";

export interface DemoArgs {
  out?: string;
  quick?: boolean;
  overwrite?: boolean;
  device?: string;
}

/** Marks a folder as written by `sdpo demo`, so a re-run may replace it. */
const MARKER = ".sdpo-demo.json";
/** Everything the demo writes; with --overwrite only these are replaced, nothing else is deleted. */
const OWNED = ["sft", "dpo", "sdpo", "logs", "plots", "results.json", "results.md", MARKER];
/** The paper's ablation: the three losses the demo trains and compares. */
type DemoMethod = Extract<LossName, "sft" | "dpo" | "sdpo">;
const METHODS: DemoMethod[] = ["sft", "dpo", "sdpo"];

/**
 * Missing or empty: used. An earlier demo's folder (marker file): its outputs are replaced. Anything else
 * non-empty is refused unless `overwrite`, and even then only the demo's own entries are replaced.
 */
export function prepareOutputFolder(dir: string, overwrite: boolean): string {
  const out = path.resolve(dir);
  if (fs.existsSync(out)) {
    if (!fs.statSync(out).isDirectory()) throw new UsageError(`--out ${dir}: exists and is not a folder`);
    const entries = fs.readdirSync(out);
    if (entries.length > 0 && !entries.includes(MARKER) && !overwrite) {
      throw new UsageError(
        `--out ${dir}: the folder is not empty and was not written by \`sdpo demo\` (${entries.slice(0, 3).join(", ")}${entries.length > 3 ? ", ..." : ""}); choose another --out or pass --overwrite`
      );
    }
    for (const name of OWNED) fs.rmSync(path.join(out, name), { recursive: true, force: true });
  }
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, MARKER), JSON.stringify({ tool: "sdpo demo", started: new Date().toISOString() }) + "\n");
  return out;
}

interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export interface DemoResult {
  results: { method: DemoMethod; result: EvalResult }[];
  seconds: Record<string, number>;
  out: string;
}

export async function runDemo(args: DemoArgs, io: Io = { out: process.stdout, err: process.stderr }, recipeOverride?: DemoRecipe): Promise<DemoResult> {
  const recipe = recipeOverride ?? (args.quick ? QUICK_RECIPE : DEMO_RECIPE);
  const device = (args.device ?? "cpu") as DeviceName;
  const data = shippedLastfm();
  const out = prepareOutputFolder(args.out ?? "sdpo-demo", args.overwrite ?? false);
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
    const train = await firstRows(PreferenceDataset.fromArrow(data.train), recipe.trainRows);
    const curveEval = await firstRows(PreferenceDataset.fromArrow(data.valid), recipe.curveEvalRows);
    const shape = demoModelConfig(recipe, presetConfig, tokenizer.vocabSize);
    say(
      `sdpo demo: a ${shape.num_hidden_layers}-layer, ${shape.hidden_size}-wide decoder from scratch, ${train.numRows} training rows, output in ${out}`
    );

    const trainRun = async (loss: DemoMethod, model: Model): Promise<FitReport> => {
      const t0 = Date.now();
      const trainer = createTrainer(loss, { ...recipe[loss], model });
      const progress = attachProgress(trainer, { label: loss, stream: io.err });
      const logFile = path.join(out, "logs", `${loss}.jsonl`);
      const log = attachJsonlLog(trainer, logFile);
      try {
        const report = await trainer.fit(train, { eval: curveEval, signal: abort.signal });
        progress.stop();
        if (report.aborted) throw new Error(`interrupted during ${loss} training`);
        await saveModel(model, path.join(out, loss), { overwrite: true });
        copyTokenizer(data.tokenizer, path.join(out, loss));
        plotTrainingCurves([{ label: loss, path: logFile }], path.join(out, "plots", `${loss}.svg`));
        seconds[`train ${loss}`] = (Date.now() - t0) / 1000;
        say(`${loss}: ${report.steps} steps in ${formatDuration(report.seconds)}, final loss ${report.finalLoss.toFixed(4)} -> ${path.join(out, loss)}`);
        return report;
      } finally {
        progress.stop();
        log.close();
        (trainer as { dispose?: () => void }).dispose?.();
      }
    };

    const sft = createModel(shape, { device, seed: recipe.seed }) as unknown as Model;
    try {
      await trainRun("sft", sft);
    } finally {
      disposeModel(sft);
    }
    for (const loss of ["dpo", "sdpo"] as const) {
      const model = (await loadModel(path.join(out, "sft"), { device })) as unknown as Model;
      try {
        await trainRun(loss, model);
      } finally {
        disposeModel(model);
      }
    }
    plotTrainingCurves(
      METHODS.filter((m) => m !== "sft").map((m) => ({ label: m, path: path.join(out, "logs", `${m}.jsonl`) })),
      path.join(out, "plots", "dpo-vs-sdpo.svg"),
      { title: "DPO vs S-DPO from the SFT checkpoint" }
    );

    const test = PreferenceDataset.fromArrow(data.valid);
    const testRows = Math.min(await test.countRows(), recipe.testRows ?? Infinity);
    const results: DemoResult["results"] = [];
    for (const method of METHODS) {
      if (abort.signal.aborted) throw new Error("interrupted during evaluation");
      const t0 = Date.now();
      const model = await loadModel(path.join(out, method), { device });
      const progress = createProgress(testRows, { label: `eval ${method}`, unit: "rows", stream: io.err });
      try {
        const result = await evaluate(model, test, {
          tokenizer,
          batchSize: recipe.evalBatchSize,
          maxNewTokens: recipe.maxNewTokens,
          maxRows: testRows,
          onProgress: (done) => progress.update(done),
        });
        results.push({ method, result });
      } finally {
        progress.stop();
        disposeModel(model);
      }
      seconds[`eval ${method}`] = (Date.now() - t0) / 1000;
    }
    seconds.total = (Date.now() - started) / 1000;

    const table = formatMetricsTable(results);
    io.out.write(`\n${table}\n\n`);
    io.out.write(`held-out: ${testRows} rows of ${path.relative(process.cwd(), data.valid) || data.valid}; total ${formatDuration(seconds.total)}\n`);
    io.out.write(`models: ${METHODS.map((m) => path.join(out, m)).join(", ")}; plots: ${path.join(out, "plots")}\n`);
    fs.writeFileSync(path.join(out, "results.md"), table + "\n");
    fs.writeFileSync(
      path.join(out, "results.json"),
      JSON.stringify({ recipe: { ...recipe }, testRows, seconds, results: Object.fromEntries(results.map((r) => [r.method, r.result])) }, null, 2) + "\n"
    );
    return { results, seconds, out };
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
}

/** Model folders should open with `sdpo eval` and in Hugging Face tools: they need the tokenizer. */
function copyTokenizer(tokenizerFile: string, folder: string): void {
  const target = path.join(folder, "tokenizer.json");
  if (!fs.existsSync(target)) fs.copyFileSync(tokenizerFile, target);
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: "demo",
  describe: "Train SFT, DPO and S-DPO on the shipped LastFM sample and compare them (HR@1, ValidRatio, HR@3, NDCG@3, ...)",
  builder: (y) =>
    y
      .option("out", { type: "string", default: "sdpo-demo", describe: "output folder (model folders sft/, dpo/, sdpo/, logs/, plots/)" })
      .option("quick", { type: "boolean", describe: "a smoke run of under a minute (128 training rows, one epoch each, 32 test rows)" })
      .option("overwrite", { type: "boolean", describe: "write into a non-empty folder not made by the demo (only the demo's own entries are replaced)" })
      .option("device", { type: "string", default: "cpu", describe: "cpu, cuda or cuda:N" }) as never,
  handler: async (args) => {
    await runDemo(args);
  },
};
