/** Trainer options with their defaults filled in and checked once, up front, as their records say. */
import type { NativeTrainerOptions } from "../native";
import { OPTION_RECORDS, type OptionRecord, type ResolveContext } from "./option-records";
import type { OptionName, ResolvedOptions } from "./resolved";
import type { LossName, TrainerOptions } from "./types";

export { resolveDistributed } from "./option-checks";
export type { OptionName, ResolvedDistributed, ResolvedOptions, ResolvedRewardMargin } from "./resolved";

/** The records in resolution order (an option's default and check may read the ones before it). */
export const RECORDED_OPTIONS = Object.keys(OPTION_RECORDS) as OptionName[];

/** Option names a trainer accepts (used to reject typos in plain-object options). */
export const OPTION_NAMES: readonly (keyof TrainerOptions)[] = ["model", ...RECORDED_OPTIONS];

/** Options that fix the data order and the schedule: a resumed run must use the same. */
export const RESUME_INVARIANTS = RECORDED_OPTIONS.filter((name) => OPTION_RECORDS[name].resume?.mustMatch);

function recordOf<K extends OptionName>(name: K): OptionRecord<K> {
  return (OPTION_RECORDS as Readonly<Record<OptionName, unknown>>)[name] as OptionRecord<K>;
}

function resolveOne<K extends OptionName>(name: K, given: TrainerOptions[K], ctx: ResolveContext): ResolvedOptions[K] {
  const record = recordOf(name);
  const fallback = record.default;
  const value = given !== undefined ? given : typeof fallback === "function" ? (fallback as (c: ResolveContext) => TrainerOptions[K])(ctx) : fallback;
  return record.check(value as TrainerOptions[K], ctx);
}

export function resolveOptions(loss: LossName, options: TrainerOptions, hasAdapters: boolean): ResolvedOptions {
  if (!options || typeof options !== "object") throw new TypeError("trainer options must be an object");
  for (const key of Object.keys(options)) {
    if (!(OPTION_NAMES as readonly string[]).includes(key)) {
      throw new RangeError(`unknown trainer option '${key}' (valid: ${OPTION_NAMES.join(", ")})`);
    }
  }
  const resolved: Partial<Record<OptionName, unknown>> = {};
  const ctx: ResolveContext = { loss, hasAdapters, given: options, resolved: resolved as Partial<ResolvedOptions> };
  for (const name of RECORDED_OPTIONS) resolved[name] = resolveOne(name, options[name], ctx);
  return resolved as ResolvedOptions;
}

/** What the native trainer is constructed with: the resolved value of every option it reads, so that its own
 *  defaults never apply. */
export function nativeTrainerOptions(loss: LossName, options: ResolvedOptions): NativeTrainerOptions {
  const out: Record<string, unknown> = { loss };
  for (const name of RECORDED_OPTIONS) {
    if (OPTION_RECORDS[name].native && options[name] !== null) out[name] = options[name];
  }
  return out as unknown as NativeTrainerOptions;
}

/** An invariant's value in a checkpoint's saved options, as JSON; a checkpoint written before the option existed
 *  holds its `absentAs` value. */
export function savedInvariant(saved: Record<string, unknown>, name: (typeof RESUME_INVARIANTS)[number]): string {
  const resume = OPTION_RECORDS[name].resume!;
  return JSON.stringify(saved[name] ?? ("absentAs" in resume ? resume.absentAs : saved[name]));
}
