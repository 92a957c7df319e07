/** PreferenceRecord[] -> Arrow record batches with the schema of schema.ts, and an atomic IPC file write. */
import {
  Data,
  Field,
  Int32,
  List,
  RecordBatch,
  Schema,
  Struct,
  Table,
  Utf8,
  makeData,
  tableToIPC,
  vectorFromArray,
} from "apache-arrow";
import { arrowType } from "./schema";
import { writeFileAtomic } from "./train_tokenizer";

/** One row of a preference data set, in memory. */
export interface PreferenceRecord {
  prompt: string;
  chosen: string;
  rejected: string[];
  candidates: string[];
  history: string[];
  chosenItem: number;
  rejectedItems: number[];
  candidateItems: number[];
  /** Present when tokenized: responses end with EOS. */
  promptIds?: Int32Array;
  chosenIds?: Int32Array;
  rejectedIds?: Int32Array[];
  candidateIds?: Int32Array[];
}

function int32Data(values: ArrayLike<number>): Data<Int32> {
  const data = Int32Array.from(values);
  return makeData({ type: new Int32(), length: data.length, nullCount: 0, data });
}

/** list<int32> data from token lists, laid out exactly (offsets from 0, no padding). */
function listInt32Data(lists: ArrayLike<number>[]): Data<List<Int32>> {
  const offsets = new Int32Array(lists.length + 1);
  for (let i = 0; i < lists.length; i++) offsets[i + 1] = offsets[i] + lists[i].length;
  const values = new Int32Array(offsets[lists.length]);
  for (let i = 0; i < lists.length; i++) values.set(lists[i], offsets[i]);
  const type = arrowType("list<int32>") as List<Int32>;
  return makeData({ type, length: lists.length, nullCount: 0, valueOffsets: offsets, child: int32Data(values) });
}

function listListInt32Data(lists: ArrayLike<number>[][]): Data<List<List<Int32>>> {
  const offsets = new Int32Array(lists.length + 1);
  for (let i = 0; i < lists.length; i++) offsets[i + 1] = offsets[i] + lists[i].length;
  const type = arrowType("list<list<int32>>") as List<List<Int32>>;
  return makeData({
    type,
    length: lists.length,
    nullCount: 0,
    valueOffsets: offsets,
    child: listInt32Data(lists.flat()),
  });
}

function utf8Data(strings: string[]): Data {
  return vectorFromArray(strings, new Utf8()).data[0];
}

function listUtf8Data(lists: string[][]): Data {
  const offsets = new Int32Array(lists.length + 1);
  for (let i = 0; i < lists.length; i++) offsets[i + 1] = offsets[i] + lists[i].length;
  const type = arrowType("list<utf8>") as List<Utf8>;
  return makeData({ type, length: lists.length, nullCount: 0, valueOffsets: offsets, child: utf8Data(lists.flat()) as Data<Utf8> });
}

function columnData(name: string, records: PreferenceRecord[]): Data {
  const need = <T>(value: T | undefined, row: number): T => {
    if (value === undefined) throw new Error(`record ${row} has no ${name}: tokenize every record or none`);
    return value;
  };
  switch (name) {
    case "prompt":
      return utf8Data(records.map((r) => r.prompt));
    case "chosen":
      return utf8Data(records.map((r) => r.chosen));
    case "rejected":
      return listUtf8Data(records.map((r) => r.rejected));
    case "candidates":
      return listUtf8Data(records.map((r) => r.candidates));
    case "history":
      return listUtf8Data(records.map((r) => r.history));
    case "chosen_item":
      return int32Data(records.map((r) => r.chosenItem));
    case "rejected_items":
      return listInt32Data(records.map((r) => r.rejectedItems));
    case "candidate_items":
      return listInt32Data(records.map((r) => r.candidateItems));
    case "prompt_ids":
      return listInt32Data(records.map((r, i) => need(r.promptIds, i)));
    case "chosen_ids":
      return listInt32Data(records.map((r, i) => need(r.chosenIds, i)));
    case "rejected_ids":
      return listListInt32Data(records.map((r, i) => need(r.rejectedIds, i)));
    case "candidate_ids":
      return listListInt32Data(records.map((r, i) => need(r.candidateIds, i)));
    default:
      throw new Error(`no writer for column "${name}"`);
  }
}

/** Records -> an Arrow table of record batches of at most `batchRows` rows each. */
export function recordsToTable(records: PreferenceRecord[], schema: Schema, batchRows = 1024): Table {
  const batches: RecordBatch[] = [];
  for (let start = 0; start < records.length; start += batchRows) {
    const chunk = records.slice(start, start + batchRows);
    const children = schema.fields.map((f: Field) => columnData(f.name, chunk));
    const data = makeData({ type: new Struct(schema.fields), length: chunk.length, nullCount: 0, children });
    batches.push(new RecordBatch(schema, data));
  }
  return new Table(schema, batches);
}

/** Writes `table` as an Arrow IPC file (file format), atomically. */
export function writeArrowFile(table: Table, path: string): void {
  writeFileAtomic(path, tableToIPC(table, "file"));
}
