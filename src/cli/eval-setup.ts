/**
 * What `sdpo eval` and `sdpo demo` share: opening an evaluation split with the tokenizer that matches it,
 * checking folders before loading anything so mistakes get one clear line, and turning a loaded model
 * into what evaluate() calls.
 */
import * as fs from "fs";
import * as path from "path";
import { PreferenceDataset } from "../data/dataset";
import { Tokenizer } from "../data/tokenizer";
import { readItemPopularity, type ItemPopularity } from "../eval/popularity-bias";
import { sha256OfFile } from "../trainers/run_dir";

/** A user mistake (missing folder, bad flag): main() prints its message as one line, exit status 1. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Throws a UsageError unless `dir` is a model folder (config.json or a PEFT adapter_config.json). */
export function checkModelFolder(dir: string, flag = "--model"): string {
  const folder = path.resolve(dir);
  if (!fs.existsSync(folder)) throw new UsageError(`${flag} ${dir}: no such folder`);
  if (!fs.statSync(folder).isDirectory()) throw new UsageError(`${flag} ${dir}: not a folder (expected a Hugging Face model folder)`);
  if (!fs.existsSync(path.join(folder, "config.json")) && !fs.existsSync(path.join(folder, "adapter_config.json"))) {
    throw new UsageError(`${flag} ${dir}: has no config.json (nor adapter_config.json); not a Hugging Face model folder`);
  }
  return folder;
}

export function checkDataFile(file: string, flag = "--data"): string {
  const resolved = path.resolve(file);
  if (!fs.existsSync(resolved)) throw new UsageError(`${flag} ${file}: no such file`);
  if (!fs.statSync(resolved).isFile()) throw new UsageError(`${flag} ${file}: not a file (expected an .arrow file)`);
  return resolved;
}

export function checkPositiveInteger(value: unknown, flag: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new UsageError(`${flag} must be a positive integer, got ${typeof value === "string" ? JSON.stringify(value) : String(value)}`);
  }
  return value;
}

export interface EvalDataOptions {
  /** --tokenizer: this file, before any other. */
  tokenizer?: string;
  /** false (ranking / constrained only: nothing to decode): no tokenizer is looked for unless --tokenizer names one. */
  needTokenizer?: boolean;
}

/**
 * The evaluation split and the tokenizer to decode generations with: --tokenizer, else the model folder's
 * tokenizer.json, else the one beside the data file (a shipped dataset's own). When the data names the tokenizer
 * that made its token ids (hash), a different tokenizer is refused: the ids would mean other words. Without
 * generation (`needTokenizer: false`) the tokenizer is only opened when --tokenizer names one.
 */
export async function openEvalData(
  dataFile: string,
  modelFolder: string | undefined,
  options: EvalDataOptions = {}
): Promise<{ dataset: PreferenceDataset; tokenizer: Tokenizer | undefined; rows: number }> {
  const dataset = PreferenceDataset.fromArrow(dataFile);
  const metadata = await dataset.metadata();
  let tokenizerFile: string | undefined;
  if (options.tokenizer !== undefined) {
    tokenizerFile = path.resolve(options.tokenizer);
    if (!fs.existsSync(tokenizerFile)) throw new UsageError(`--tokenizer ${options.tokenizer}: no such file`);
    if (!fs.statSync(tokenizerFile).isFile()) throw new UsageError(`--tokenizer ${options.tokenizer}: not a file (expected a tokenizer.json)`);
  } else if (options.needTokenizer !== false) {
    const candidates = [
      ...(modelFolder ? [path.join(modelFolder, "tokenizer.json")] : []),
      path.join(path.dirname(dataFile), "tokenizer.json"),
    ];
    tokenizerFile = candidates.find((f) => fs.existsSync(f));
    if (!tokenizerFile) {
      throw new UsageError(
        `no tokenizer.json in ${candidates.map((f) => path.dirname(f)).join(" or ")}: pass --tokenizer FILE (generation decodes its outputs; --no-generation needs none)`
      );
    }
  }
  let tokenizer: Tokenizer | undefined;
  if (tokenizerFile !== undefined) {
    tokenizer = Tokenizer.fromFile(tokenizerFile);
    checkDataTokenizer(dataFile, metadata.tokenizer?.hash, tokenizerFile, tokenizer.hash);
  }
  return { dataset, tokenizer, rows: await dataset.countRows() };
}

/**
 * Refuses a tokenizer other than the one a data file's token columns were made with (`expectedHash`: the sha256
 * of that tokenizer.json, as the file's schema metadata records it): the ids would mean other words. Nothing is
 * checked when the file records no tokenizer. `hint` ends the message (what to do about it).
 */
export function checkDataTokenizer(dataFile: string, expectedHash: string | undefined, tokenizerFile: string, actualHash: string, hint = ""): void {
  if (expectedHash && expectedHash !== actualHash) {
    throw new UsageError(`${dataFile} was tokenized with another tokenizer (sha256 ${expectedHash.slice(0, 12)}…) than ${tokenizerFile} (${actualHash.slice(0, 12)}…)${hint}`);
  }
}

/** Frees a model's native memory, whichever shape it has. */
export function disposeModel(model: unknown): void {
  const m = model as { dispose?: () => void; disposed?: boolean; native?: { dispose(): void; disposed: boolean } };
  if (typeof m.dispose === "function") {
    if (!m.disposed) m.dispose();
  } else if (m.native && !m.native.disposed) m.native.dispose();
}

/** The training file a model or baseline records (path, sha256 when trained) and where the record is. */
export interface RecordedTrainingData {
  file: string;
  sha256: string;
  where: string;
}

/**
 * Item popularity for the popularity-bias metrics: counted on `--train-data` when given, else on the recorded
 * training file when it is still there unchanged; otherwise the reason the metrics are left out.
 */
export async function resolvePopularity(
  recorded: RecordedTrainingData | undefined,
  trainData: string | undefined
): Promise<{ popularity: ItemPopularity } | { omitted: string }> {
  if (trainData !== undefined) return { popularity: await readItemPopularity(checkDataFile(trainData, "--train-data")) };
  const hint = "pass --train-data FILE to count item popularity on it";
  if (!recorded) return { omitted: `no training data is recorded for this model; ${hint}` };
  const file = path.resolve(recorded.file);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
    return { omitted: `the training file ${recorded.file} recorded in ${recorded.where} is gone; ${hint}` };
  }
  const sha256 = await sha256OfFile(file);
  if (sha256 !== recorded.sha256) {
    return { omitted: `${recorded.file} has changed since training (sha256 ${sha256.slice(0, 12)}..., ${recorded.where} records ${recorded.sha256.slice(0, 12)}...); ${hint}` };
  }
  return { popularity: await readItemPopularity(file) };
}
