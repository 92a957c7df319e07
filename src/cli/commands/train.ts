/**
 * `sdpo train`: fit a model with sft, dpo or sdpo on an .arrow split, checkpoints in --out.
 * Every input is checked before anything is written: a bad flag or file leaves --out untouched.
 */
import * as fs from "fs";
import * as path from "path";
import type { Argv, CommandModule } from "yargs";
import { PreferenceDataset } from "../../data/dataset";
import { createModel, loadModel } from "../../model/checkpoint";
import { presetConfig, readConfigFile } from "../../model/config";
import { Model } from "../../model/model";
import type { DeviceName, ModelDType } from "../../native";
import { attachJsonlLog, attachProgress } from "../../report";
import { createTrainer, LOSS_NAMES } from "../../trainers/registry";
import { latestCheckpoint, otherRunIn } from "../../trainers/run_dir";
import { readCheckpoint } from "../../trainers/checkpoint_io";
import type { LossName, TrainerOptions } from "../../trainers/types";

export interface TrainArgs {
  loss: LossName;
  data: string;
  eval?: string;
  model?: string;
  config?: string;
  out: string;
  resume?: boolean;
  overwrite?: boolean;
  device?: string;
  dtype?: string;
  lora?: boolean;
  loraRank?: number;
  loraAlpha?: number;
  loraDropout?: number;
  learningRate?: number;
  beta?: number;
  negatives?: number;
  batchSize?: number;
  gradientAccumulationSteps?: number;
  numTrainEpochs?: number;
  warmupRatio?: number;
  lrSchedulerType?: "cosine" | "linear" | "constant";
  maxGradNorm?: number;
  weightDecay?: number;
  adamBeta1?: number;
  adamBeta2?: number;
  adamEpsilon?: number;
  seed?: number;
  evalSteps?: number;
  saveSteps?: number;
  logSteps?: number;
  referenceMode?: "adapters-off" | "frozen-copy" | "precomputed";
  progress?: boolean;
}

/** A user mistake: printed as one line with exit status 1. */
export class TrainUsageError extends Error {
  override name = "TrainUsageError";
}

function requireFile(file: string, flag: string): string {
  const resolved = path.resolve(file);
  if (!fs.existsSync(resolved)) throw new TrainUsageError(`${flag} ${file}: no such file`);
  if (!fs.statSync(resolved).isFile()) throw new TrainUsageError(`${flag} ${file}: not a file`);
  return resolved;
}

const TRAINER_FLAGS = [
  "learningRate", "beta", "negatives", "batchSize", "gradientAccumulationSteps", "numTrainEpochs", "warmupRatio",
  "lrSchedulerType", "maxGradNorm", "weightDecay", "adamBeta1", "adamBeta2", "adamEpsilon", "seed", "evalSteps",
  "saveSteps", "logSteps", "referenceMode",
] as const;

/** Opens a split and checks every row for this loss's number of negatives (the data layer names row and problem). */
async function openChecked(file: string, flag: string, negatives: number): Promise<PreferenceDataset> {
  const dataset = PreferenceDataset.fromArrow(file);
  try {
    await dataset.validate({ negatives });
  } catch (err) {
    throw new TrainUsageError(`${flag} ${file}: ${(err as Error).message}`);
  }
  return dataset;
}

