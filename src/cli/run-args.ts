/**
 * The run folder's record of how `sdpo train` was started (train_args.json): the model it started from, the
 * data, the device and the LoRA shape, what the trainer options in trainer_state.json do not hold. With it,
 * `sdpo train --resume DIR` needs nothing else: the trainer options come back from the latest checkpoint, the
 * rest from here.
 */
import * as fs from "fs";
import * as path from "path";
import { TRAINER_FLAGS, VARIANT_FLAGS } from "./train-flags";

export const RUN_ARGS_FILE = "train_args.json";
export const RUN_ARGS_FORMAT = "softmax-dpo-train-args/1";

/**
 * Flags of `sdpo train` a resumed run takes from the record when they are not given again. The trainer flags are
 * here too (a run stopped before its first checkpoint has no trainer_state.json to take them from).
 */
export const RECORDED_FLAGS: readonly string[] = [
  "loss", "data", "eval", "model", "config", "device", "dtype", "lora", "loraRank", "loraAlpha", "loraDropout", "allowNonFiniteWeights",
  ...TRAINER_FLAGS,
];

export interface RunArgsRecord {
  format: typeof RUN_ARGS_FORMAT;
  /** Absolute paths for files and folders (data, eval, model, a config file); preset names as given. */
  args: Partial<Record<string, string | number | boolean>>;
}

/**
 * Fills the flags of `args` not given from `record`: a --model or --config given again replaces both recorded ones,
 * a variant flag given again all recorded variant flags.
 */
export function fillFromRecord(args: Record<string, unknown>, record: RunArgsRecord): void {
  const modelGiven = args.model !== undefined || args.config !== undefined;
  const variantGiven = VARIANT_FLAGS.some((key) => args[key] !== undefined);
  for (const key of RECORDED_FLAGS) {
    if ((key === "model" || key === "config") && modelGiven) continue;
    if (VARIANT_FLAGS.includes(key) && variantGiven) continue;
    if (args[key] === undefined && record.args[key] !== undefined) args[key] = record.args[key];
  }
}

/** The record of `out`, undefined when it has none (a run started before the record existed); throws when unreadable. */
export function readRunArgs(out: string): RunArgsRecord | undefined {
  const file = path.join(out, RUN_ARGS_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  let record: RunArgsRecord;
  try {
    record = JSON.parse(text) as RunArgsRecord;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (record?.format !== RUN_ARGS_FORMAT || typeof record.args !== "object" || record.args === null) {
    throw new Error(`${file}: not a ${RUN_ARGS_FORMAT} record`);
  }
  return record;
}

/** Writes the record of `args` into `out` (write, then rename). Paths are made absolute so any folder can resume. */
export function writeRunArgs(out: string, args: object): void {
  const recorded: RunArgsRecord["args"] = {};
  for (const key of RECORDED_FLAGS) {
    const given = (args as Record<string, unknown>)[key];
    if (typeof given !== "string" && typeof given !== "number" && typeof given !== "boolean") continue;
    let value: string | number | boolean = given;
    if ((key === "data" || key === "eval" || key === "model") && typeof value === "string") value = path.resolve(value);
    if (key === "config" && typeof value === "string" && value !== "tiny" && value !== "small") value = path.resolve(value);
    recorded[key] = value;
  }
  fs.mkdirSync(out, { recursive: true });
  const file = path.join(out, RUN_ARGS_FILE);
  const temp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(temp, JSON.stringify({ format: RUN_ARGS_FORMAT, args: recorded } satisfies RunArgsRecord, null, 2) + "\n");
  fs.renameSync(temp, file);
}
