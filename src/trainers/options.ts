/** Trainer options with their defaults filled in and checked once, up front. */
import type { DistributedBackend, LossName, LrSchedulerType, NegativeSampling, ReferenceMode, RewardMarginMode, TrainerOptions } from "./types";

export interface ResolvedRewardMargin {
  mode: RewardMarginMode;
  gamma: number;
  tau: number;
  confidence: "reference" | "policy";
}

export type ResolvedOptions = Required<
  Omit<
    TrainerOptions,
    "model" | "outputDir" | "referenceMode" | "rewardMargin" | "inBatchNegatives" | "negativeSampling" | "poolSize" | "poolRefreshSteps" | "distributed" | "maxSteps" | "saveTotalLimit"
  >
> & {
  /** null: numTrainEpochs decides the number of steps. */
  maxSteps: number | null;
  /** null: every checkpoint is kept. */
  saveTotalLimit: number | null;
  /** null: train alone even under a launcher (distributed: false). */
  distributed: ResolvedDistributed | null;
  outputDir?: string;
  referenceMode: ReferenceMode;
  overwrite: boolean;
  /** napo's margin; null for the other losses. */
  rewardMargin: ResolvedRewardMargin | null;
  /** null: off; cap null: no cap. */
  inBatchNegatives: { cap: number | null } | null;
  negativeSampling: NegativeSampling;
  /** null unless negativeSampling is "pool" or "hard". */
  poolSize: number | null;
  poolRefreshSteps: number | null;
};

export interface ResolvedDistributed {
  backend: DistributedBackend;
  timeoutMs: number;
  bucketBytes: number;
}

const SCHEDULERS: LrSchedulerType[] = ["cosine", "linear", "constant"];
const REFERENCE_MODES: ReferenceMode[] = ["adapters-off", "frozen-copy", "precomputed"];
const SAMPLINGS: NegativeSampling[] = ["fixed", "random", "hard", "pool"];
const MARGIN_MODES: RewardMarginMode[] = ["none", "fixed", "dynamic"];
const MARGIN_KEYS = ["mode", "gamma", "tau", "confidence"];

/** Option names a trainer accepts (used to reject typos in plain-object options). */
export const OPTION_NAMES = [
  "model", "learningRate", "beta", "negatives", "batchSize", "gradientAccumulationSteps", "numTrainEpochs",
  "warmupRatio", "lrSchedulerType", "maxGradNorm", "weightDecay", "weightDecayAllParameters", "adamBeta1", "adamBeta2",
  "adamEpsilon", "seed", "evalSteps", "saveSteps", "outputDir", "referenceMode", "logSteps", "overwrite", "rewardMargin",
  "inBatchNegatives", "negativeSampling", "poolSize", "poolRefreshSteps", "distributed", "maxSteps", "saveTotalLimit",
] as const;
const DISTRIBUTED_KEYS = ["backend", "timeoutMs", "bucketBytes"];
const BACKENDS: DistributedBackend[] = ["gloo", "nccl", "auto"];

