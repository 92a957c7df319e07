/** Data helpers of `sdpo demo`: the package's own LastFM files, and row-limited views of a dataset. */
import * as fs from "fs";
import * as path from "path";
import type { PreferenceBatch } from "../data/batch";

/** The folder holding the package's package.json (from src/cli or dist/src/cli alike), not the cwd. */
export function packageRoot(from: string = __dirname): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (fs.existsSync(manifest)) {
      try {
        if ((JSON.parse(fs.readFileSync(manifest, "utf8")) as { name?: string }).name === "softmax-dpo") return dir;
      } catch {
        // an unreadable package.json is not ours; keep looking upwards
      }
    }
    if (path.dirname(dir) === dir) throw new Error(`cannot find the softmax-dpo package root above ${from}`);
  }
}

export interface ShippedData {
  dir: string;
  train: string;
  valid: string;
  tokenizer: string;
}

/** datasets/lastfm of the installed package; a missing file is an error naming it. */
export function shippedLastfm(root: string = packageRoot()): ShippedData {
  const dir = path.join(root, "datasets", "lastfm");
  const files = { dir, train: path.join(dir, "train.arrow"), valid: path.join(dir, "valid.arrow"), tokenizer: path.join(dir, "tokenizer.json") };
  for (const file of [files.train, files.valid, files.tokenizer]) {
    if (!fs.existsSync(file)) throw new Error(`the shipped LastFM data is incomplete: ${file} is missing`);
  }
  return files;
}

interface BatchSourceLike {
  batches(request: never): AsyncIterable<PreferenceBatch>;
  countRows(): Promise<number>;
}

/**
 * The first `limit` rows of each pass over `source` (whole batches: a batch that crosses the limit is
 * kept, so set `limit` to a multiple of the batch size). With shuffling, each epoch's first rows differ.
 */
export async function firstRows<S extends BatchSourceLike>(
  source: S,
  limit: number | undefined
): Promise<{ numRows: number; countRows(): Promise<number>; batches(request: Parameters<S["batches"]>[0]): AsyncIterable<PreferenceBatch> }> {
  const total = await source.countRows();
  const numRows = limit === undefined ? total : Math.min(total, limit);
  return {
    numRows,
    countRows: async () => numRows,
    async *batches(request) {
      let rows = 0;
      for await (const batch of source.batches(request as never)) {
        if (rows >= numRows) break;
        rows += batch.size;
        yield batch;
      }
    },
  };
}
