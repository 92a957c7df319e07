/**
 * The Arrow layout of a preference data set (one row = one prompt with its chosen response, its fixed
 * rejected responses and its candidate pool), and the schema metadata that travels with it.
 */
import { DataType, Field, Int32, List, Schema, Type, Utf8 } from "apache-arrow";
import { DataError } from "./errors";

/** Bumped whenever a column or a metadata key changes meaning. */
export const FORMAT_VERSION = "sdpo-preference/1";
/** Files of another major version are refused: their columns or keys mean something else. */
const FORMAT_MAJOR = "1";

/** Schema metadata keys. Values are UTF-8 strings; JSON where structured. */
export const META = {
  format: "sdpo.format",
  /** JSON TokenizerIdentity; absent when the file holds no token columns. */
  tokenizer: "sdpo.tokenizer",
  /** JSON string[]: the prompt templates rows were built from. */
  templates: "sdpo.templates",
  /** JSON string[]: the item vocabulary; an item id is the title's index in it. */
  items: "sdpo.items",
  /** How item ids were assigned: "sorted-vocabulary" (index into the code-unit-sorted titles of `items`). */
  itemIds: "sdpo.item_ids",
  /** Decimal row count, so counting rows needs no scan. */
  rows: "sdpo.rows",
  /** JSON object describing how the file was made (source, seed, ...). */
  source: "sdpo.source",
} as const;

/** Who tokenized the token columns: enough to refuse a file made with another tokenizer. */
export interface TokenizerIdentity {
  /** sha256 (hex) of the tokenizer.json bytes. */
  hash: string;
  /** Number of ids, added tokens included: every token id is in [0, vocabSize). */
  vocabSize: number;
  eosId: number;
  padId: number;
  eosToken: string;
  padToken: string;
}

export type ColumnKind = "utf8" | "int32" | "list<utf8>" | "list<int32>" | "list<list<int32>>";

export interface ColumnSpec {
  name: string;
  kind: ColumnKind;
  /** Token columns are present only when the file was tokenized. */
  tokens: boolean;
}

export const TEXT_COLUMNS: ColumnSpec[] = [
  { name: "prompt", kind: "utf8", tokens: false },
  { name: "chosen", kind: "utf8", tokens: false },
  { name: "rejected", kind: "list<utf8>", tokens: false },
  { name: "candidates", kind: "list<utf8>", tokens: false },
  { name: "history", kind: "list<utf8>", tokens: false },
  { name: "chosen_item", kind: "int32", tokens: false },
  { name: "rejected_items", kind: "list<int32>", tokens: false },
  { name: "candidate_items", kind: "list<int32>", tokens: false },
];

export const TOKEN_COLUMNS: ColumnSpec[] = [
  { name: "prompt_ids", kind: "list<int32>", tokens: true },
  { name: "chosen_ids", kind: "list<int32>", tokens: true },
  { name: "rejected_ids", kind: "list<list<int32>>", tokens: true },
  { name: "candidate_ids", kind: "list<list<int32>>", tokens: true },
];

export const ALL_COLUMNS: ColumnSpec[] = [...TEXT_COLUMNS, ...TOKEN_COLUMNS];

function listOf(type: DataType): List {
  return new List(new Field("item", type, false));
}

/** The Arrow type we write for a column kind (readers also accept the large_* variants). */
export function arrowType(kind: ColumnKind): DataType {
  switch (kind) {
    case "utf8":
      return new Utf8();
    case "int32":
      return new Int32();
    case "list<utf8>":
      return listOf(new Utf8());
    case "list<int32>":
      return listOf(new Int32());
    case "list<list<int32>>":
      return listOf(listOf(new Int32()));
  }
}

/** Does `type` have the shape `kind` asks for? utf8/large_utf8 and list/large_list are interchangeable. */
export function matchesKind(type: DataType, kind: ColumnKind): boolean {
  const isText = (t: DataType) => t.typeId === Type.Utf8 || t.typeId === Type.LargeUtf8;
  const isInt32 = (t: DataType) => t.typeId === Type.Int && (t as Int32).bitWidth === 32 && (t as Int32).isSigned;
  const listChild = (t: DataType): DataType | null =>
    t.typeId === Type.List || t.typeId === Type.LargeList ? (t.children[0]?.type ?? null) : null;
  switch (kind) {
    case "utf8":
      return isText(type);
    case "int32":
      return isInt32(type);
    case "list<utf8>": {
      const c = listChild(type);
      return c !== null && isText(c);
    }
    case "list<int32>": {
      const c = listChild(type);
      return c !== null && isInt32(c);
    }
    case "list<list<int32>>": {
      const c = listChild(type);
      const cc = c && listChild(c);
      return cc !== null && cc !== undefined && isInt32(cc);
    }
  }
}

