/**
 * One training stage of `sdpo demo` (SFT, DPO or S-DPO on a model it is given): progress, a JSONL log, the model
 * folder and its curve plot. The demo runs it in its own process, and each rank of a data-parallel SFT stage runs it
 * too (demo-sft-rank.ts), where rank 0 alone talks and writes.
 */
import * as fs from "fs";
import * as path from "path";
import { saveModel } from "../model/checkpoint";
import type { Model } from "../model/model";
import { plotTrainingCurves } from "../report/curves";
import { attachJsonlLog } from "../report/jsonl";
import { attachProgress, formatDuration } from "../report/progress";
import { createTrainer } from "../trainers";
import type { PreferenceSource } from "../trainers/source";
import type { FitReport, LossName, TrainerOptions } from "../trainers/types";

export interface DemoStage {
  /** sft, dpo, sdpo, sdpo-k7, ...: the progress label, logs/<label>.jsonl and plots/<label>.svg. */
  label: string;
  loss: LossName;
  options: Omit<TrainerOptions, "model" | "outputDir">;
  model: Model;
  train: PreferenceSource;
  /** Validation rows for the loss curves; undefined: none. */
  curveEval?: PreferenceSource;
  /** The model folder written at the end (atomically, by saveModel). */
  dir: string;
  /** The folder holding logs/ and plots/. */
  logDir: string;
  /** The tokenizer.json copied into the model folder. */
  tokenizerFile: string;
  err: NodeJS.WritableStream;
  signal: AbortSignal;
  /** false on the ranks other than 0 of a data-parallel stage: they train and write nothing. */
  writes?: boolean;
}

export async function trainDemoStage(stage: DemoStage): Promise<FitReport> {
  const writes = stage.writes ?? true;
  const trainer = createTrainer(stage.loss, { ...stage.options, model: stage.model });
  const progress = writes ? attachProgress(trainer, { label: stage.label, stream: stage.err }) : undefined;
  const logFile = path.join(stage.logDir, "logs", `${stage.label}.jsonl`);
  const log = writes ? attachJsonlLog(trainer, logFile) : undefined;
  try {
    const report = await trainer.fit(stage.train, { eval: stage.curveEval, signal: stage.signal });
    progress?.stop();
    if (report.aborted) throw new Error(`interrupted during ${stage.label} training`);
    if (writes) {
      await saveModel(stage.model, stage.dir, { overwrite: true });
      copyTokenizer(stage.tokenizerFile, stage.dir);
      plotTrainingCurves([{ label: stage.label, path: logFile }], path.join(stage.logDir, "plots", `${stage.label}.svg`));
      stage.err.write(`${stage.label}: ${report.steps} steps in ${formatDuration(report.seconds)}, final loss ${report.finalLoss.toFixed(4)} -> ${stage.dir}\n`);
    }
    return report;
  } finally {
    progress?.stop();
    log?.close();
    (trainer as { dispose?: () => void }).dispose?.();
  }
}

/** Model folders should open with `sdpo eval` and in Hugging Face tools: they need the tokenizer. */
function copyTokenizer(tokenizerFile: string, folder: string): void {
  const target = path.join(folder, "tokenizer.json");
  if (!fs.existsSync(target)) fs.copyFileSync(tokenizerFile, target);
}
