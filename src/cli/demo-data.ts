/** Data helpers of `sdpo demo`: the package's own LastFM files, and row-limited views of a dataset. */
import * as fs from "fs";
import * as path from "path";
import type { PreferenceBatch } from "../data/batch";
import { buildLastfmItemTokens, type ItemTokenOptions } from "../data/lastfm_build";
import { packageRoot, shippedDataset, type ShippedDataset } from "../data/shipped";

export { packageRoot } from "../data/shipped";

/** The shipped LastFM files (train, valid, tokenizer) with their folder. */
export type ShippedData = Pick<ShippedDataset, "dir" | "train" | "valid" | "tokenizer">;

/** datasets/lastfm of the installed package; a missing file is an error naming it. */
export function shippedLastfm(root: string = packageRoot()): ShippedData {
  return shippedDataset("lastfm", root);
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

/**
 * The shipped rows re-tokenized with one token per artist name (and what `options` adds), written to
 * `<out>/data` (a few seconds; deterministic, so a resumed demo rebuilds the same bytes). `sdpo eval` of the
 * demo's models reads this valid.arrow: the shipped one is tokenized without the added tokens.
 */
export async function itemTokenData(shipped: ShippedData, out: string, options: ItemTokenOptions = {}): Promise<ShippedData> {
  const dir = path.join(out, "data");
  fs.mkdirSync(dir, { recursive: true });
  await buildLastfmItemTokens(shipped.dir, dir, options);
  return { dir, train: path.join(dir, "train.arrow"), valid: path.join(dir, "valid.arrow"), tokenizer: path.join(dir, "tokenizer.json") };
}
