/**
 * One record per trainer option: its default, its check, whether a resumed run must keep it, whether the native
 * trainer receives it, and the `sdpo train` flags that set it. OPTION_NAMES, the resolution, the resume check,
 * the native trainer's options and the train command's flags are all derived from these records; a new option
 * is a field of TrainerOptions (its public type and doc) plus its record here.
 * Records resolve in their order: a record's default and check may read the options resolved before it.
 */
import {
  check, choice, finite, flag, isListwise, nonNegative, positive, resolveDistributed, resolveInBatchNegatives,
  resolveRewardMargin, wholeNonNegative, wholePositive,
} from "./option-checks";
import type { OptionName, ResolvedOptions } from "./resolved";
import type { DistributedBackend, LossName, LrSchedulerType, NegativeSampling, ReferenceMode, RewardMarginMode, TrainerOptions } from "./types";

export interface ResolveContext {
  loss: LossName;
  hasAdapters: boolean;
  /** The options as given. */
  given: TrainerOptions;
  /** The options of the records before this one, resolved. */
  resolved: Partial<ResolvedOptions>;
}

/** Bounds of a numeric flag (min / max inclusive, above / below exclusive). */
export interface FlagRange {
  min?: number;
  max?: number;
  above?: number;
  below?: number;
}

/** A flag of `sdpo train`, as data: the CLI turns it into a yargs option. */
export interface FlagSpec {
  /** kebab-case; yargs also hands its value over under the camelCased name. */
  flag: string;
  /** TRL's names of the flag (snake_case), or other spellings. */
  alias?: string | readonly string[];
  help: string;
  value: { integer: FlagRange } | { real: FlagRange } | { choices: readonly string[] } | "boolean";
  /** A number that means "not set" (TRL's -1 of max_steps). */
  unset?: number;
}

/** Values of the flags that spell nested options, beside the flags named as an option. */
export interface NestedOptionFlags {
  inBatchNegatives?: boolean;
  inBatchCap?: number;
  rewardMargin?: RewardMarginMode;
  marginGamma?: number;
  marginTau?: number;
  marginConfidence?: "reference" | "policy";
  backend?: DistributedBackend;
  distTimeoutMs?: number;
}

/** The parsed trainer flags of `sdpo train`: the option-named flags, the nested options' flags, and the loss. */
export type TrainerFlagValues = Partial<Omit<TrainerOptions, "model" | "outputDir" | keyof NestedOptionFlags | "distributed">> &
  NestedOptionFlags & { loss?: LossName };

export interface OptionCli<K extends OptionName> {
  flags: readonly FlagSpec[];
  /** The option from the parsed flags (undefined: not given); without it, the value of the flag named as the
   *  option. Throws a RangeError naming the flags for a usage mistake. */
  read?(flags: TrainerFlagValues): TrainerOptions[K] | undefined;
  /** What a resumed run takes from its checkpoint when the flags are not given again: "each" this option's saved
   *  value; "variants" the saved value, with the other variant options, when no variant flag is given again.
   *  Without it, the flags come back from the run's train_args.json only. */
  resume?: "each" | "variants";
  /** The option from its resolved value in a checkpoint; without it, that value itself (null: not set). */
  fromCheckpoint?(saved: unknown): TrainerOptions[K] | undefined;
}

export interface OptionRecord<K extends OptionName> {
  /** The value when the option is not given: a constant, or computed from the context. */
  default?: Exclude<TrainerOptions[K], undefined> | ((ctx: ResolveContext) => TrainerOptions[K]);
  /** Checks the given (or default) value and returns the resolved one; throws naming the option. */
  check(value: TrainerOptions[K], ctx: ResolveContext): ResolvedOptions[K];
  /** A resumed run must use the checkpoint's value (the option fixes the data order or the schedule);
   *  `absentAs`: what a checkpoint written before the option existed stands for. */
  resume?: { mustMatch: true; absentAs?: ResolvedOptions[K] };
  /** The native trainer receives the resolved value under the option's name (unless it is null). */
  native?: true;
  cli?: OptionCli<K>;
}

/** Upper bound of step counts and intervals on the command line. */
const STEP_COUNT = 1_000_000_000;
const MUST_MATCH = { mustMatch: true } as const;
const SCHEDULERS: LrSchedulerType[] = ["cosine", "linear", "constant"];
const REFERENCE_MODES: ReferenceMode[] = ["adapters-off", "frozen-copy", "precomputed"];
const SAMPLINGS: NegativeSampling[] = ["fixed", "random", "hard", "pool"];

