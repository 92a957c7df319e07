/**
 * `sdpo train`: fit a model with sft, dpo, sdpo or napo on an .arrow split, checkpoints in --out.
 * Variants: --in-batch-negatives (NAPO's sharing), --negative-sampling random|hard|pool (RoDPO's pool),
 * --reward-margin none|fixed|dynamic (napo).
 * Every input is checked before anything is written: a bad flag or file leaves --out untouched.
 */
import * as fs from "fs";
import * as path from "path";
import type { Argv, CommandModule } from "yargs";
import { PreferenceDataset } from "../../data/dataset";
import { createModel, loadModel } from "../../model/checkpoint";
import { presetConfig, readConfigFile } from "../../model/config";
import { Model } from "../../model/model";
import { native, type DeviceName, type ModelDType } from "../../native";
import { readLaunchEnv } from "../../distributed/launch_env";
import { localRankThreadsEnv, spawnLocalRanks } from "../../distributed/spawn_local";
import { attachJsonlLog, attachProgress, trimJsonlAfterStep } from "../../report";
import { createTrainer, LOSS_NAMES } from "../../trainers/registry";
import { findTrainingDataRecord, latestCheckpoint, otherRunIn, readMarker, recordTrainingData, sha256OfFile } from "../../trainers/run_dir";
import { readCheckpoint, type TrainerState } from "../../trainers/checkpoint_io";
import { checkDataTokenizer } from "../eval-setup";
import { fillFromRecord, readRunArgs, writeRunArgs } from "../run-args";
import { fillFromCheckpoint, trainerOptionsFromFlags, TrainUsageError, withTrainerFlags } from "../train-flags";
import { recordResampleFlags, resolveResampleFlags, trainingRows } from "../train-resample";
import { resolveDataArg, resolveTokenizerArg } from "../data-arg";
import { checkOutputPath, integer, maxThreads, outputPath, real } from "../flags";
import { defaultNegatives, OPTION_RECORDS, type TrainerFlagValues } from "../../trainers/option-records";
import type { FitReport, LossName, TrainerOptions } from "../../trainers/types";

export { TrainUsageError, variantOptions } from "../train-flags";

/** The parsed flags of `sdpo train`: the command's own and the trainer flags (made from the option records). */
export interface TrainArgs extends TrainerFlagValues {
  /** Required, except with --resume (the run's own). */
  loss?: LossName;
  /** Required, except with --resume (the run's own, from train_args.json). */
  data?: string;
  eval?: string;
  model?: string;
  config?: string;
  /** The run folder; with --resume DIR, DIR. */
  out?: string;
  /** --resume [DIR]: true or "" continue the run in --out; a path continues the run in that folder. */
  resume?: boolean | string;
  overwrite?: boolean;
  allowNonFiniteWeights?: boolean;
  device?: string;
  dtype?: string;
  lora?: boolean;
  loraRank?: number;
  loraAlpha?: number;
  loraDropout?: number;
  progress?: boolean;
  redrawCandidates?: boolean;
  subsequenceRows?: boolean;
  copyRows?: number;
  skipRows?: number;
  tokenizer?: string;
  nproc?: number;
  masterPort?: number;
  /** Set by --resume: --data is the run's recorded training file (checked against its sha256). */
  recordedData?: boolean;
}

function requireFile(file: string, flag: string): string {
  const resolved = path.resolve(file);
  if (!fs.existsSync(resolved)) throw new TrainUsageError(`${flag} ${file}: no such file`);
  if (!fs.statSync(resolved).isFile()) throw new TrainUsageError(`${flag} ${file}: not a file`);
  return resolved;
}

/** Opens a split and checks every row for this loss's number of negatives (the data layer names row and problem). */
async function openChecked(file: string, flag: string, negatives: number, negativeSampling: "fixed" | "random"): Promise<PreferenceDataset> {
  const dataset = PreferenceDataset.fromArrow(file);
  try {
    await dataset.validate({ negatives, negativeSampling });
  } catch (err) {
    throw new TrainUsageError(`${flag} ${file}: ${(err as Error).message}`);
  }
  return dataset;
}

/** The command line a rank of `--nproc N` runs: this one, without --nproc / --master-port. */
function rankArgv(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--nproc" || a === "--master-port") {
      i++;
      continue;
    }
    if (a.startsWith("--nproc=") || a.startsWith("--master-port=")) continue;
    out.push(a);
  }
  return out;
}

