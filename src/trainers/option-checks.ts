/** The checks the option records share, and the resolution of the nested options (each an object of its own keys). */
import type { ResolvedDistributed, ResolvedRewardMargin } from "./resolved";
import type { DistributedBackend, LossName, RewardMarginMode, TrainerOptions } from "./types";

export function check(name: string, value: number, ok: (v: number) => boolean, rule: string): number {
  if (typeof value !== "number" || !ok(value)) throw new RangeError(`${name} must be ${rule}, got ${String(value)}`);
  return value;
}

export function flag(name: string, value: boolean): boolean {
  if (typeof value !== "boolean") throw new TypeError(`${name} must be a boolean, got ${String(value)}`);
  return value;
}

export function choice<T extends string>(name: string, value: T, choices: readonly T[]): T {
  if (!choices.includes(value)) throw new RangeError(`${name} must be one of ${choices.join(", ")}, got '${String(value)}'`);
  return value;
}

export const finite = (v: number) => Number.isFinite(v);
export const positive = (v: number) => Number.isFinite(v) && v > 0;
export const nonNegative = (v: number) => Number.isFinite(v) && v >= 0;
export const wholePositive = (v: number) => Number.isInteger(v) && v >= 1;
export const wholeNonNegative = (v: number) => Number.isInteger(v) && v >= 0;

export const isListwise = (loss: LossName) => loss === "sdpo" || loss === "napo";

const MARGIN_MODES: RewardMarginMode[] = ["none", "fixed", "dynamic"];
const MARGIN_KEYS = ["mode", "gamma", "tau", "confidence"];

/** napo's margin, every field defaulted; other losses take none. */
export function resolveRewardMargin(loss: LossName, given: TrainerOptions["rewardMargin"]): ResolvedRewardMargin | null {
  if (given !== undefined && loss !== "napo") {
    throw new RangeError(`rewardMargin is a napo option (this trainer is ${loss}); use loss 'napo', whose mode 'none' is S-DPO`);
  }
  if (loss !== "napo") return null;
  const m = given ?? {};
  if (typeof m !== "object" || m === null) throw new TypeError("rewardMargin must be an object { mode, gamma, tau, confidence }");
  for (const key of Object.keys(m)) {
    if (!MARGIN_KEYS.includes(key)) throw new RangeError(`unknown rewardMargin option '${key}' (valid: ${MARGIN_KEYS.join(", ")})`);
  }
  const mode = choice("rewardMargin.mode", m.mode ?? "dynamic", MARGIN_MODES);
  const confidence = m.confidence ?? "reference";
  if (confidence !== "reference" && confidence !== "policy") {
    throw new RangeError(`rewardMargin.confidence must be 'reference' or 'policy', got '${String(confidence)}'`);
  }
  return {
    mode,
    gamma: check("rewardMargin.gamma", m.gamma ?? 0.5, nonNegative, "a finite number >= 0"),
    tau: check("rewardMargin.tau", m.tau ?? 1, positive, "a finite number > 0"),
    confidence,
  };
}

/** NAPO's in-batch sharing: off (null), or on with an optional cap on the shared negatives per row. */
export function resolveInBatchNegatives(loss: LossName, given: TrainerOptions["inBatchNegatives"]): { cap: number | null } | null {
  if (given === undefined || given === false) return null;
  if (!isListwise(loss)) throw new RangeError(`inBatchNegatives needs a listwise loss (sdpo or napo), this trainer is ${loss}`);
  if (given === true) return { cap: null };
  if (typeof given !== "object" || given === null) throw new TypeError(`inBatchNegatives must be a boolean or { cap?: number }, got ${String(given)}`);
  for (const key of Object.keys(given)) if (key !== "cap") throw new RangeError(`unknown inBatchNegatives option '${key}' (valid: cap)`);
  return { cap: given.cap === undefined ? null : check("inBatchNegatives.cap", given.cap, wholeNonNegative, "a whole number >= 0") };
}

const DISTRIBUTED_KEYS = ["backend", "timeoutMs", "bucketBytes"];
const BACKENDS: DistributedBackend[] = ["gloo", "nccl", "auto"];

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
  return {
    backend: choice("distributed.backend", given.backend ?? "auto", BACKENDS),
    timeoutMs: check("distributed.timeoutMs", given.timeoutMs ?? 600000, (v) => wholePositive(v) && v <= 86400000, "a whole number of milliseconds in [1, 86400000]"),
    bucketBytes: check("distributed.bucketBytes", given.bucketBytes ?? 25 * 1024 * 1024, (v) => wholeNonNegative(v) && v <= 2 ** 40, "a whole number >= 0"),
  };
}
