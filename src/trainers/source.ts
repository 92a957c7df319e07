/** What the trainers read: anything that yields PreferenceBatches the way PreferenceDataset does. */
import * as path from "path";
import type { PreferenceBatch } from "../data/batch";
import { PreferenceDataset } from "../data/dataset";

export interface BatchRequest {
  batchSize: number;
  negatives: number;
  shuffle: boolean;
  seed: number;
  epoch: number;
  /** Micro-batches of this epoch to skip (resume). */
  skipBatches: number;
  /** "fixed": the data's rejected responses; "random": K drawn from the candidates anew each epoch. */
  negativeSampling?: "fixed" | "random";
}

export interface PreferenceSource {
  /** Examples in the data. */
  countRows(): Promise<number>;
  batches(request: BatchRequest): AsyncIterable<PreferenceBatch>;
}

/** A path to an .arrow file or an already opened dataset. */
export function openSource(data: unknown, what: string): PreferenceSource {
  if (typeof data === "string") return PreferenceDataset.fromArrow(data) as unknown as PreferenceSource;
  if (data && typeof data === "object" && typeof (data as PreferenceSource).batches === "function") {
    return data as PreferenceSource;
  }
  throw new TypeError(`${what} must be a path to an .arrow file or a PreferenceDataset`);
}

/**
 * What tells sources apart where row numbers do not (row r of the training file is not row r of the eval
 * file): a file by its resolved path, so opening it again is the same source; an opened dataset by itself.
 */
export type SourceKey = string | object;

export function sourceKey(data: unknown): SourceKey {
  return typeof data === "string" ? `file:${path.resolve(data)}` : (data as object);
}