/** How a `sdpo train` ended: trained to the end, stopped by Ctrl-C (exit status 130), or nothing to do. */
export interface TrainOutcome {
  status: "trained" | "stopped" | "finished-already";
  report?: FitReport;
  out?: string;
}

/**
 * `--resume [DIR]`: the run folder (DIR, else --out) and the flags it was started with, filled into `args`
 * where they were not given again (train_args.json; the trainer options come from the checkpoint later).
 */
function resumeFolder(args: TrainArgs): string {
  const named = typeof args.resume === "string" && args.resume !== "" ? args.resume : undefined;
  if (named !== undefined && args.out !== undefined && path.resolve(named) !== path.resolve(args.out)) {
    throw new TrainUsageError(`--resume ${named} and --out ${args.out} name different folders; a resumed run writes into its own folder (drop --out)`);
  }
  const folder = named ?? args.out;
  if (folder === undefined) throw new TrainUsageError("--resume needs the run folder: --resume DIR (or --out DIR)");
  if (!fs.existsSync(folder)) throw new TrainUsageError(`--resume ${folder}: no such folder`);
  if (!fs.statSync(folder).isDirectory()) throw new TrainUsageError(`--resume ${folder}: not a folder`);
  let record;
  try {
    record = readRunArgs(folder);
  } catch (err) {
    throw new TrainUsageError(`--resume: ${(err as Error).message}`);
  }
  if (record) fillFromRecord(args as unknown as Record<string, unknown>, record);
  args.recordedData = record?.args.data !== undefined && args.data === record.args.data;
  return folder;
}