/** K when `negatives` is not given: sdpo and napo 3, dpo its one, sft none. */
export function defaultNegatives(loss: LossName): number {
  return isListwise(loss) ? 3 : loss === "dpo" ? 1 : 0;
}

/** The check of a weight of an sft-only loss term: a finite number >= 0, and 0 for every other loss. */
function sftTermWeight(name: "listWeight" | "listSmoothing" | "historyUnlikelihood") {
  return (v: number | undefined, { loss }: { loss: LossName }): number => {
    const weight = check(name, v!, nonNegative, "a finite number >= 0");
    if (weight > 0 && loss !== "sft") throw new RangeError(`${name} is a term of the sft loss, not of ${loss}`);
    return weight;
  };
}

/** sft reads each row's other candidates as negatives when one of its candidate-list terms is on. */
export function usesCandidateNegatives(options: { listWeight?: number; listSmoothing?: number }): boolean {
  return (options.listWeight ?? 0) > 0 || (options.listSmoothing ?? 0) > 0;
}

const isPooled = (sampling: NegativeSampling | undefined) => sampling === "pool" || sampling === "hard";

/** A plain option's single flag, filled from the checkpoint on resume. */
function plainFlag(spec: FlagSpec): OptionCli<never> {
  return { flags: [spec], resume: "each" };
}

