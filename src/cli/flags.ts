/**
 * Numeric and path flags, checked while yargs parses: a value outside its range, not a number, a fraction
 * where a count is wanted, or a flag given twice stops the command before it reads or writes anything, with
 * one line naming the flag. Ranges bound every size by what a machine can hold, so no flag can make a
 * command loop, spawn thousands of threads or allocate without limit.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export class FlagError extends Error {
  override name = "FlagError";
}

export interface NumberRange {
  min?: number;
  max?: number;
  /** Exclusive lower bound (a value must be greater). */
  above?: number;
  /** Exclusive upper bound (a value must be smaller). */
  below?: number;
  default?: number;
}

function describeRange(r: NumberRange, whole: boolean): string {
  const low = r.min !== undefined ? `[${r.min}` : r.above !== undefined ? `(${r.above}` : undefined;
  const high = r.max !== undefined ? `${r.max}]` : r.below !== undefined ? `${r.below})` : undefined;
  const kind = whole ? "a whole number" : "a finite number";
  if (low && high) return `${kind} in ${low}, ${high}`;
  if (low) return `${kind} ${low[0] === "[" ? ">=" : ">"} ${low.slice(1)}`;
  if (high) return `${kind} ${high.endsWith("]") ? "<=" : "<"} ${high.slice(0, -1)}`;
  return kind;
}

/** The check yargs runs on the parsed value (a number, NaN for text, an array when the flag is repeated). */
export function checkNumber(flag: string, value: unknown, range: NumberRange, whole: boolean): number {
  const wanted = describeRange(range, whole);
  if (Array.isArray(value)) throw new FlagError(`--${flag} is given ${value.length} times; give it once`);
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  // yargs has already parsed the text: NaN is what it makes of a word.
  const shown = typeof value === "number" && Number.isNaN(value) ? "a value that is not a number" : JSON.stringify(value) ?? String(value);
  if (typeof n !== "number" || !Number.isFinite(n)) throw new FlagError(`--${flag} must be ${wanted}, got ${shown}`);
  if (whole && !Number.isSafeInteger(n)) throw new FlagError(`--${flag} must be ${wanted}, got ${shown}`);
  const { min, max, above, below } = range;
  if ((min !== undefined && n < min) || (max !== undefined && n > max) || (above !== undefined && n <= above) || (below !== undefined && n >= below)) {
    throw new FlagError(`--${flag} must be ${wanted}, got ${shown}`);
  }
  return n;
}

function numberOption(flag: string, describe: string, range: NumberRange, whole: boolean) {
  return {
    type: "number" as const,
    describe: `${describe} (${describeRange(range, whole)})`,
    ...(range.default === undefined ? {} : { default: range.default }),
    coerce: (value: unknown) => (value === undefined ? undefined : checkNumber(flag, value, range, whole)),
  };
}

/** A yargs option for a count, size or seed: a whole number in `range`. */
export function integer(flag: string, describe: string, range: NumberRange = {}) {
  return numberOption(flag, describe, range, true);
}

/** A yargs option for a rate, ratio or scale: a finite number in `range`. */
export function real(flag: string, describe: string, range: NumberRange = {}) {
  return numberOption(flag, describe, range, false);
}

/** Seeds are whole numbers that fit 32 bits unsigned (what the samplers mix). */
export const SEED_RANGE = { min: 0, max: 4294967295 };

/** Intra-op threads beyond the cores only contend; a bound also keeps a typo from starting thousands. */
export function maxThreads(): number {
  return Math.max(1, typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length);
}

/** File systems whose entries are not files (writing there hangs, fails late or means something else). */
const SPECIAL_ROOTS = ["/proc", "/sys", "/dev"];

/**
 * An output path that can be written: not empty, not under /proc, /sys or /dev, and in a folder that exists
 * (or can be made) and is writable. Checked before any work so that a bad --out fails in milliseconds.
 * `kind` "folder": the path itself is (or becomes) a folder; "file": its parent folder must be.
 */
export function checkOutputPath(flag: string, value: unknown, kind: "file" | "folder"): string {
  if (Array.isArray(value)) throw new FlagError(`--${flag} is given ${value.length} times; give it once`);
  if (typeof value !== "string" || value.trim() === "") throw new FlagError(`--${flag} must name a ${kind}, got ${JSON.stringify(value) ?? String(value)}`);
  if (value.includes("\0")) throw new FlagError(`--${flag} ${JSON.stringify(value)}: a path cannot hold a NUL byte`);
  const resolved = path.resolve(value);
  // The nearest existing ancestor, symlinks resolved, decides the file system.
  let existing = resolved;
  while (!fs.existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  let real = resolved;
  try {
    real = path.join(fs.realpathSync(existing), path.relative(existing, resolved));
  } catch {
    // unreadable ancestor: judged by the path as given
  }
  for (const root of SPECIAL_ROOTS) {
    if (real === root || real.startsWith(root + path.sep)) {
      throw new FlagError(`--${flag} ${value}: ${root} is a special file system, not a place for output`);
    }
  }
  let folder: string;
  if (existing === resolved) {
    const stat = fs.statSync(resolved);
    if (kind === "folder" && !stat.isDirectory()) throw new FlagError(`--${flag} ${value}: exists and is not a folder`);
    if (kind === "file" && !stat.isFile()) throw new FlagError(`--${flag} ${value}: exists and is not a regular file`);
    folder = kind === "folder" ? resolved : path.dirname(resolved);
  } else {
    // A new file goes into its parent folder, which must exist; a new folder is made with its missing parents.
    if (kind === "file" && existing !== path.dirname(resolved)) throw new FlagError(`--${flag} ${value}: folder ${path.dirname(resolved)} does not exist`);
    folder = existing;
  }
  if (!fs.statSync(folder).isDirectory()) throw new FlagError(`--${flag} ${value}: ${folder} is not a folder`);
  try {
    fs.accessSync(folder, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    throw new FlagError(`--${flag} ${value}: ${folder} is not writable`);
  }
  return value;
}

/** A yargs option for an output path, checked as checkOutputPath does. */
export function outputPath(flag: string, describe: string, kind: "file" | "folder", demand = true) {
  return {
    type: "string" as const,
    describe,
    ...(demand ? { demandOption: true } : {}),
    coerce: (value: unknown) => (value === undefined ? undefined : checkOutputPath(flag, value, kind)),
  };
}
