/**
 * Checks on an Arrow schema (the Schema table of a file's footer or of a stream's schema message), before
 * apache-arrow decodes it: it is read through a bounds-checked FlatBuffers reader, every field's type is
 * checked (int bit width, float precision, fixed list size, child count), and trees deeper than MAX_DEPTH or
 * wider than MAX_FIELDS are refused, so a corrupt schema costs no more than its own bytes.
 *
 * Only the types a preference file can hold (ints, floats, bool, utf8/binary, lists, structs; their large
 * variants) are accepted; dictionary-encoded fields and big-endian schemas are refused.
 */
import { FlatBufferError, FlatTable } from "./flatbuffer-reader";

/** MetadataVersion.V4: older files lay buffers out differently. */
export const MIN_METADATA_VERSION = 3;
/** Schema trees deeper or wider than this are refused (a preference file has depth 3 and ~20 fields). */
const MAX_DEPTH = 32;
const MAX_FIELDS = 10000;

// Arrow's Type union ids (Schema.fbs).
export const enum ArrowType {
  Int = 2,
  FloatingPoint = 3,
  Binary = 4,
  Utf8 = 5,
  Bool = 6,
  List = 12,
  Struct = 13,
  FixedSizeList = 16,
  LargeBinary = 19,
  LargeUtf8 = 20,
  LargeList = 21,
}
const TYPE_NAMES: Record<number, string> = {
  0: "none", 1: "null", 2: "int", 3: "float", 4: "binary", 5: "utf8", 6: "bool", 7: "decimal", 8: "date",
  9: "time", 10: "timestamp", 11: "interval", 12: "list", 13: "struct", 14: "union", 15: "fixed_size_binary",
  16: "fixed_size_list", 17: "map", 18: "duration", 19: "large_binary", 20: "large_utf8", 21: "large_list",
  22: "run_end_encoded", 23: "binary_view", 24: "utf8_view", 25: "list_view", 26: "large_list_view",
};

/** One field of the schema as the file describes it. */
export interface ArrowFieldShape {
  name: string;
  typeId: number;
  /** Bytes per value (int, float), 0 for bool (bits), undefined otherwise. */
  width?: number;
  /** FixedSizeList only. */
  listSize?: number;
  children: ArrowFieldShape[];
}

function typeName(typeId: number): string {
  return TYPE_NAMES[typeId] ?? `type #${typeId}`;
}

class FieldCounter {
  count = 0;
}

function decodeField(table: FlatTable, depth: number, counter: FieldCounter, path: string): ArrowFieldShape {
  if (++counter.count > MAX_FIELDS) throw new FlatBufferError(`the schema has more than ${MAX_FIELDS} fields`);
  if (depth > MAX_DEPTH) throw new FlatBufferError(`the schema nests deeper than ${MAX_DEPTH} levels`);
  const name = table.string(0, "field name") ?? "";
  const where = path ? `${path}.${name}` : name;
  const typeId = table.u8(2, 0);
  if (table.has(4)) throw new FlatBufferError(`field "${where}" is dictionary-encoded, which is not supported`);
  decodeKeyValues(table, 6);
  const children = table.tables(5, "field children").map((child) => decodeField(child, depth + 1, counter, where));
  const shape: ArrowFieldShape = { name, typeId, children };
  const type = table.table(3, "field type");
  const childCount = (n: number) => {
    if (children.length !== n) throw new FlatBufferError(`field "${where}" (${typeName(typeId)}) has ${children.length} children, expected ${n}`);
  };
  switch (typeId) {
    case ArrowType.Int: {
      const bitWidth = type?.i32(0, 0) ?? 0;
      if (![8, 16, 32, 64].includes(bitWidth)) throw new FlatBufferError(`field "${where}": int bit width ${bitWidth} is invalid`);
      shape.width = bitWidth / 8;
      childCount(0);
      break;
    }
    case ArrowType.FloatingPoint: {
      const precision = type?.i16(0, 0) ?? 0;
      if (precision < 0 || precision > 2) throw new FlatBufferError(`field "${where}": float precision ${precision} is invalid`);
      shape.width = 2 << precision;
      childCount(0);
      break;
    }
    case ArrowType.Bool:
      shape.width = 0;
      childCount(0);
      break;
    case ArrowType.Binary:
    case ArrowType.Utf8:
    case ArrowType.LargeBinary:
    case ArrowType.LargeUtf8:
      childCount(0);
      break;
    case ArrowType.List:
    case ArrowType.LargeList:
      childCount(1);
      break;
    case ArrowType.FixedSizeList: {
      const listSize = type?.i32(0, 0) ?? 0;
      if (listSize < 1) throw new FlatBufferError(`field "${where}": fixed list size ${listSize} is invalid`);
      shape.listSize = listSize;
      childCount(1);
      break;
    }
    case ArrowType.Struct:
      if (children.length === 0) throw new FlatBufferError(`field "${where}" is a struct with no fields`);
      break;
    default:
      throw new FlatBufferError(`field "${where}" has type ${typeName(typeId)}, which a preference file cannot hold`);
  }
  return shape;
}

function decodeKeyValues(table: FlatTable, index: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of table.tables(index, "custom metadata")) {
    const key = entry.string(0, "metadata key");
    if (key !== undefined) out.set(key, entry.string(1, "metadata value") ?? "");
  }
  return out;
}

export function decodeSchema(schema: FlatTable): { fields: ArrowFieldShape[]; metadata: Map<string, string> } {
  const endianness = schema.i16(0, 0);
  if (endianness !== 0) throw new FlatBufferError("the file is big-endian, which is not supported");
  const counter = new FieldCounter();
  const fields = schema.tables(1, "schema fields").map((f) => decodeField(f, 0, counter, ""));
  const metadata = decodeKeyValues(schema, 2);
  schema.vector(3, 8, "schema features");
  return { fields, metadata };
}
