/** A small PreferenceBatch built from item ids: each item's response tokens are [1000 + item, 2000 + item]. */
import type { PackedTokens, PreferenceBatch } from "../../src/data/batch";

function pack(lists: number[][], leadingValues = 0): PackedTokens {
  // leadingValues: unused values before the first list, as in a view on a larger Arrow buffer (offsets[0] > 0).
  const offsets = new Int32Array(lists.length + 1);
  const values: number[] = new Array(leadingValues).fill(-7);
  offsets[0] = leadingValues;
  lists.forEach((list, i) => {
    values.push(...list);
    offsets[i + 1] = values.length;
  });
  return { values: Int32Array.from(values), offsets };
}

export const itemTokens = (item: number) => [1000 + item, 2000 + item];

/** B rows; chosen[b] is row b's positive, rejected[b] its K negatives (-1 = padding), candidates[b] its candidate items. */
export function makeBatch(chosen: number[], rejected: number[][], candidates: number[][] = chosen.map(() => [])): PreferenceBatch {
  const B = chosen.length;
  const K = rejected[0]?.length ?? 0;
  const rejectedItems = Int32Array.from(rejected.flat());
  return {
    size: B,
    rows: Int32Array.from(chosen, (_, b) => 100 + b),
    prompt: pack(chosen.map((_, b) => [7, 7, b]), 3),
    chosen: pack(chosen.map(itemTokens), 2),
    negatives: K,
    rejected: pack(rejected.flat().map((item) => (item < 0 ? [] : itemTokens(item)))),
    chosenItem: Int32Array.from(chosen),
    rejectedItems,
    candidates: pack(candidates.flat().map(itemTokens), 4),
    candidateOffsets: Int32Array.from([0, ...candidates.map((_, b) => candidates.slice(0, b + 1).flat().length)]),
    candidateItems: Int32Array.from(candidates.flat()),
    text: { prompt: chosen.map(() => ""), chosen: chosen.map(() => ""), candidates: chosen.map(() => []) },
  };
}