export async function runTrain(args: TrainArgs): Promise<TrainOutcome> {
  const launch = readLaunchEnv();
  if (args.nproc !== undefined) {
    if (launch) throw new TrainUsageError(`--nproc: this process is already rank ${launch.rank} of ${launch.worldSize} (WORLD_SIZE is set by a launcher); drop --nproc`);
    if (!Number.isInteger(args.nproc) || args.nproc < 1) throw new TrainUsageError(`--nproc must be a whole number >= 1, got ${args.nproc}`);
    const onCuda = (args.device ?? "cpu").startsWith("cuda");
    const env = onCuda ? process.env : localRankThreadsEnv(process.env, args.nproc, maxThreads(), native().buildInfo().blasThreading);
    const result = await spawnLocalRanks(process.execPath, [...process.execArgv, ...rankArgv(process.argv.slice(1))], args.nproc, args.masterPort, env);
    // Ctrl-C reaches every rank: each stops cleanly (130) and the run is stopped, not failed.
    if (result.statuses.includes(130) && result.statuses.every((s) => s === 0 || s === 130)) return { status: "stopped" };
    if (result.status !== 0) throw new TrainUsageError(`${result.statuses.filter((s) => s !== 0).length} of ${args.nproc} ranks failed (see their messages above)`);
    return { status: "trained" };
  }
  if (args.masterPort !== undefined) throw new TrainUsageError("--master-port goes with --nproc (under torchrun, MASTER_PORT is its own)");
  // Rank 0 alone talks and writes; the other ranks of a data-parallel run train silently.
  const isMain = !launch || launch.rank === 0;
  const resuming = args.resume !== undefined && args.resume !== false;
  if (resuming) args.out = resumeFolder(args);

  // Where to resume from (the latest checkpoint, or the marker of a run stopped before its first one).
  let resumeFrom: string | undefined;
  let resumeRunId: string | undefined;
  let restartRunId: string | undefined;
  let resumeState: TrainerState | undefined;
  if (resuming) {
    const folder = args.out as string;
    resumeFrom = await latestCheckpoint(folder);
    const marker = resumeFrom ? undefined : await readMarker(folder);
    if (!resumeFrom && !marker) throw new TrainUsageError(`--resume: ${folder} holds no checkpoint-N folder to resume from`);
    if (marker) {
      if (args.loss !== undefined && marker.loss !== args.loss) throw new TrainUsageError(`--resume: ${folder} holds a ${marker.loss} run, not ${args.loss}`);
      args.loss ??= marker.loss;
      // A run stopped before its first checkpoint (killed while writing it): it restarts from step 0 as itself.
      restartRunId = resumeRunId = marker.runId;
    }
  }
  if (resumeFrom) {
    const { state } = await readCheckpoint(resumeFrom);
    if (args.loss !== undefined && state.loss !== args.loss) throw new TrainUsageError(`--resume: ${args.out} was trained with --loss ${state.loss}, not ${args.loss}`);
    args.loss ??= state.loss;
    resumeRunId = state.runId;
    resumeState = state;
    if (state.globalStep >= state.totalSteps) {
      if (isMain) {
        process.stdout.write(
          `${path.resolve(args.out as string)}: the run is finished (step ${state.globalStep} of ${state.totalSteps}, ${path.basename(resumeFrom)}); nothing to train\n`
        );
      }
      return { status: "finished-already", out: path.resolve(args.out as string) };
    }
  }

  if (args.loss === undefined) throw new TrainUsageError("--loss is required (sft, dpo, sdpo or napo), unless --resume continues a run");
  if (!LOSS_NAMES.includes(args.loss)) throw new TrainUsageError(`--loss must be one of ${LOSS_NAMES.join(", ")}`);
  if (args.data === undefined) {
    throw new TrainUsageError(resuming ? `--resume: ${args.out} records no training data (a run from an older version): give --data again` : "--data is required (an .arrow split or a shipped dataset's name)");
  }
  if (args.out === undefined) throw new TrainUsageError("--out is required (the run folder)");
  if ((args.model === undefined) === (args.config === undefined)) {
    throw new TrainUsageError(
      resuming
        ? `--resume: ${args.out} records neither --model nor --config (a run from an older version): give the one it started from again`
        : "give exactly one of --model DIR (a Hugging Face folder) or --config tiny|small|FILE"
    );
  }
  // A shipped dataset's name (lastfm) stands for its training split here, its validation split after --eval.
  let dataFile: string;
  let evalFile: string | undefined;
  try {
    dataFile = requireFile(resolveDataArg(args.data, "train", "--data").file, "--data");
    evalFile = args.eval !== undefined ? requireFile(resolveDataArg(args.eval, "valid", "--eval").file, "--eval") : undefined;
    if (args.tokenizer !== undefined) args.tokenizer = resolveTokenizerArg(args.tokenizer);
  } catch (err) {
    throw err instanceof TrainUsageError ? err : new TrainUsageError((err as Error).message);
  }
  const out = path.resolve(args.out);
  if (fs.existsSync(out) && !fs.statSync(out).isDirectory()) throw new TrainUsageError(`--out ${args.out}: exists and is not a folder`);
  if (args.model !== undefined && !fs.existsSync(path.join(args.model, "config.json")) && !fs.existsSync(path.join(args.model, "adapter_config.json"))) {
    throw new TrainUsageError(`--model ${args.model}: not a Hugging Face model folder (no config.json)`);
  }
  // The training file a resumed run takes from its record must be the one it started on.
  if (resuming && args.recordedData) {
    const recorded = await findTrainingDataRecord(out);
    if (recorded && recorded.record.file === dataFile && (await sha256OfFile(dataFile)) !== recorded.record.sha256) {
      throw new TrainUsageError(`--resume: the run's training file ${dataFile} has changed since the run started (${recorded.where} records sha256 ${recorded.record.sha256.slice(0, 12)}…); give --data to train on it anyway`);
    }
  }

  // On resume, trainer flags not given again are the run's own (its checkpoint's options).
  const savedVariants = resumeState ? fillFromCheckpoint(args, resumeState.options as Record<string, unknown>) : undefined;
  const flagOptions = { ...trainerOptionsFromFlags(args), ...savedVariants };
  const other = await otherRunIn(out, resumeRunId);
  if (other && !args.overwrite) {
    throw new TrainUsageError(`--out ${args.out} already holds another ${other}; use --resume to continue it, --overwrite to replace it, or another folder`);
  }

  let resample;
  try {
    resample = resolveResampleFlags(args, out, resuming);
  } catch (err) {
    throw new TrainUsageError((err as Error).message);
  }
  if ((flagOptions.historyUnlikelihood ?? 0) > 0 && !resample.redrawCandidates) {
    throw new TrainUsageError("--history-unlikelihood reads each row's history tokens, which only re-drawn rows carry: it needs --redraw-candidates");
  }
  const negatives = args.loss === "sft" ? 0 : args.negatives ?? defaultNegatives(args.loss);
  const trainFile = await openChecked(dataFile, "--data", negatives, flagOptions.negativeSampling === "random" ? "random" : "fixed");
  const evalData = evalFile ? await openChecked(evalFile, "--eval", negatives, "fixed") : undefined;
  // Token ids made by another tokenizer than the model's would mean other words: refused when both are known.
  if (args.model !== undefined) {
    const modelTokenizer = path.join(args.model, "tokenizer.json");
    if (fs.existsSync(modelTokenizer)) {
      const actual = await sha256OfFile(modelTokenizer);
      const hint = "; convert the data with the model's tokenizer (sdpo convert --tokenizer)";
      try {
        checkDataTokenizer(dataFile, (await trainFile.metadata()).tokenizer?.hash, modelTokenizer, actual, hint);
        if (evalData && evalFile) checkDataTokenizer(evalFile, (await evalData.metadata()).tokenizer?.hash, modelTokenizer, actual, hint);
      } catch (err) {
        throw new TrainUsageError((err as Error).message);
      }
    }
  }
  let train;
  try {
    train = await trainingRows(trainFile, dataFile, resample, args.model);
  } catch (err) {
    throw new TrainUsageError((err as Error).message);
  }

  // A launched rank on "cuda" takes its own GPU (LOCAL_RANK), as torchrun scripts do.
  const device = (args.device === "cuda" && launch ? `cuda:${launch.localRank}` : args.device ?? "cpu") as DeviceName;
  const dtype = (args.dtype ?? "float32") as ModelDType;
  const lora = args.lora || args.loraRank !== undefined ? { rank: args.loraRank, alpha: args.loraAlpha, dropout: args.loraDropout } : undefined;
  let loaded;
  if (args.model !== undefined) {
    loaded = await loadModel(args.model, { device, dtype, lora, allowNonFinite: args.allowNonFiniteWeights });
  } else {
    const name = args.config as string;
    let config;
    if (name === "tiny" || name === "small") {
      const vocabSize = (await trainFile.metadata()).tokenizer?.vocabSize;
      if (!vocabSize) throw new TrainUsageError(`--config ${name}: ${args.data} records no tokenizer vocabulary size; use --config FILE`);
      config = presetConfig(name, vocabSize);
    } else {
      config = (await readConfigFile(requireFile(name, "--config"))).config;
    }
    loaded = createModel(config, { device, dtype, lora, seed: args.seed ?? (OPTION_RECORDS.seed.default as number) });
  }
  const model = new Model(loaded.native, { tokenizer: loaded.tokenizer, path: loaded.path });

  const options: TrainerOptions = { model, outputDir: out, overwrite: args.overwrite ?? false, ...flagOptions };
  let trainer;
  try {
    trainer = createTrainer(args.loss, options);
  } catch (err) {
    model.native.dispose();
    throw new TrainUsageError((err as Error).message);
  }
  // A bar on a terminal, plain lines every 10% or 30 s otherwise (logs, pipes); --progress forces the bar.
  const progress = isMain && args.progress !== false ? attachProgress(trainer, { label: args.loss, tty: args.progress === true ? true : undefined }) : undefined;
  let log: ReturnType<typeof attachJsonlLog> | undefined;
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once("SIGINT", onSignal);
  try {
    // --out was checked above: free, this run's own (--resume), or to be replaced (--overwrite).
    const logFile = path.join(out, "train_log.jsonl");
    // Another run's log, or the log of steps a restarted run is about to redo (rank 0 alone writes).
    if (isMain && ((other && args.overwrite) || restartRunId)) fs.rmSync(logFile, { force: true });
    // Steps logged after the checkpoint a resumed run continues from (a Ctrl-C or a kill) are redone: their lines go.
    if (isMain && resumeState) trimJsonlAfterStep(logFile, resumeState.globalStep);
    if (isMain) {
      log = attachJsonlLog(trainer, logFile);
      recordResampleFlags(out, resample);
      writeRunArgs(out, { ...args, data: dataFile, eval: evalFile });
      // What `sdpo eval` counts item popularity on (popularity-bias metrics).
      await recordTrainingData(out, dataFile, await trainFile.countRows());
    }
    if (isMain && restartRunId) process.stderr.write(`sdpo train: ${args.out} holds run ${restartRunId} with no checkpoint yet; restarting it from step 0\n`);
    const report = await trainer.fit(train, { eval: evalData, signal: abort.signal, resumeFrom, runId: restartRunId });
    // The bar's last state and any eval / checkpoint lines it holds come out before the summary.
    progress?.stop();
    if (isMain) {
      const summary =
        `${args.loss}: ${report.steps} steps, final loss ${report.finalLoss.toFixed(4)}, ` +
        `${report.examplesPerSecond.toFixed(1)} examples/s, ${report.seconds.toFixed(1)} s`;
      if (report.aborted) {
        const last = await latestCheckpoint(out);
        process.stdout.write(
          `${summary} (stopped at step ${report.steps}; ${last ? `${path.basename(last)} is kept` : "no checkpoint yet"})\n` +
            `continue with: sdpo train --resume ${out}\n`
        );
      } else process.stdout.write(`${summary}\n${out}\n`);
    }
    return { status: report.aborted ? "stopped" : "trained", report, out };
  } finally {
    process.removeListener("SIGINT", onSignal);
    progress?.stop();
    log?.close();
    // The rendezvous store (rank 0) and the connections close before the process ends.
    if (launch) await native().destroyDistributed();
    trainer.dispose();
    model.native.dispose();
  }
}