function check(name: string, value: number, ok: (v: number) => boolean, rule: string): number {
  if (typeof value !== "number" || !ok(value)) throw new RangeError(`${name} must be ${rule}, got ${String(value)}`);
  return value;
}
function flag(name: string, value: boolean): boolean {
  if (typeof value !== "boolean") throw new TypeError(`${name} must be a boolean, got ${String(value)}`);
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
  const listwise = loss === "sdpo" || loss === "napo";
  const negativesDefault = listwise ? 3 : loss === "dpo" ? 1 : 0;
  const negatives = o.negatives ?? negativesDefault;
  if (loss === "dpo" && negatives !== 1) throw new RangeError(`dpo uses exactly 1 negative per example, got negatives = ${negatives}`);
  if (listwise) check("negatives", negatives, wholePositive, `a whole number >= 1 for ${loss}`);
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
  const variants = resolveVariants(loss, o, negatives, referenceMode);
  return {
    ...variants,
    distributed: resolveDistributed(o.distributed),
    learningRate: check("learningRate", o.learningRate ?? 1e-4, nonNegative, "a finite number >= 0"),
    beta: check("beta", o.beta ?? 1.0, positive, "a finite number > 0"),
    negatives: loss === "sft" ? 0 : negatives,
    batchSize: check("batchSize", o.batchSize ?? 8, wholePositive, "a whole number >= 1"),
    gradientAccumulationSteps: check("gradientAccumulationSteps", o.gradientAccumulationSteps ?? 1, wholePositive, "a whole number >= 1"),
    numTrainEpochs: check("numTrainEpochs", o.numTrainEpochs ?? 1, positive, "a finite number > 0 (fractions train part of an epoch)"),
    maxSteps: o.maxSteps == null ? null : check("maxSteps", o.maxSteps, wholePositive, "a whole number >= 1"),
    saveTotalLimit: o.saveTotalLimit == null ? null : check("saveTotalLimit", o.saveTotalLimit, wholePositive, "a whole number >= 1"),
    warmupRatio: check("warmupRatio", o.warmupRatio ?? 0, (v) => v >= 0 && v <= 1, "in [0, 1]"),
    lrSchedulerType,
    maxGradNorm: check("maxGradNorm", o.maxGradNorm ?? 1.0, nonNegative, "a finite number >= 0 (0 disables clipping)"),
    weightDecay: check("weightDecay", o.weightDecay ?? 0, nonNegative, "a finite number >= 0"),
    weightDecayAllParameters: flag("weightDecayAllParameters", o.weightDecayAllParameters ?? false),
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

/** The options of the variants (NAPO's margin and in-batch sharing, RoDPO's pool), checked together. */
function resolveVariants(
  loss: LossName,
  o: TrainerOptions,
  negatives: number,
  referenceMode: ReferenceMode
): Pick<ResolvedOptions, "rewardMargin" | "inBatchNegatives" | "negativeSampling" | "poolSize" | "poolRefreshSteps"> {
  const listwise = loss === "sdpo" || loss === "napo";
  let rewardMargin: ResolvedRewardMargin | null = null;
  if (o.rewardMargin !== undefined && loss !== "napo") {
    throw new RangeError(`rewardMargin is a napo option (this trainer is ${loss}); use loss 'napo', whose mode 'none' is S-DPO`);
  }
  if (loss === "napo") {
    const m = o.rewardMargin ?? {};
    if (typeof m !== "object" || m === null) throw new TypeError("rewardMargin must be an object { mode, gamma, tau, confidence }");
    for (const key of Object.keys(m)) {
      if (!MARGIN_KEYS.includes(key)) throw new RangeError(`unknown rewardMargin option '${key}' (valid: ${MARGIN_KEYS.join(", ")})`);
    }
    const mode = m.mode ?? "dynamic";
    if (!MARGIN_MODES.includes(mode)) throw new RangeError(`rewardMargin.mode must be one of ${MARGIN_MODES.join(", ")}, got '${String(mode)}'`);
    const confidence = m.confidence ?? "reference";
    if (confidence !== "reference" && confidence !== "policy") {
      throw new RangeError(`rewardMargin.confidence must be 'reference' or 'policy', got '${String(confidence)}'`);
    }
    rewardMargin = {
      mode,
      gamma: check("rewardMargin.gamma", m.gamma ?? 0.5, nonNegative, "a finite number >= 0"),
      tau: check("rewardMargin.tau", m.tau ?? 1, positive, "a finite number > 0"),
      confidence,
    };
  }

  let inBatchNegatives: { cap: number | null } | null = null;
  const ib = o.inBatchNegatives;
  if (ib !== undefined && ib !== false) {
    if (!listwise) throw new RangeError(`inBatchNegatives needs a listwise loss (sdpo or napo), this trainer is ${loss}`);
    if (ib === true) inBatchNegatives = { cap: null };
    else if (typeof ib === "object" && ib !== null) {
      for (const key of Object.keys(ib)) if (key !== "cap") throw new RangeError(`unknown inBatchNegatives option '${key}' (valid: cap)`);
      inBatchNegatives = { cap: ib.cap === undefined ? null : check("inBatchNegatives.cap", ib.cap, wholeNonNegative, "a whole number >= 0") };
    } else throw new TypeError(`inBatchNegatives must be a boolean or { cap?: number }, got ${String(ib)}`);
  }

  const negativeSampling = o.negativeSampling ?? "fixed";
  if (!SAMPLINGS.includes(negativeSampling)) {
    throw new RangeError(`negativeSampling must be one of ${SAMPLINGS.join(", ")}, got '${String(negativeSampling)}'`);
  }
  const pooled = negativeSampling === "pool" || negativeSampling === "hard";
  if (negativeSampling !== "fixed" && loss === "sft") throw new RangeError(`negativeSampling '${negativeSampling}' needs a loss with negatives, this trainer is sft`);
  if (!pooled && (o.poolSize !== undefined || o.poolRefreshSteps !== undefined)) {
    throw new RangeError(`poolSize and poolRefreshSteps apply to negativeSampling 'pool' or 'hard', not '${negativeSampling}'`);
  }
  let poolSize: number | null = null;
  let poolRefreshSteps: number | null = null;
  if (pooled) {
    if (inBatchNegatives) throw new RangeError(`inBatchNegatives cannot be combined with negativeSampling '${negativeSampling}' (each builds the step's negatives)`);
    poolSize = check("poolSize", o.poolSize ?? Math.max(5, negatives), wholePositive, "a whole number >= 1");
    if (negatives > poolSize) throw new RangeError(`negatives (${negatives}) must be <= poolSize (${poolSize}): each step draws its negatives from the pool`);
    poolRefreshSteps = check("poolRefreshSteps", o.poolRefreshSteps ?? 50, wholePositive, "a whole number >= 1");
  }
  if (referenceMode === "precomputed" && (pooled || inBatchNegatives)) {
    throw new RangeError("referenceMode 'precomputed' scores the data's own negatives once; in-batch or pooled negatives change every step, use 'frozen-copy' or 'adapters-off'");
  }
  return { rewardMargin, inBatchNegatives, negativeSampling, poolSize, poolRefreshSteps };
}

/** `distributed` option: undefined / true / an object -> data parallel where a launcher set WORLD_SIZE; false -> off. */
export function resolveDistributed(d: TrainerOptions["distributed"]): ResolvedDistributed | null {
  if (d === false) return null;
  const given = d === undefined || d === true ? {} : d;
  if (typeof given !== "object" || given === null || Array.isArray(given)) {
    throw new TypeError(`distributed must be a boolean or { backend, timeoutMs, bucketBytes }, got ${String(d)}`);
  }
  for (const key of Object.keys(given)) {
    if (!DISTRIBUTED_KEYS.includes(key)) throw new RangeError(`unknown distributed option '${key}' (valid: ${DISTRIBUTED_KEYS.join(", ")})`);
  }
  const backend = given.backend ?? "auto";
  if (!BACKENDS.includes(backend)) throw new RangeError(`distributed.backend must be one of ${BACKENDS.join(", ")}, got '${String(backend)}'`);
  return {
    backend,
    timeoutMs: check("distributed.timeoutMs", given.timeoutMs ?? 600000, (v) => wholePositive(v) && v <= 86400000, "a whole number of milliseconds in [1, 86400000]"),
    bucketBytes: check("distributed.bucketBytes", given.bucketBytes ?? 25 * 1024 * 1024, (v) => wholeNonNegative(v) && v <= 2 ** 40, "a whole number >= 0"),
  };
}
