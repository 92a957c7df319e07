/**
 * Views on one Arrow record batch's token and item columns, with no copies: Int32Array values and offsets
 * straight from the IPC buffers. The one unavoidable copy is large_list offsets (int64), narrowed to int32.
 */
import { Data, RecordBatch, Schema, Type } from "apache-arrow";
import { DataError } from "./errors";
import { ALL_COLUMNS, ColumnSpec, describeType, matchesKind, TOKEN_COLUMNS } from "./schema";

/** list i = values[offsets[i] .. offsets[i + 1]); offsets.length = rows + 1. */
export interface ListView {
  offsets: Int32Array;
  values: Int32Array;
}

/** Row r has lists outer[r] .. outer[r + 1] of `lists`. */
export interface ListListView {
  outer: Int32Array;
  lists: ListView;
}

export interface Chunk {
  /** Row number of this chunk's first row in the file. */
  rowStart: number;
  numRows: number;
  batch: RecordBatch;
  prompt: ListView;
  chosen: ListView;
  rejected: ListListView;
  candidates: ListListView;
  chosenItem: Int32Array;
  rejectedItems: ListView;
  candidateItems: ListView;
  /** Filled by validation: position of the chosen item among each row's candidates. */
  chosenIndex: Int32Array;
}

/** Checks every column the reader needs is there with the right type; names column, expected and actual type. */
export function checkSchema(schema: Schema, file: string, needTokens: boolean): void {
  const required: ColumnSpec[] = needTokens ? ALL_COLUMNS : ALL_COLUMNS.filter((c) => !c.tokens);
  const missingTokens = TOKEN_COLUMNS.filter((c) => !schema.fields.some((f) => f.name === c.name));
  if (needTokens && missingTokens.length === TOKEN_COLUMNS.length) {
    throw new DataError(file, "has no token columns (prompt_ids, chosen_ids, ...): convert it with --tokenizer");
  }
  for (const spec of required) {
    const field = schema.fields.find((f) => f.name === spec.name);
    if (!field) throw new DataError(file, `is missing (expected ${spec.kind})`, undefined, spec.name);
    if (!matchesKind(field.type, spec.kind)) {
      throw new DataError(file, `has type ${describeType(field.type)}, expected ${spec.kind}`, undefined, spec.name);
    }
  }
}

/** Offsets of a list column as int32, indexed from 0 for this Data (arrow's slice narrows the buffers itself). */
function offsetsOf(data: Data, file: string, column: string, rowStart: number): Int32Array {
  const raw = data.valueOffsets as Int32Array | BigInt64Array | undefined;
  if (!raw || raw.length < data.length + 1) {
    throw new DataError(file, "list offsets are missing or short (corrupt file?)", rowStart, column);
  }
  if (raw instanceof Int32Array) return raw.subarray(0, data.length + 1);
  // large_list: int64 offsets, narrowed (a copy of rows + 1 numbers).
  const out = new Int32Array(data.length + 1);
  for (let i = 0; i <= data.length; i++) {
    const v = raw[i];
    if (v > 2147483647n || v < 0n) throw new DataError(file, `offset ${v} does not fit int32`, rowStart + i, column);
    out[i] = Number(v);
  }
  return out;
}

function int32Values(data: Data, file: string, column: string, rowStart: number): Int32Array {
  const values = data.values as unknown;
  if (!(values instanceof Int32Array)) throw new DataError(file, "int32 values are missing (corrupt file?)", rowStart, column);
  return values.subarray(0, data.length);
}

function checkNoNulls(data: Data, file: string, column: string, rowStart: number): void {
  if (data.nullCount > 0) {
    for (let i = 0; i < data.length; i++) {
      if (!data.getValid(i)) throw new DataError(file, "is null", rowStart + i, column);
    }
  }
}

function listView(data: Data, file: string, column: string, rowStart: number): ListView {
  checkNoNulls(data, file, column, rowStart);
  const child = data.children[0];
  checkNoNulls(child, file, column, rowStart);
  return { offsets: offsetsOf(data, file, column, rowStart), values: int32Values(child, file, column, rowStart) };
}

function listListView(data: Data, file: string, column: string, rowStart: number): ListListView {
  checkNoNulls(data, file, column, rowStart);
  return { outer: offsetsOf(data, file, column, rowStart), lists: listView(data.children[0], file, column, rowStart) };
}

/** Views on `batch` (a record batch whose schema passed checkSchema with tokens). */
export function chunkOf(batch: RecordBatch, rowStart: number, file: string): Chunk {
  const col = (name: string): Data => {
    const index = batch.schema.fields.findIndex((f) => f.name === name);
    const data = batch.data.children[index];
    if (data === undefined || data.typeId === Type.NONE) throw new DataError(file, "is missing", rowStart, name);
    return data;
  };
  const chosenItemData = col("chosen_item");
  checkNoNulls(chosenItemData, file, "chosen_item", rowStart);
  return {
    rowStart,
    numRows: batch.numRows,
    batch,
    prompt: listView(col("prompt_ids"), file, "prompt_ids", rowStart),
    chosen: listView(col("chosen_ids"), file, "chosen_ids", rowStart),
    rejected: listListView(col("rejected_ids"), file, "rejected_ids", rowStart),
    candidates: listListView(col("candidate_ids"), file, "candidate_ids", rowStart),
    chosenItem: int32Values(chosenItemData, file, "chosen_item", rowStart),
    rejectedItems: listView(col("rejected_items"), file, "rejected_items", rowStart),
    candidateItems: listView(col("candidate_items"), file, "candidate_items", rowStart),
    chosenIndex: new Int32Array(batch.numRows),
  };
}