/** The flags of the command itself; the trainer flags come from the option records (withTrainerFlags). */
function commandFlags(y: Argv) {
  return y
    .option("loss", { type: "string", choices: LOSS_NAMES, describe: "loss to train with (required; with --resume: the run's own)" })
    .option("data", { type: "string", describe: "training split (.arrow), or a shipped dataset's name (lastfm: its training split); required, except with --resume" })
    .option("eval", { type: "string", describe: "evaluation split (.arrow), or a shipped dataset's name (lastfm: its validation split)" })
    .option("model", { type: "string", describe: "Hugging Face model folder to start from" })
    .option("config", { type: "string", describe: "train from scratch: tiny, small, or a config.json file" })
    .option("out", { ...outputPath("out", "output folder (checkpoints, trainer_state.json, train_log.jsonl); required, except with --resume DIR", "folder", false), alias: "output_dir" })
    .option("resume", {
      type: "string",
      describe: "--resume [DIR]: continue the run in DIR (default --out) from its latest checkpoint, with the model, data and settings it was started with (flags given again override them); a finished run is left as it is",
      coerce: (value: unknown) => (typeof value === "string" && value !== "" ? checkOutputPath("resume", value, "folder") : value),
    })
    .option("overwrite", { type: "boolean", describe: "replace another run held in --out" })
    .option("allow-non-finite-weights", { type: "boolean", describe: "load --model weights holding NaN or infinities (refused by default)" })
    .option("device", { type: "string", describe: "cpu, cuda or cuda:N (default cpu)" })
    .option("dtype", { type: "string", choices: ["float32", "float64", "bfloat16", "float16"], describe: "parameter dtype (default float32)" })
    .option("lora", { type: "boolean", describe: "train LoRA adapters instead of all weights" })
    .option("lora-rank", integer("lora-rank", "LoRA rank (implies --lora; default 8)", { min: 1, max: 65536 }))
    .option("lora-alpha", real("lora-alpha", "LoRA alpha (default 2 * rank)", { above: 0 }))
    .option("lora-dropout", real("lora-dropout", "LoRA dropout (default 0)", { min: 0, below: 1 }))
    .option("progress", {
      type: "boolean",
      describe: "--progress: a progress bar even when stderr is not a terminal; --no-progress: no progress output (default: a bar on a terminal, else a plain line every 10% or 30 s)",
    })
    .option("redraw-candidates", { type: "boolean", describe: "re-draw each example's candidate list every epoch (target at a random position) and re-render its prompt" })
    .option("subsequence-rows", { type: "boolean", describe: "with --redraw-candidates: also train on every history prefix predicting its next item" })
    .option("copy-rows", real("copy-rows", "with --redraw-candidates: share of extra rows with a random history and target, which only the candidate list predicts", { min: 0, max: 0.9 }))
    .option("skip-rows", real("skip-rows", "with --redraw-candidates: share of examples per epoch that drop their history's last item and keep it out of the list", { min: 0, max: 0.9 }))
    .option("tokenizer", { type: "string", describe: "with --redraw-candidates: the data's tokenizer.json, or a shipped dataset's name (default: the model folder's, else the one beside --data)" })
    .option("nproc", integer("nproc", "start N data-parallel ranks on this machine (torchrun's variables, loopback)", { min: 1, max: 1024 }))
    .option("master-port", integer("master-port", "with --nproc: rendezvous port on 127.0.0.1 (default: a free one)", { min: 1, max: 65535 }));
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: "train",
  describe: "Train a model with sft, dpo, sdpo or napo on an .arrow split; checkpoints and a JSONL log go to --out",
  builder: (y: Argv) => withTrainerFlags(commandFlags(y)).strict() as unknown as Argv<TrainArgs>,
  handler: async (args) => {
    try {
      const outcome = await runTrain(args);
      // Stopped by Ctrl-C after a clean stop: 130 (128 + SIGINT), as a shell reports a process Ctrl-C ended.
      if (outcome.status === "stopped") process.exitCode = 130;
    } catch (err) {
      process.stderr.write(`sdpo train: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    }
  },
};
