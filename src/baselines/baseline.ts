/**
 * What every recommender baseline is: something fitted on a training file that scores each row's candidates.
 * A fitted baseline lives in a folder whose baseline.json says what it is and what it was fitted on.
 */
import type { RecommendationRow } from "./rows";

export const BASELINE_KINDS = ["random", "popularity", "cooccurrence", "sasrec"] as const;
export type BaselineKind = (typeof BASELINE_KINDS)[number];

/** Bumped whenever baseline.json changes meaning. */
export const BASELINE_FORMAT = "sdpo-baseline/1";
export const BASELINE_FILE = "baseline.json";

/** What a baseline was fitted on; evaluation refuses data whose item ids mean other items. */
export interface BaselineSource {
  /** The training file's path as given when fitting. */
  file: string;
  /** sha256 (hex) of its bytes. */
  sha256: string;
  rows: number;
  /** Size of the item vocabulary and sha256 of it as JSON (see rows.ts itemsSha256). */
  itemCount: number;
  itemsSha256: string;
}

/** The part of baseline.json every kind writes. */
export interface BaselineHeader {
  format: typeof BASELINE_FORMAT;
  kind: BaselineKind;
  source: BaselineSource;
}

export interface Baseline {
  readonly kind: BaselineKind;
  readonly source: BaselineSource;
  /** One score per candidate of each row (aligned with row.candidates); higher is better. */
  scoreRows(rows: readonly RecommendationRow[]): Promise<Float64Array[]>;
  /** Writes the folder `dir` (baseline.json, and the model files for sasrec). */
  save(dir: string, options?: { overwrite?: boolean }): Promise<void>;
  /** Frees native memory (sasrec); a no-op for the counting baselines. */
  dispose(): void;
}

export function isBaselineKind(value: unknown): value is BaselineKind {
  return typeof value === "string" && (BASELINE_KINDS as readonly string[]).includes(value);
}

/** Counts per item id, checked: a JSON array of itemCount non-negative integers. */
export function checkCounts(value: unknown, itemCount: number, what: string): Float64Array {
  if (!Array.isArray(value) || value.length !== itemCount) {
    throw new Error(`${what}: expected ${itemCount} counts (one per item), got ${Array.isArray(value) ? value.length : typeof value}`);
  }
  const out = new Float64Array(itemCount);
  for (let i = 0; i < itemCount; i++) {
    const n = value[i] as unknown;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0) throw new Error(`${what}: count of item ${i} is ${JSON.stringify(n)}, not a non-negative integer`);
    out[i] = n;
  }
  return out;
}

/** Throws unless every history and candidate id of `rows` is an item id below itemCount (scores index by them). */
export function checkRowItems(rows: readonly RecommendationRow[], itemCount: number, who: string): void {
  for (const row of rows) {
    for (const [column, ids] of [["history", row.history], ["candidates", row.candidates]] as const) {
      for (const id of ids) {
        if (!(Number.isInteger(id) && id >= 0 && id < itemCount)) {
          throw new RangeError(`${who}: row ${row.row}: ${column} holds item id ${id}, outside the ${itemCount} items the baseline was fitted with`);
        }
      }
    }
  }
}