export async function runTrain(args: TrainArgs): Promise<void> {
  if (!LOSS_NAMES.includes(args.loss)) throw new TrainUsageError(`--loss must be one of ${LOSS_NAMES.join(", ")}`);
  if ((args.model === undefined) === (args.config === undefined)) {
    throw new TrainUsageError("give exactly one of --model DIR (a Hugging Face folder) or --config tiny|small|FILE");
  }
  const dataFile = requireFile(args.data, "--data");
  const evalFile = args.eval !== undefined ? requireFile(args.eval, "--eval") : undefined;
  const out = path.resolve(args.out);
  if (fs.existsSync(out) && !fs.statSync(out).isDirectory()) throw new TrainUsageError(`--out ${args.out}: exists and is not a folder`);
  if (args.model !== undefined && !fs.existsSync(path.join(args.model, "config.json")) && !fs.existsSync(path.join(args.model, "adapter_config.json"))) {
    throw new TrainUsageError(`--model ${args.model}: not a Hugging Face model folder (no config.json)`);
  }

  // Where to resume from, and whether --out is free for this run.
  let resumeFrom: string | undefined;
  let resumeRunId: string | undefined;
  if (args.resume) {
    resumeFrom = await latestCheckpoint(out);
    if (!resumeFrom) throw new TrainUsageError(`--resume: ${args.out} holds no checkpoint-N folder to resume from`);
    const { state } = await readCheckpoint(resumeFrom);
    if (state.loss !== args.loss) throw new TrainUsageError(`--resume: ${args.out} was trained with --loss ${state.loss}, not ${args.loss}`);
    resumeRunId = state.runId;
    // Trainer flags not given again default to the run's own, so `--resume` needs only the essentials.
    const saved = state.options as Record<string, unknown>;
    for (const key of TRAINER_FLAGS) {
      if (args[key] === undefined && saved[key] !== undefined) (args as unknown as Record<string, unknown>)[key] = saved[key];
    }
  }
  const other = await otherRunIn(out, resumeRunId);
  if (other && !args.overwrite) {
    throw new TrainUsageError(`--out ${args.out} already holds another ${other}; use --resume to continue it, --overwrite to replace it, or another folder`);
  }

  const negatives = args.loss === "sft" ? 0 : args.negatives ?? (args.loss === "dpo" ? 1 : 3);
  const train = await openChecked(dataFile, "--data", negatives);
  const evalData = evalFile ? await openChecked(evalFile, "--eval", negatives) : undefined;

  const device = (args.device ?? "cpu") as DeviceName;
  const dtype = (args.dtype ?? "float32") as ModelDType;
  const lora = args.lora || args.loraRank !== undefined ? { rank: args.loraRank, alpha: args.loraAlpha, dropout: args.loraDropout } : undefined;
  let loaded;
  if (args.model !== undefined) {
    loaded = await loadModel(args.model, { device, dtype, lora });
  } else {
    const name = args.config as string;
    let config;
    if (name === "tiny" || name === "small") {
      const vocabSize = (await train.metadata()).tokenizer?.vocabSize;
      if (!vocabSize) throw new TrainUsageError(`--config ${name}: ${args.data} records no tokenizer vocabulary size; use --config FILE`);
      config = presetConfig(name, vocabSize);
    } else {
      config = (await readConfigFile(requireFile(name, "--config"))).config;
    }
    loaded = createModel(config, { device, dtype, lora, seed: args.seed ?? 42 });
  }
  const model = new Model(loaded.native, { tokenizer: loaded.tokenizer, path: loaded.path });

  const options: TrainerOptions = { model, outputDir: out, overwrite: args.overwrite ?? false };
  for (const key of TRAINER_FLAGS) {
    if (args[key] !== undefined) (options as unknown as Record<string, unknown>)[key] = args[key];
  }
  const trainer = createTrainer(args.loss, options);
  const showProgress = args.progress ?? process.stderr.isTTY;
  const progress = showProgress ? attachProgress(trainer, { label: args.loss }) : undefined;
  let log: ReturnType<typeof attachJsonlLog> | undefined;
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once("SIGINT", onSignal);
  try {
    // --out was checked above: free, this run's own (--resume), or to be replaced (--overwrite).
    const logFile = path.join(out, "train_log.jsonl");
    if (other && args.overwrite) fs.rmSync(logFile, { force: true });
    log = attachJsonlLog(trainer, logFile);
    const report = await trainer.fit(train, { eval: evalData, signal: abort.signal, resumeFrom });
    progress?.stop();
    process.stdout.write(
      `${args.loss}: ${report.steps} steps, final loss ${report.finalLoss.toFixed(4)}, ` +
        `${report.examplesPerSecond.toFixed(1)} examples/s, ${report.seconds.toFixed(1)} s` +
        (report.aborted ? " (stopped early; the last checkpoint is kept)" : "") +
        `\n${out}\n`
    );
  } finally {
    process.removeListener("SIGINT", onSignal);
    progress?.stop();
    log?.close();
    trainer.dispose();
    model.native.dispose();
  }
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: "train",
  describe: "Train a model with sft, dpo or sdpo on an .arrow split; checkpoints and a JSONL log go to --out",
  builder: (y: Argv) =>
    y
      .option("loss", { type: "string", choices: LOSS_NAMES, demandOption: true, describe: "loss to train with" })
      .option("data", { type: "string", demandOption: true, describe: "training split (.arrow)" })
      .option("eval", { type: "string", describe: "evaluation split (.arrow)" })
      .option("model", { type: "string", describe: "Hugging Face model folder to start from" })
      .option("config", { type: "string", describe: "train from scratch: tiny, small, or a config.json file" })
      .option("out", { type: "string", demandOption: true, describe: "output folder (checkpoints, trainer_state.json, train_log.jsonl)" })
      .option("resume", { type: "boolean", describe: "continue from the latest checkpoint in --out" })
      .option("overwrite", { type: "boolean", describe: "replace another run held in --out" })
      .option("device", { type: "string", describe: "cpu, cuda or cuda:N (default cpu)" })
      .option("dtype", { type: "string", choices: ["float32", "float64", "bfloat16", "float16"], describe: "parameter dtype (default float32)" })
      .option("lora", { type: "boolean", describe: "train LoRA adapters instead of all weights" })
      .option("lora-rank", { type: "number", describe: "LoRA rank (implies --lora; default 8)" })
      .option("lora-alpha", { type: "number", describe: "LoRA alpha (default 2 * rank)" })
      .option("lora-dropout", { type: "number", describe: "LoRA dropout (default 0)" })
      .option("learning-rate", { type: "number", describe: "peak learning rate (default 1e-4)" })
      .option("beta", { type: "number", describe: "DPO / S-DPO beta (default 1)" })
      .option("negatives", { type: "number", describe: "negatives per example (sdpo default 3, dpo 1)" })
      .option("batch-size", { type: "number", describe: "examples per micro-batch (default 8)" })
      .option("gradient-accumulation-steps", { type: "number", describe: "micro-batches per optimizer step (default 1)" })
      .option("num-train-epochs", { type: "number", describe: "epochs (default 1)" })
      .option("warmup-ratio", { type: "number", describe: "fraction of steps spent warming up (default 0)" })
      .option("lr-scheduler-type", { type: "string", choices: ["cosine", "linear", "constant"], describe: "default cosine" })
      .option("max-grad-norm", { type: "number", describe: "gradient clipping norm, 0 disables (default 1)" })
      .option("weight-decay", { type: "number", describe: "AdamW weight decay (default 0)" })
      .option("adam-beta1", { type: "number", describe: "default 0.9" })
      .option("adam-beta2", { type: "number", describe: "default 0.999" })
      .option("adam-epsilon", { type: "number", describe: "default 1e-8" })
      .option("seed", { type: "number", describe: "data order and initialisation seed (default 42)" })
      .option("eval-steps", { type: "number", describe: "evaluate every N steps (0: at the end of each epoch)" })
      .option("save-steps", { type: "number", describe: "checkpoint every N steps (0: at the end only)" })
      .option("log-steps", { type: "number", describe: "log every N steps (default 1)" })
      .option("reference-mode", { type: "string", choices: ["adapters-off", "frozen-copy", "precomputed"], describe: "reference policy" })
      .option("progress", { type: "boolean", describe: "progress bar (default: when stderr is a terminal)" })
      .strict() as unknown as Argv<TrainArgs>,
  handler: async (args) => {
    try {
      await runTrain(args);
    } catch (err) {
      process.stderr.write(`sdpo train: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    }
  },
};
