/**
 * `sdpo train --redraw-candidates [--subsequence-rows] [--copy-rows SHARE] [--skip-rows SHARE] [--tokenizer FILE]`: the training split read through
 * ResampledDataset (a fresh candidate list and re-rendered prompt per example and epoch; sub-sequence rows).
 * The choice is written into the run folder so `--resume` continues with the same rows.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { PreferenceDataset } from "../data/dataset";
import { ResampledDataset } from "../data/resample";
import { Tokenizer } from "../data/tokenizer";

export interface ResampleFlags {
  redrawCandidates?: boolean;
  subsequenceRows?: boolean;
  /** Share of copy rows (ResampledDataset's copyRows). */
  copyRows?: number;
  /** Share of skip rows per epoch (ResampledDataset's skipRows). */
  skipRows?: number;
  tokenizer?: string;
}

/** The run folder's record of how its training rows were read. */
export const RESAMPLE_RECORD = "data_resampling.json";

/** Flags as given, or on --resume with none of them given, the run's own record. */
export function resolveResampleFlags(args: ResampleFlags, out: string, resume: boolean): ResampleFlags {
  const given = args.redrawCandidates !== undefined || args.subsequenceRows !== undefined || args.copyRows !== undefined || args.skipRows !== undefined || args.tokenizer !== undefined;
  if (resume && !given) {
    const record = path.join(out, RESAMPLE_RECORD);
    if (!fs.existsSync(record)) return {};
    try {
      return JSON.parse(fs.readFileSync(record, "utf8")) as ResampleFlags;
    } catch (err) {
      throw new Error(`--resume: ${record} is unreadable (${(err as Error).message})`);
    }
  }
  if (!args.redrawCandidates && (args.subsequenceRows || args.copyRows !== undefined || args.skipRows !== undefined || args.tokenizer !== undefined)) {
    throw new Error("--subsequence-rows, --copy-rows, --skip-rows and --tokenizer re-render training rows: they need --redraw-candidates");
  }
  return args.redrawCandidates
    ? { redrawCandidates: true, subsequenceRows: args.subsequenceRows ?? false, copyRows: args.copyRows ?? 0, skipRows: args.skipRows ?? 0, tokenizer: args.tokenizer }
    : {};
}

/**
 * The training rows to fit on: `dataset` itself, or it re-drawn. The tokenizer is --tokenizer, else the model
 * folder's, else the tokenizer.json beside the data; it must be the one the file's token columns were made with.
 */
export async function trainingRows(
  dataset: PreferenceDataset,
  dataFile: string,
  flags: ResampleFlags,
  modelFolder: string | undefined
): Promise<PreferenceDataset | ResampledDataset> {
  if (!flags.redrawCandidates) return dataset;
  const candidates = [flags.tokenizer, modelFolder && path.join(modelFolder, "tokenizer.json"), path.join(path.dirname(dataFile), "tokenizer.json")];
  const file = candidates.find((f): f is string => typeof f === "string" && fs.existsSync(f));
  if (!file) throw new Error(`--redraw-candidates needs the data's tokenizer: pass --tokenizer FILE (looked for ${candidates.filter(Boolean).join(", ")})`);
  const expected = (await dataset.metadata()).tokenizer?.hash;
  const actual = createHash("sha256").update(fs.readFileSync(file)).digest("hex");
  if (expected && expected !== actual) {
    throw new Error(`--redraw-candidates: ${file} is not the tokenizer ${dataFile} was made with (sha256 ${actual.slice(0, 12)}..., the file records ${expected.slice(0, 12)}...)`);
  }
  return ResampledDataset.open(dataset, Tokenizer.fromFile(file), { subsequences: flags.subsequenceRows ?? false, copyRows: flags.copyRows ?? 0, skipRows: flags.skipRows ?? 0 });
}

/** Writes the flags into the run folder (atomically enough for a small JSON: write, then rename). */
export function recordResampleFlags(out: string, flags: ResampleFlags): void {
  fs.mkdirSync(out, { recursive: true });
  const file = path.join(out, RESAMPLE_RECORD);
  const tokenizer = flags.tokenizer ? path.resolve(flags.tokenizer) : undefined;
  fs.writeFileSync(file + ".tmp", JSON.stringify({ ...flags, tokenizer }, null, 2) + "\n");
  fs.renameSync(file + ".tmp", file);
}
