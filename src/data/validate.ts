/**
 * Row checks on a chunk of a preference file, before any of it reaches a trainer. Each failure is a
 * DataError naming the file, the row and the column.
 */
import type { Chunk, ListListView, ListView } from "./columns";
import { DataError } from "./errors";

export type NegativeSampling = "fixed" | "random";

export interface RowCheckOptions {
  /** Token ids must be in [0, vocabSize); undefined: only checked non-negative. */
  vocabSize?: number;
  /** A chosen response that is only this id is empty. */
  eosId?: number;
  /** K negatives per example will be asked for. */
  negatives: number;
  negativeSampling: NegativeSampling;
}

/** Offsets must rise, start >= 0 and stay inside the values: a corrupt file would otherwise read garbage. */
function checkOffsets(offsets: Int32Array, valueCount: number, file: string, rowStart: number, column: string): void {
  if (offsets[0] < 0) throw new DataError(file, `negative list offset ${offsets[0]} (corrupt file?)`, rowStart, column);
  for (let i = 1; i < offsets.length; i++) {
    if (offsets[i] < offsets[i - 1]) {
      throw new DataError(file, "list offsets go backwards (corrupt file?)", rowStart + i - 1, column);
    }
  }
  if (offsets[offsets.length - 1] > valueCount) {
    throw new DataError(
      file,
      `list offsets run past the ${valueCount} stored values (corrupt file?)`,
      rowStart + offsets.length - 2,
      column,
    );
  }
}

function rowOfValue(offsets: Int32Array, index: number): number {
  let lo = 0;
  let hi = offsets.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid] <= index) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function checkIds(list: ListView, vocabSize: number | undefined, file: string, rowStart: number, column: string, outer?: Int32Array): void {
  const { offsets, values } = list;
  const limit = vocabSize ?? 2147483647;
  const end = offsets[offsets.length - 1];
  for (let i = offsets[0]; i < end; i++) {
    const id = values[i];
    if (id < 0 || id >= limit) {
      let row = rowOfValue(offsets, i);
      if (outer) row = rowOfValue(outer, row);
      const range = vocabSize === undefined ? "negative" : `outside the vocabulary [0, ${vocabSize})`;
      throw new DataError(file, `token id ${id} is ${range}`, rowStart + row, column);
    }
  }
}

function checkListList(view: ListListView, vocabSize: number | undefined, file: string, rowStart: number, column: string): void {
  checkOffsets(view.outer, view.lists.offsets.length - 1, file, rowStart, column);
  checkOffsets(view.lists.offsets, view.lists.values.length, file, rowStart, column);
  checkIds(view.lists, vocabSize, file, rowStart, column, view.outer);
}

/** Checks every row of `chunk` and fills chunk.chosenIndex. */
export function checkChunk(chunk: Chunk, file: string, options: RowCheckOptions): void {
  const { rowStart, numRows } = chunk;
  const { vocabSize, negatives: K } = options;
  for (const [column, view] of [
    ["prompt_ids", chunk.prompt],
    ["chosen_ids", chunk.chosen],
    ["rejected_items", chunk.rejectedItems],
    ["candidate_items", chunk.candidateItems],
  ] as const) {
    checkOffsets(view.offsets, view.values.length, file, rowStart, column);
  }
  checkIds(chunk.prompt, vocabSize, file, rowStart, "prompt_ids");
  checkIds(chunk.chosen, vocabSize, file, rowStart, "chosen_ids");
  checkListList(chunk.rejected, vocabSize, file, rowStart, "rejected_ids");
  checkListList(chunk.candidates, vocabSize, file, rowStart, "candidate_ids");

  const { chosen, rejected, candidates, candidateItems, rejectedItems, chosenItem } = chunk;
  for (let r = 0; r < numRows; r++) {
    const row = rowStart + r;
    const chosenLength = chosen.offsets[r + 1] - chosen.offsets[r];
    if (chosenLength === 0 || (chosenLength === 1 && chosen.values[chosen.offsets[r]] === options.eosId)) {
      throw new DataError(file, "the chosen response is empty", row, "chosen_ids");
    }
    const candidateCount = candidates.outer[r + 1] - candidates.outer[r];
    const itemStart = candidateItems.offsets[r];
    const itemCount = candidateItems.offsets[r + 1] - itemStart;
    if (itemCount !== candidateCount) {
      throw new DataError(file, `${itemCount} candidate items but ${candidateCount} candidate token lists`, row, "candidate_items");
    }
    const rejectedCount = rejected.outer[r + 1] - rejected.outer[r];
    const rejectedItemCount = rejectedItems.offsets[r + 1] - rejectedItems.offsets[r];
    if (rejectedItemCount !== rejectedCount) {
      throw new DataError(file, `${rejectedItemCount} rejected items but ${rejectedCount} rejected token lists`, row, "rejected_items");
    }
    let found = -1;
    for (let j = 0; j < itemCount; j++) {
      if (candidateItems.values[itemStart + j] === chosenItem[r]) {
        found = j;
        break;
      }
    }
    if (found < 0 && candidateCount > 0) {
      throw new DataError(file, `chosen item ${chosenItem[r]} is not among the row's ${candidateCount} candidates`, row, "chosen_item");
    }
    chunk.chosenIndex[r] = found;
    if (K === 0) continue;
    const fromCandidates = options.negativeSampling === "random" || rejectedCount === 0;
    if (fromCandidates && candidateCount - 1 < K) {
      throw new DataError(
        file,
        `${K} negatives asked for, but only ${Math.max(candidateCount - 1, 0)} candidates besides the chosen one`,
        row,
        "candidate_ids",
      );
    }
    if (!fromCandidates && rejectedCount < K) {
      throw new DataError(file, `${K} negatives asked for (fixed), but the row has ${rejectedCount} rejected responses`, row, "rejected_ids");
    }
  }
}
