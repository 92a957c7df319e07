/**
 * The rows a recommender baseline reads: each row's history and candidates as item ids, and its target.
 *
 * Only three columns are read (history, chosen_item, candidate_items), so text-only files work too. The
 * history column holds titles; they become item ids through the item vocabulary in the schema metadata
 * (`sdpo.items`, where an id is the title's index), the same vocabulary chosen_item and candidate_items use.
 */
import { createHash } from "crypto";
import { createReadStream, promises as fsp } from "fs";
import { RecordBatch, RecordBatchReader, Schema } from "apache-arrow";
import { DataError } from "../data/errors";
import { describeType, matchesKind, parseMetadata, type ColumnKind } from "../data/schema";

export interface RecommendationRow {
  /** Row number in the source file (0-based). */
  row: number;
  /** Item ids of the history, oldest first. */
  history: Int32Array;
  /** Item ids of the candidates, in the file's order. */
  candidates: Int32Array;
  /** Item id of the target (chosen_item). */
  target: number;
  /** Position of the target among the candidates (its first occurrence). */
  targetIndex: number;
}

export interface RecommendationData {
  /** Name for messages (the path). */
  name: string;
  rows: RecommendationRow[];
  /** The item vocabulary: item id i is items[i]. */
  items: string[];
  /** sha256 (hex) of the vocabulary as JSON: files that share item ids share it. */
  itemsSha256: string;
  /** sha256 (hex) of the file's bytes; undefined for data built in memory. */
  fileSha256?: string;
}

const COLUMNS: { name: string; kind: ColumnKind }[] = [
  { name: "history", kind: "list<utf8>" },
  { name: "chosen_item", kind: "int32" },
  { name: "candidate_items", kind: "list<int32>" },
];

/** sha256 of an item vocabulary, the fingerprint a fitted baseline keeps to refuse data with other ids. */
export function itemsSha256(items: readonly string[]): string {
  return createHash("sha256").update(JSON.stringify(items)).digest("hex");
}

export async function fileSha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function checkColumns(schema: Schema, file: string): void {
  for (const spec of COLUMNS) {
    const field = schema.fields.find((f) => f.name === spec.name);
    if (!field) throw new DataError(file, `is missing (expected ${spec.kind})`, undefined, spec.name);
    if (!matchesKind(field.type, spec.kind)) {
      throw new DataError(file, `has type ${describeType(field.type)}, expected ${spec.kind}`, undefined, spec.name);
    }
  }
}

function vocabularyOf(schema: Schema, file: string): string[] {
  const items = parseMetadata(schema.metadata, file).items;
  if (!Array.isArray(items) || items.length === 0 || !items.every((t) => typeof t === "string")) {
    throw new DataError(file, 'schema metadata "sdpo.items" (the item vocabulary) is missing or not a list of titles; baselines need it to map history titles to item ids');
  }
  return items;
}

/** Rows of one record batch, checked: ids in the vocabulary, history titles known, target among the candidates. */
function rowsOf(batch: RecordBatch, rowStart: number, file: string, idOf: Map<string, number>, itemCount: number): RecommendationRow[] {
  const history = batch.getChild("history")!;
  const chosen = batch.getChild("chosen_item")!;
  const candidates = batch.getChild("candidate_items")!;
  const out: RecommendationRow[] = [];
  for (let r = 0; r < batch.numRows; r++) {
    const row = rowStart + r;
    const titles = history.get(r);
    const target = chosen.get(r);
    const items = candidates.get(r);
    if (titles === null || titles === undefined) throw new DataError(file, "is null", row, "history");
    if (typeof target !== "number" || !Number.isInteger(target)) throw new DataError(file, "is null", row, "chosen_item");
    if (items === null || items === undefined) throw new DataError(file, "is null", row, "candidate_items");
    const historyIds = new Int32Array(titles.length);
    for (let i = 0; i < titles.length; i++) {
      const id = idOf.get(titles.get(i) as string);
      if (id === undefined) throw new DataError(file, `title ${JSON.stringify(titles.get(i))} is not in the item vocabulary (sdpo.items)`, row, "history");
      historyIds[i] = id;
    }
    if (target < 0 || target >= itemCount) throw new DataError(file, `item id ${target} is outside the ${itemCount} items`, row, "chosen_item");
    const candidateIds = Int32Array.from(items as Iterable<number>);
    let targetIndex = -1;
    for (let j = 0; j < candidateIds.length; j++) {
      const id = candidateIds[j];
      if (!(id >= 0 && id < itemCount)) throw new DataError(file, `item id ${id} is outside the ${itemCount} items`, row, "candidate_items");
      if (id === target && targetIndex < 0) targetIndex = j;
    }
    if (targetIndex < 0) throw new DataError(file, `the target item ${target} is not among the row's ${candidateIds.length} candidates`, row, "candidate_items");
    out.push({ row, history: historyIds, candidates: candidateIds, target, targetIndex });
  }
  return out;
}

/** Every row of an Arrow preference file, as item ids (the file is streamed one record batch at a time). */
export async function readRecommendationRows(file: string): Promise<RecommendationData> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, "r");
  } catch (err) {
    throw new DataError(file, `cannot open (${(err as Error).message})`);
  }
  try {
    let reader: RecordBatchReader;
    try {
      reader = await RecordBatchReader.from(handle);
      await reader.open();
    } catch (err) {
      throw new DataError(file, `not a readable Arrow IPC file, or truncated/corrupt (${(err as Error).message})`);
    }
    if (!reader.schema) throw new DataError(file, "not a readable Arrow IPC file (no schema found)");
    checkColumns(reader.schema, file);
    const items = vocabularyOf(reader.schema, file);
    const idOf = new Map(items.map((title, id) => [title, id] as [string, number]));
    const rows: RecommendationRow[] = [];
    try {
      for await (const batch of reader as AsyncIterable<RecordBatch>) rows.push(...rowsOf(batch, rows.length, file, idOf, items.length));
    } catch (err) {
      if (err instanceof DataError) throw err;
      throw new DataError(file, `not a readable Arrow IPC file, or truncated/corrupt (${(err as Error).message})`);
    }
    return { name: file, rows, items, itemsSha256: itemsSha256(items), fileSha256: await fileSha256(file) };
  } finally {
    await handle.close();
  }
}