export const OPTION_RECORDS: { readonly [K in OptionName]: OptionRecord<K> } = {
  learningRate: {
    default: 1e-4,
    check: (v) => check("learningRate", v!, nonNegative, "a finite number >= 0"),
    resume: MUST_MATCH,
    cli: plainFlag({ flag: "learning-rate", alias: "learning_rate", help: "peak learning rate (default 1e-4)", value: { real: { min: 0 } } }),
  },
  beta: {
    default: 1.0,
    check: (v) => check("beta", v!, positive, "a finite number > 0"),
    native: true,
    cli: plainFlag({ flag: "beta", help: "DPO / S-DPO beta (default 1)", value: { real: { above: 0 } } }),
  },
  listWeight: {
    default: 0,
    check: sftTermWeight("listWeight"),
    native: true,
    cli: plainFlag({
      flag: "list-weight", help: "sft: weight of the candidate-list term, -log P(answer is a listed candidate) (default 0; needs --negatives, all other candidates)",
      value: { real: { min: 0 } },
    }),
  },
  listSmoothing: {
    default: 0,
    check: sftTermWeight("listSmoothing"),
    native: true,
    cli: plainFlag({
      flag: "list-smoothing", help: "sft: label smoothing toward the listed candidates' first tokens (default 0; needs --negatives, all other candidates)",
      value: { real: { min: 0 } },
    }),
  },
  historyUnlikelihood: {
    default: 0,
    check: sftTermWeight("historyUnlikelihood"),
    native: true,
    cli: plainFlag({
      flag: "history-unlikelihood", help: "sft: weight of -log(1 - p) of answering with an item of the row's history (default 0; needs --redraw-candidates)",
      value: { real: { min: 0 } },
    }),
  },
  residualDropout: {
    default: 0,
    check: (v) => {
      if (!(typeof v === "number" && v >= 0 && v < 1)) throw new RangeError(`residualDropout must be a number in [0, 1), got ${v}`);
      return v;
    },
    native: true,
    cli: plainFlag({ flag: "residual-dropout", help: "dropout on each decoder layer's attention and MLP outputs while training (default 0)", value: { real: { min: 0, below: 1 } } }),
  },
  chosenNllWeight: {
    default: 0,
    check: (v, { loss }) => {
      const weight = check("chosenNllWeight", v!, nonNegative, "a finite number >= 0");
      if (weight > 0 && loss === "sft") throw new RangeError("chosenNllWeight is a term of the preference losses (dpo, sdpo, napo): sft is that NLL already");
      return weight;
    },
    native: true,
    cli: plainFlag({
      flag: "chosen-nll-weight", help: "dpo / sdpo / napo: weight of the chosen responses' token NLL added to the loss, as in RPO (default 0)",
      value: { real: { min: 0 } },
    }),
  },
  negatives: {
    default: (ctx) => defaultNegatives(ctx.loss),
    check: (negatives, { loss, resolved }) => {
      if (loss === "dpo" && negatives !== 1) throw new RangeError(`dpo uses exactly 1 negative per example, got negatives = ${negatives}`);
      if (isListwise(loss)) check("negatives", negatives!, wholePositive, `a whole number >= 1 for ${loss}`);
      if (loss === "sft" && usesCandidateNegatives(resolved)) {
        return check("negatives", negatives!, wholePositive, "a whole number >= 1 for sft with listWeight or listSmoothing > 0 (the other candidates of each row, 19 on LastFM)");
      }
      return loss === "sft" ? 0 : negatives!;
    },
    resume: MUST_MATCH,
    cli: plainFlag({ flag: "negatives", help: "negatives per example (sdpo default 3, dpo 1)", value: { integer: { min: 0, max: 4096 } } }),
  },
  batchSize: {
    default: 8,
    check: (v) => check("batchSize", v!, wholePositive, "a whole number >= 1"),
    cli: plainFlag({ flag: "batch-size", alias: "per_device_train_batch_size", help: "examples per micro-batch (default 8)", value: { integer: { min: 1, max: 65536 } } }),
  },
  gradientAccumulationSteps: {
    default: 1,
    check: (v) => check("gradientAccumulationSteps", v!, wholePositive, "a whole number >= 1"),
    resume: MUST_MATCH,
    cli: plainFlag({
      flag: "gradient-accumulation-steps", alias: "gradient_accumulation_steps", help: "micro-batches per optimizer step (default 1)",
      value: { integer: { min: 1, max: 65536 } },
    }),
  },
  numTrainEpochs: {
    default: 1,
    check: (v) => check("numTrainEpochs", v!, positive, "a finite number > 0 (fractions train part of an epoch)"),
    resume: MUST_MATCH,
    cli: plainFlag({
      flag: "num-train-epochs", alias: ["epochs", "num_train_epochs"],
      help: "epochs (default 1); a fraction trains that share of an epoch's steps (0.5: half the first epoch)", value: { real: { above: 0, max: 1000000 } },
    }),
  },
  maxSteps: {
    check: (v) => (v == null ? null : check("maxSteps", v, wholePositive, "a whole number >= 1")),
    resume: { mustMatch: true, absentAs: null },
    cli: plainFlag({
      flag: "max-steps", alias: "max_steps", unset: -1,
      help: "stop after N optimizer steps, overriding --num-train-epochs (TRL's max_steps; -1, its default: no limit)", value: { integer: { min: 1, max: STEP_COUNT } },
    }),
  },
  saveTotalLimit: {
    check: (v) => (v == null ? null : check("saveTotalLimit", v, wholePositive, "a whole number >= 1")),
    cli: plainFlag({
      flag: "save-total-limit", alias: "save_total_limit", help: "keep only the newest N checkpoint-* folders in --out (default: all)",
      value: { integer: { min: 1, max: STEP_COUNT } },
    }),
  },
  warmupRatio: {
    default: 0,
    check: (v) => check("warmupRatio", v!, (x) => x >= 0 && x <= 1, "in [0, 1]"),
    resume: MUST_MATCH,
    cli: plainFlag({ flag: "warmup-ratio", alias: "warmup_ratio", help: "fraction of steps spent warming up (default 0)", value: { real: { min: 0, max: 1 } } }),
  },
  lrSchedulerType: {
    default: "cosine",
    check: (v) => choice("lrSchedulerType", v!, SCHEDULERS),
    resume: MUST_MATCH,
    cli: plainFlag({ flag: "lr-scheduler-type", alias: "lr_scheduler_type", help: "default cosine", value: { choices: SCHEDULERS } }),
  },
  maxGradNorm: {
    default: 1.0,
    check: (v) => check("maxGradNorm", v!, nonNegative, "a finite number >= 0 (0 disables clipping)"),
    native: true,
    cli: plainFlag({ flag: "max-grad-norm", alias: "max_grad_norm", help: "gradient clipping norm, 0 disables (default 1)", value: { real: { min: 0 } } }),
  },
  weightDecay: {
    default: 0,
    check: (v) => check("weightDecay", v!, nonNegative, "a finite number >= 0"),
    native: true,
    cli: plainFlag({ flag: "weight-decay", alias: "weight_decay", help: "AdamW weight decay of the weight matrices (default 0)", value: { real: { min: 0 } } }),
  },
  weightDecayAllParameters: {
    default: false,
    check: (v) => flag("weightDecayAllParameters", v!),
    native: true,
    cli: plainFlag({ flag: "weight-decay-all-parameters", help: "apply --weight-decay to every trainable tensor, RMSNorm weights and biases too", value: "boolean" }),
  },
  adamBeta1: {
    default: 0.9,
    check: (v) => check("adamBeta1", v!, (x) => x >= 0 && x < 1, "in [0, 1)"),
    native: true,
    cli: plainFlag({ flag: "adam-beta1", alias: "adam_beta1", help: "default 0.9", value: { real: { min: 0, below: 1 } } }),
  },
  adamBeta2: {
    default: 0.999,
    check: (v) => check("adamBeta2", v!, (x) => x >= 0 && x < 1, "in [0, 1)"),
    native: true,
    cli: plainFlag({ flag: "adam-beta2", alias: "adam_beta2", help: "default 0.999", value: { real: { min: 0, below: 1 } } }),
  },
  adamEpsilon: {
    default: 1e-8,
    check: (v) => check("adamEpsilon", v!, positive, "a finite number > 0"),
    native: true,
    cli: plainFlag({ flag: "adam-epsilon", alias: "adam_epsilon", help: "default 1e-8", value: { real: { above: 0 } } }),
  },
  seed: {
    default: 42,
    check: (v) => check("seed", v!, (x) => Number.isInteger(x) && finite(x), "a whole number"),
    resume: MUST_MATCH,
    // The command line's seeds fit 32 bits unsigned (what the samplers mix).
    cli: plainFlag({ flag: "seed", help: "data order and initialisation seed (default 42)", value: { integer: { min: 0, max: 4294967295 } } }),
  },
  evalSteps: {
    default: 0,
    check: (v) => check("evalSteps", v!, wholeNonNegative, "a whole number >= 0"),
    cli: plainFlag({ flag: "eval-steps", alias: "eval_steps", help: "evaluate every N steps (0: at the end of each epoch)", value: { integer: { min: 0, max: STEP_COUNT } } }),
  },
  saveSteps: {
    default: 0,
    check: (v) => check("saveSteps", v!, wholeNonNegative, "a whole number >= 0"),
    cli: plainFlag({ flag: "save-steps", alias: "save_steps", help: "checkpoint every N steps (0: at the end only)", value: { integer: { min: 0, max: STEP_COUNT } } }),
  },
  // --out is the run folder (and --resume's) as well: the train command sets outputDir itself.
  outputDir: {
    check: (v) => {
      if (v !== undefined && (typeof v !== "string" || v === "")) throw new TypeError("outputDir must be a non-empty string");
      return v;
    },
  },
  referenceMode: {
    default: (ctx) => (ctx.hasAdapters ? "adapters-off" : "frozen-copy"),
    check: (v, { loss, hasAdapters }) => {
      const mode = choice("referenceMode", v!, REFERENCE_MODES);
      if (mode === "adapters-off" && !hasAdapters && loss !== "sft") {
        throw new RangeError("referenceMode 'adapters-off' needs a model with LoRA adapters; use 'frozen-copy' or 'precomputed'");
      }
      return mode;
    },
    native: true,
    cli: plainFlag({ flag: "reference-mode", help: "reference policy", value: { choices: REFERENCE_MODES } }),
  },
  logSteps: {
    default: 1,
    check: (v) => check("logSteps", v!, wholePositive, "a whole number >= 1"),
    cli: plainFlag({ flag: "log-steps", alias: "logging_steps", help: "log every N steps (default 1)", value: { integer: { min: 1, max: STEP_COUNT } } }),
  },
  // --overwrite also decides what happens to another run's log: the train command sets overwrite itself.
  overwrite: {
    default: false,
    check: (v) => flag("overwrite", v!),
  },
  rewardMargin: {
    check: (v, { loss }) => resolveRewardMargin(loss, v),
    resume: { mustMatch: true, absentAs: null },
    native: true,
    cli: {
      flags: [
        { flag: "reward-margin", help: "napo: margin per negative, none = S-DPO (default dynamic)", value: { choices: ["none", "fixed", "dynamic"] } },
        { flag: "margin-gamma", help: "napo: margin scale gamma (default 0.5)", value: { real: { min: 0 } } },
        { flag: "margin-tau", help: "napo dynamic margin: temperature tau of sigmoid((s_neg - s_pos) / tau) (default 1)", value: { real: { above: 0 } } },
        { flag: "margin-confidence", help: "napo dynamic margin: confidence scores from the reference (default) or the detached policy", value: { choices: ["reference", "policy"] } },
      ],
      read: (f) => {
        if (f.rewardMargin === undefined && f.marginGamma === undefined && f.marginTau === undefined && f.marginConfidence === undefined) return undefined;
        if (f.loss !== "napo") throw new RangeError(`--reward-margin, --margin-gamma, --margin-tau and --margin-confidence need --loss napo, not ${f.loss}`);
        const mode = f.rewardMargin ?? "dynamic";
        if (mode === "none" && (f.marginGamma !== undefined || f.marginTau !== undefined || f.marginConfidence !== undefined)) {
          throw new RangeError("--reward-margin none adds no margin: drop --margin-gamma / --margin-tau / --margin-confidence");
        }
        if (mode === "fixed" && (f.marginTau !== undefined || f.marginConfidence !== undefined)) {
          throw new RangeError("--margin-tau and --margin-confidence apply to --reward-margin dynamic, not fixed");
        }
        if (f.marginGamma !== undefined && !nonNegative(f.marginGamma)) throw new RangeError(`--margin-gamma must be a finite number >= 0, got ${f.marginGamma}`);
        if (f.marginTau !== undefined && !positive(f.marginTau)) throw new RangeError(`--margin-tau must be a finite number > 0, got ${f.marginTau}`);
        return {
          mode,
          ...(f.marginGamma !== undefined ? { gamma: f.marginGamma } : {}),
          ...(f.marginTau !== undefined ? { tau: f.marginTau } : {}),
          ...(f.marginConfidence !== undefined ? { confidence: f.marginConfidence } : {}),
        };
      },
      resume: "variants",
    },
  },
  inBatchNegatives: {
    check: (v, { loss }) => resolveInBatchNegatives(loss, v),
    resume: { mustMatch: true, absentAs: null },
    cli: {
      flags: [
        { flag: "in-batch-negatives", help: "sdpo/napo: each row also takes the other rows' chosen and rejected items as negatives (NAPO)", value: "boolean" },
        { flag: "in-batch-cap", help: "with --in-batch-negatives: most shared negatives per row (seeded choice per step; default no cap)", value: { integer: { min: 0, max: 65536 } } },
      ],
      read: (f) => {
        if (f.inBatchCap !== undefined && !f.inBatchNegatives) throw new RangeError("--in-batch-cap needs --in-batch-negatives");
        if (!f.inBatchNegatives) return undefined;
        if (f.loss !== "sdpo" && f.loss !== "napo") throw new RangeError(`--in-batch-negatives needs --loss sdpo or napo, not ${f.loss}`);
        if (f.inBatchCap !== undefined && !wholeNonNegative(f.inBatchCap)) throw new RangeError(`--in-batch-cap must be a whole number >= 0, got ${f.inBatchCap}`);
        return f.inBatchCap !== undefined ? { cap: f.inBatchCap } : true;
      },
      resume: "variants",
      fromCheckpoint: (saved) => {
        const ib = saved as { cap: number | null } | null | undefined;
        return ib ? (ib.cap === null ? true : { cap: ib.cap }) : undefined;
      },
    },
  },
  negativeSampling: {
    // sft's candidate-list term lists a row's other candidates, which a file's stored rejected responses are a
    // few of: drawn from the candidates instead (all of them when negatives = candidates - 1).
    default: ({ loss, resolved }) => (loss === "sft" && usesCandidateNegatives(resolved) ? "random" : "fixed"),
    check: (v, { loss, given, resolved }) => {
      const sampling = choice("negativeSampling", v!, SAMPLINGS);
      const pooled = isPooled(sampling);
      if (loss === "sft" && usesCandidateNegatives(resolved) && pooled) {
        throw new RangeError(`negativeSampling '${sampling}' builds preference negatives; sft's candidate-list terms take 'random' (default) or 'fixed'`);
      }
      if (sampling !== "fixed" && loss === "sft" && !usesCandidateNegatives(resolved)) {
        throw new RangeError(`negativeSampling '${sampling}' needs a loss with negatives, this trainer is sft`);
      }
      if (!pooled && (given.poolSize !== undefined || given.poolRefreshSteps !== undefined)) {
        throw new RangeError(`poolSize and poolRefreshSteps apply to negativeSampling 'pool' or 'hard', not '${sampling}'`);
      }
      if (pooled && resolved.inBatchNegatives) {
        throw new RangeError(`inBatchNegatives cannot be combined with negativeSampling '${sampling}' (each builds the step's negatives)`);
      }
      if (resolved.referenceMode === "precomputed" && (pooled || resolved.inBatchNegatives)) {
        throw new RangeError("referenceMode 'precomputed' scores the data's own negatives once; in-batch or pooled negatives change every step, use 'frozen-copy' or 'adapters-off'");
      }
      return sampling;
    },
    resume: { mustMatch: true, absentAs: "fixed" },
    cli: {
      flags: [
        {
          flag: "negative-sampling", value: { choices: SAMPLINGS },
          help: "negatives: fixed (the data's, default), random (drawn from the candidates each epoch), pool (RoDPO: drawn from the candidates the policy scores highest), hard (top K of that pool)",
        },
      ],
      read: (f) => {
        const sampling = f.negativeSampling;
        if (!isPooled(sampling) && (f.poolSize !== undefined || f.poolRefreshSteps !== undefined)) {
          throw new RangeError(`--pool-size and --pool-refresh-steps need --negative-sampling pool or hard${sampling ? `, not ${sampling}` : ""}`);
        }
        if (sampling === undefined) return undefined;
        if (f.loss === "sft") throw new RangeError("--negative-sampling needs a loss with negatives (dpo, sdpo, napo), not sft");
        if (isPooled(sampling) && f.inBatchNegatives) throw new RangeError(`--in-batch-negatives cannot be combined with --negative-sampling ${sampling}`);
        return sampling;
      },
      resume: "variants",
    },
  },
  poolSize: {
    default: ({ resolved }) => (isPooled(resolved.negativeSampling) ? Math.max(5, resolved.negatives!) : undefined),
    check: (v, { resolved }) => {
      if (!isPooled(resolved.negativeSampling)) return null;
      const poolSize = check("poolSize", v!, wholePositive, "a whole number >= 1");
      const negatives = resolved.negatives!;
      if (negatives > poolSize) throw new RangeError(`negatives (${negatives}) must be <= poolSize (${poolSize}): each step draws its negatives from the pool`);
      return poolSize;
    },
    resume: { mustMatch: true, absentAs: null },
    cli: {
      flags: [
        { flag: "pool-size", help: "with --negative-sampling pool|hard: candidates kept per example (default max(5, negatives))", value: { integer: { min: 1, max: 4096 } } },
      ],
      read: (f) => {
        if (f.poolSize !== undefined && !wholePositive(f.poolSize)) throw new RangeError(`--pool-size must be a whole number >= 1, got ${f.poolSize}`);
        if (!isPooled(f.negativeSampling)) return undefined;
        const negatives = f.negatives ?? defaultNegatives(f.loss ?? "sdpo");
        const poolSize = f.poolSize ?? Math.max(5, negatives);
        if (negatives > poolSize) throw new RangeError(`--negatives ${negatives} is more than --pool-size ${poolSize}: each step draws its negatives from the pool`);
        return f.poolSize;
      },
      resume: "variants",
    },
  },
  poolRefreshSteps: {
    default: ({ resolved }) => (isPooled(resolved.negativeSampling) ? 50 : undefined),
    check: (v, { resolved }) => (isPooled(resolved.negativeSampling) ? check("poolRefreshSteps", v!, wholePositive, "a whole number >= 1") : null),
    resume: { mustMatch: true, absentAs: null },
    cli: {
      flags: [
        {
          flag: "pool-refresh-steps", help: "with --negative-sampling pool|hard: rescore a row's pool once it is this many steps old (default 50)",
          value: { integer: { min: 1, max: STEP_COUNT } },
        },
      ],
      read: (f) => {
        if (f.poolRefreshSteps !== undefined && !wholePositive(f.poolRefreshSteps)) {
          throw new RangeError(`--pool-refresh-steps must be a whole number >= 1, got ${f.poolRefreshSteps}`);
        }
        return isPooled(f.negativeSampling) ? f.poolRefreshSteps : undefined;
      },
      resume: "variants",
    },
  },
  distributed: {
    check: (v) => resolveDistributed(v),
    cli: {
      flags: [
        { flag: "backend", help: "data-parallel process group under torchrun or --nproc: gloo (CPU), nccl (CUDA), auto (default)", value: { choices: ["gloo", "nccl", "auto"] } },
        { flag: "dist-timeout-ms", help: "data parallel: how long a rank waits for the others before failing (default 600000)", value: { integer: { min: 1, max: 86400000 } } },
      ],
      read: (f) => ({ backend: f.backend ?? "auto", ...(f.distTimeoutMs !== undefined ? { timeoutMs: f.distTimeoutMs } : {}) }),
    },
  },
};
