/** Data helpers of `sdpo demo`: the package's own LastFM files, and row-limited views of a dataset. */
import type { PreferenceBatch } from "../data/batch";
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
