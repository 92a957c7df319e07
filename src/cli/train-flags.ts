/**
 * The trainer flags of `sdpo train`, made from the option records: their yargs options, the trainer options they
 * set, and what a resumed run takes from its checkpoint when they are not given again.
 */
import type { Argv, Options } from "yargs";
import { OPTION_RECORDS, type FlagSpec, type OptionCli, type TrainerFlagValues } from "../trainers/option-records";
import { RECORDED_OPTIONS, type OptionName } from "../trainers/options";
import type { TrainerOptions } from "../trainers/types";
import { checkNumber, FlagError, integer, real } from "./flags";

/** A user mistake: printed as one line with exit status 1. */
export class TrainUsageError extends Error {
  override name = "TrainUsageError";
}

/** The name yargs hands a flag's value over under ("learning-rate" -> "learningRate"). */
export function camelCased(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

const FLAGGED: Array<[OptionName, OptionCli<OptionName>]> = RECORDED_OPTIONS.flatMap((name) => {
  const cli = OPTION_RECORDS[name].cli as OptionCli<OptionName> | undefined;
  return cli ? [[name, cli] as [OptionName, OptionCli<OptionName>]] : [];
});

/** Every trainer flag, as yargs hands it over. */
export const TRAINER_FLAGS: readonly string[] = FLAGGED.flatMap(([, cli]) => cli.flags.map((spec) => camelCased(spec.flag)));

/** The variant flags: given again on resume, any of them replaces all the recorded ones (they are checked together). */
export const VARIANT_FLAGS: readonly string[] = FLAGGED.filter(([, cli]) => cli.resume === "variants").flatMap(([, cli]) => cli.flags.map((spec) => camelCased(spec.flag)));

function yargsOption(spec: FlagSpec): Options {
  const alias = spec.alias === undefined ? {} : { alias: spec.alias as string | string[] };
  if (spec.value === "boolean") return { type: "boolean", describe: spec.help, ...alias };
  if ("choices" in spec.value) return { type: "string", choices: [...spec.value.choices], describe: spec.help, ...alias };
  const whole = "integer" in spec.value;
  const range = "integer" in spec.value ? spec.value.integer : spec.value.real;
  const option = whole ? integer(spec.flag, spec.help, range) : real(spec.flag, spec.help, range);
  const unset = spec.unset;
  if (unset === undefined) return { ...option, ...alias };
  return {
    ...option,
    ...alias,
    describe: option.describe.replace(/\)$/, `, or ${unset})`),
    coerce: (value: unknown) => {
      if (value === undefined || value === unset) return undefined;
      if (typeof value === "number" && Number.isInteger(value) && range.min !== undefined && value < range.min) {
        throw new FlagError(`--${spec.flag} must be a whole number >= ${range.min} (or ${unset}: no limit), got ${value}`);
      }
      return checkNumber(spec.flag, value, range, whole);
    },
  };
}

/** Adds every trainer flag (and its TRL alias) to the train command, listed under "Trainer options:" in --help. */
export function withTrainerFlags<T>(y: Argv<T>): Argv<T> {
  let out = y;
  for (const [, cli] of FLAGGED) for (const spec of cli.flags) out = out.option(spec.flag, yargsOption(spec)) as Argv<T>;
  return out.group(FLAGGED.flatMap(([, cli]) => cli.flags.map((spec) => spec.flag)), "Trainer options:");
}

function readOption(name: OptionName, cli: OptionCli<OptionName>, args: TrainerFlagValues): unknown {
  try {
    return cli.read ? cli.read(args) : (args as Record<string, unknown>)[name];
  } catch (err) {
    throw new TrainUsageError((err as Error).message);
  }
}

function optionsFrom(args: TrainerFlagValues, which: (cli: OptionCli<OptionName>) => boolean): Partial<TrainerOptions> {
  const out: Record<string, unknown> = {};
  for (const [name, cli] of FLAGGED) {
    if (!which(cli)) continue;
    const value = readOption(name, cli, args);
    if (value !== undefined) out[name] = value;
  }
  return out as Partial<TrainerOptions>;
}

/** The trainer options the flags set, each checked against the flags it depends on. */
export function trainerOptionsFromFlags(args: TrainerFlagValues): Partial<TrainerOptions> {
  return optionsFrom(args, () => true);
}

/** The variants' trainer options from their flags. */
export function variantOptions(args: TrainerFlagValues): Partial<TrainerOptions> {
  return optionsFrom(args, (cli) => cli.resume === "variants");
}

/**
 * On resume: trainer flags not given again take the run's own values from its checkpoint's options, so `--resume`
 * needs only the essentials. Returns the run's variant options when no variant flag was given again (they are
 * taken together), else undefined.
 */
export function fillFromCheckpoint(args: TrainerFlagValues, saved: Record<string, unknown>): Partial<TrainerOptions> | undefined {
  const flags = args as Record<string, unknown>;
  for (const [name, cli] of FLAGGED) {
    if (cli.resume === "each" && flags[name] === undefined && saved[name] !== undefined && saved[name] !== null) flags[name] = saved[name];
  }
  if (VARIANT_FLAGS.some((flag) => flags[flag] !== undefined)) return undefined;
  const variants: Record<string, unknown> = {};
  for (const [name, cli] of FLAGGED) {
    if (cli.resume !== "variants") continue;
    const value = cli.fromCheckpoint ? cli.fromCheckpoint(saved[name]) : saved[name] ?? undefined;
    if (value !== undefined) variants[name] = value;
  }
  return variants as Partial<TrainerOptions>;
}
