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
  /** Every response (chosen, rejected, candidate) must end with this id, and hold more than it. */
  eosId?: number;
  /** Item ids must be in [0, itemCount) (the metadata's item vocabulary); undefined: only non-negative. */
  itemCount?: number;
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

/** Each response is non-empty (more than an EOS) and, when the EOS id is known, ends with it. */
function checkResponses(list: ListView, outer: Int32Array | undefined, eosId: number | undefined, file: string, rowStart: number, column: string): void {
  const { offsets, values } = list;
  const first = outer ? outer[0] : 0;
  const end = outer ? outer[outer.length - 1] : offsets.length - 1;
  for (let i = first; i < end; i++) {
    const length = offsets[i + 1] - offsets[i];
    const last = values[offsets[i + 1] - 1];
    if (length === 0 || (length === 1 && last === eosId)) {
      const row = outer ? rowOfValue(outer, i) : i;
      throw new DataError(file, `${outer ? `response ${i - outer[row]}` : "the chosen response"} is empty`, rowStart + row, column);
    }
    if (eosId !== undefined && last !== eosId) {
      const row = outer ? rowOfValue(outer, i) : i;
      throw new DataError(file, `${outer ? `response ${i - outer[row]}` : "the chosen response"} does not end with EOS (id ${eosId})`, rowStart + row, column);
    }
  }
}

/** Item ids index the metadata's item vocabulary. */
function checkItems(chunk: Chunk, itemCount: number | undefined, file: string): void {
  const limit = itemCount ?? 2147483647;
  const range = itemCount === undefined ? "negative" : `outside the item vocabulary [0, ${itemCount})`;
  for (let r = 0; r < chunk.numRows; r++) {
    const id = chunk.chosenItem[r];
    if (id < 0 || id >= limit) throw new DataError(file, `item id ${id} is ${range}`, chunk.rowStart + r, "chosen_item");
  }
  for (const [column, view] of [["rejected_items", chunk.rejectedItems], ["candidate_items", chunk.candidateItems]] as const) {
    const end = view.offsets[view.offsets.length - 1];
    for (let i = view.offsets[0]; i < end; i++) {
      const id = view.values[i];
      if (id < 0 || id >= limit) throw new DataError(file, `item id ${id} is ${range}`, chunk.rowStart + rowOfValue(view.offsets, i), column);
    }
  }
}

/** Per-row list lengths of a list<utf8> column (list or large_list), or undefined when the file lacks it. */
function textListLengths(chunk: Chunk, column: string): ((r: number) => number) | undefined {
  const index = chunk.batch.schema.fields.findIndex((f) => f.name === column);
  const offsets = chunk.batch.data.children[index]?.valueOffsets as Int32Array | BigInt64Array | undefined;
  if (index < 0 || !offsets) return undefined;
  return (r) => Number(offsets[r + 1]) - Number(offsets[r]);
}

/** The text columns hold as many responses as their token and item columns. */
function checkTextCounts(chunk: Chunk, file: string): void {
  for (const [textColumn, tokens] of [["rejected", chunk.rejected], ["candidates", chunk.candidates]] as const) {
    const textLength = textListLengths(chunk, textColumn);
    if (!textLength) continue;
    for (let r = 0; r < chunk.numRows; r++) {
      const texts = textLength(r);
      const lists = tokens.outer[r + 1] - tokens.outer[r];
      if (texts !== lists) {
        throw new DataError(file, `${texts} texts but ${lists} token lists in "${textColumn === "rejected" ? "rejected_ids" : "candidate_ids"}"`, chunk.rowStart + r, textColumn);
      }
    }
  }
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

  checkResponses(chunk.chosen, undefined, options.eosId, file, rowStart, "chosen_ids");
  checkResponses(chunk.rejected.lists, chunk.rejected.outer, options.eosId, file, rowStart, "rejected_ids");
  checkResponses(chunk.candidates.lists, chunk.candidates.outer, options.eosId, file, rowStart, "candidate_ids");
  checkItems(chunk, options.itemCount, file);
  checkTextCounts(chunk, file);

  const { rejected, candidates, candidateItems, rejectedItems, chosenItem } = chunk;
  for (let r = 0; r < numRows; r++) {
    const row = rowStart + r;
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