export interface SchemaOptions {
  tokenizer?: TokenizerIdentity;
  templates: string[];
  items: string[];
  rows: number;
  source?: Record<string, unknown>;
}

/** The schema (fields + metadata) the converter writes. */
export function preferenceSchema(options: SchemaOptions): Schema {
  const specs = options.tokenizer ? ALL_COLUMNS : TEXT_COLUMNS;
  const metadata = new Map<string, string>([
    [META.format, FORMAT_VERSION],
    [META.templates, JSON.stringify(options.templates)],
    [META.items, JSON.stringify(options.items)],
    [META.itemIds, "sorted-vocabulary"],
    [META.rows, String(options.rows)],
  ]);
  if (options.tokenizer) metadata.set(META.tokenizer, JSON.stringify(options.tokenizer));
  if (options.source) metadata.set(META.source, JSON.stringify(options.source));
  return new Schema(
    specs.map((s) => new Field(s.name, arrowType(s.kind), false)),
    metadata,
  );
}

/** Schema metadata, parsed. Fields are undefined when the key is missing (e.g. a file written by another tool). */
export interface DatasetMetadata {
  format?: string;
  tokenizer?: TokenizerIdentity;
  templates?: string[];
  items?: string[];
  itemIds?: string;
  rows?: number;
  source?: Record<string, unknown>;
  /** Every key, raw. */
  raw: Record<string, string>;
}

/** Schema metadata -> DatasetMetadata; a key that is present must be well-formed (DataError naming it). */
export function parseMetadata(metadata: Map<string, string>, file: string): DatasetMetadata {
  const raw = Object.fromEntries(metadata);
  const fail = (key: string, problem: string): never => {
    throw new DataError(file, `schema metadata "${key}" ${problem}`);
  };
  const json = <T>(key: string): T | undefined => {
    const text = metadata.get(key);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      return fail(key, `is not valid JSON (${(err as Error).message})`);
    }
  };
  const stringList = (key: string): string[] | undefined => {
    const list = json<unknown>(key);
    if (list !== undefined && !(Array.isArray(list) && list.every((s) => typeof s === "string"))) fail(key, "must be a JSON list of strings");
    return list as string[] | undefined;
  };
  const format = metadata.get(META.format);
  if (format !== undefined) {
    const major = /^sdpo-preference\/(\d+)(\.\d+)*$/.exec(format)?.[1];
    if (major !== FORMAT_MAJOR) fail(META.format, `is "${format}"; this reader reads ${FORMAT_VERSION} (major ${FORMAT_MAJOR})`);
  }
  const rowsText = metadata.get(META.rows);
  const rows = rowsText === undefined ? undefined : /^\d+$/.test(rowsText) ? Number(rowsText) : NaN;
  if (rows !== undefined && !(Number.isSafeInteger(rows) && rows >= 0)) fail(META.rows, `must be a row count, got "${rowsText}"`);
  const tokenizer = json<TokenizerIdentity>(META.tokenizer);
  if (tokenizer !== undefined) {
    if (typeof tokenizer !== "object" || tokenizer === null) fail(META.tokenizer, "must be a JSON object");
    const { vocabSize, eosId, padId } = tokenizer;
    if (!(Number.isInteger(vocabSize) && vocabSize > 0)) fail(META.tokenizer, `has no valid vocabSize (${String(vocabSize)})`);
    for (const [name, id] of [["eosId", eosId], ["padId", padId]] as const) {
      if (id !== undefined && !(Number.isInteger(id) && id >= 0 && id < vocabSize)) {
        fail(META.tokenizer, `has ${name} ${String(id)}, outside the vocabulary [0, ${vocabSize})`);
      }
    }
  }
  const source = json<Record<string, unknown>>(META.source);
  if (source !== undefined && (typeof source !== "object" || source === null || Array.isArray(source))) fail(META.source, "must be a JSON object");
  return {
    format,
    tokenizer,
    templates: stringList(META.templates),
    items: stringList(META.items),
    itemIds: metadata.get(META.itemIds),
    rows,
    source,
    raw,
  };
}

/** Human-readable type name for error messages, e.g. "list<int32>". */
export function describeType(type: DataType): string {
  return String(type).toLowerCase().replace(/largelist/g, "large_list").replace(/largeutf8/g, "large_utf8");
}
