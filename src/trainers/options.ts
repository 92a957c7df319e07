/** Trainer options with their defaults filled in and checked once, up front. */
import type { LossName, LrSchedulerType, ReferenceMode, TrainerOptions } from "./types";

export type ResolvedOptions = Required<Omit<TrainerOptions, "model" | "outputDir" | "referenceMode">> & {
  outputDir?: string;
  referenceMode: ReferenceMode;
  overwrite: boolean;
};

const SCHEDULERS: LrSchedulerType[] = ["cosine", "linear", "constant"];
const REFERENCE_MODES: ReferenceMode[] = ["adapters-off", "frozen-copy", "precomputed"];

/** Option names a trainer accepts (used to reject typos in plain-object options). */
export const OPTION_NAMES = [
  "model", "learningRate", "beta", "negatives", "batchSize", "gradientAccumulationSteps", "numTrainEpochs",
  "warmupRatio", "lrSchedulerType", "maxGradNorm", "weightDecay", "adamBeta1", "adamBeta2", "adamEpsilon", "seed",
  "evalSteps", "saveSteps", "outputDir", "referenceMode", "logSteps", "overwrite",
] as const;

function check(name: string, value: number, ok: (v: number) => boolean, rule: string): number {
  if (typeof value !== "number" || !ok(value)) throw new RangeError(`${name} must be ${rule}, got ${String(value)}`);
  return value;
}
const finite = (v: number) => Number.isFinite(v);
const positive = (v: number) => Number.isFinite(v) && v > 0;
const nonNegative = (v: number) => Number.isFinite(v) && v >= 0;
const wholePositive = (v: number) => Number.isInteger(v) && v >= 1;
const wholeNonNegative = (v: number) => Number.isInteger(v) && v >= 0;

export function resolveOptions(loss: LossName, options: TrainerOptions, hasAdapters: boolean): ResolvedOptions {
  if (!options || typeof options !== "object") throw new TypeError("trainer options must be an object");
  for (const key of Object.keys(options)) {
    if (!(OPTION_NAMES as readonly string[]).includes(key)) {
      throw new RangeError(`unknown trainer option '${key}' (valid: ${OPTION_NAMES.join(", ")})`);
    }
  }
  const o = options as TrainerOptions & { overwrite?: boolean };
  const negativesDefault = loss === "sdpo" ? 3 : loss === "dpo" ? 1 : 0;
  const negatives = o.negatives ?? negativesDefault;
  if (loss === "dpo" && negatives !== 1) throw new RangeError(`dpo uses exactly 1 negative per example, got negatives = ${negatives}`);
  if (loss === "sdpo") check("negatives", negatives, wholePositive, "a whole number >= 1 for sdpo");
  const lrSchedulerType = o.lrSchedulerType ?? "cosine";
  if (!SCHEDULERS.includes(lrSchedulerType)) {
    throw new RangeError(`lrSchedulerType must be one of ${SCHEDULERS.join(", ")}, got '${String(lrSchedulerType)}'`);
  }
  const referenceMode = o.referenceMode ?? (hasAdapters ? "adapters-off" : "frozen-copy");
  if (!REFERENCE_MODES.includes(referenceMode)) {
    throw new RangeError(`referenceMode must be one of ${REFERENCE_MODES.join(", ")}, got '${String(referenceMode)}'`);
  }
  if (referenceMode === "adapters-off" && !hasAdapters && loss !== "sft") {
    throw new RangeError("referenceMode 'adapters-off' needs a model with LoRA adapters; use 'frozen-copy' or 'precomputed'");
  }
  if (o.outputDir !== undefined && (typeof o.outputDir !== "string" || o.outputDir === "")) {
    throw new TypeError("outputDir must be a non-empty string");
  }
  return {
    learningRate: check("learningRate", o.learningRate ?? 1e-4, nonNegative, "a finite number >= 0"),
    beta: check("beta", o.beta ?? 1.0, positive, "a finite number > 0"),
    negatives: loss === "sft" ? 0 : negatives,
    batchSize: check("batchSize", o.batchSize ?? 8, wholePositive, "a whole number >= 1"),
    gradientAccumulationSteps: check("gradientAccumulationSteps", o.gradientAccumulationSteps ?? 1, wholePositive, "a whole number >= 1"),
    numTrainEpochs: check("numTrainEpochs", o.numTrainEpochs ?? 1, wholePositive, "a whole number >= 1"),
    warmupRatio: check("warmupRatio", o.warmupRatio ?? 0, (v) => v >= 0 && v <= 1, "in [0, 1]"),
    lrSchedulerType,
    maxGradNorm: check("maxGradNorm", o.maxGradNorm ?? 1.0, nonNegative, "a finite number >= 0 (0 disables clipping)"),
    weightDecay: check("weightDecay", o.weightDecay ?? 0, nonNegative, "a finite number >= 0"),
    adamBeta1: check("adamBeta1", o.adamBeta1 ?? 0.9, (v) => v >= 0 && v < 1, "in [0, 1)"),
    adamBeta2: check("adamBeta2", o.adamBeta2 ?? 0.999, (v) => v >= 0 && v < 1, "in [0, 1)"),
    adamEpsilon: check("adamEpsilon", o.adamEpsilon ?? 1e-8, positive, "a finite number > 0"),
    seed: check("seed", o.seed ?? 42, (v) => Number.isInteger(v) && finite(v), "a whole number"),
    evalSteps: check("evalSteps", o.evalSteps ?? 0, wholeNonNegative, "a whole number >= 0"),
    saveSteps: check("saveSteps", o.saveSteps ?? 0, wholeNonNegative, "a whole number >= 0"),
    logSteps: check("logSteps", o.logSteps ?? 1, wholePositive, "a whole number >= 1"),
    outputDir: o.outputDir,
    referenceMode,
    overwrite: o.overwrite ?? false,
  };
}
