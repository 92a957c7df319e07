/**
 * Structure checks on an Arrow IPC *file*, before apache-arrow decodes any of it: apache-arrow trusts the
 * lengths it reads, so a corrupt footer, message length or offsets buffer can make it loop, allocate gigabytes
 * or read garbage. Here every length is checked against the bytes that hold it: the magic, the footer and the
 * schema (through a bounds-checked FlatBuffers reader), each record batch's message and body against the file
 * size, each column's field node and buffers against the body, and every offsets array (text columns too)
 * read and checked to start >= 0, never go backwards and end inside its values. The work and the memory are
 * linear in the file's size; nothing is allocated from a length the file merely claims.
 *
 * Only the types a preference file can hold (ints, floats, bool, utf8/binary, lists, structs; their large
 * variants) are accepted; dictionaries and compressed bodies are refused. Nulls are refused in the columns
 * named in `noNulls` (the README promises none), allowed elsewhere.
 */
import type { FileHandle } from "fs/promises";
import { DataError } from "./errors";
import { FlatBuffer, FlatBufferError, FlatTable } from "./flatbuffer-reader";

const MAGIC = "ARROW1";
/** "ARROW1" + 2 bytes of padding. */
const HEAD_BYTES = 8;
/** int32 footer length + "ARROW1". */
const TAIL_BYTES = 10;
/** MetadataVersion.V4: older files lay buffers out differently. */
export const MIN_METADATA_VERSION = 3;
/** Schema trees deeper or wider than this are refused (a preference file has depth 3 and ~20 fields). */
const MAX_DEPTH = 32;
const MAX_FIELDS = 10000;

// Arrow's Type union ids (Schema.fbs).
const enum ArrowType {
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
// MessageHeader union ids (Message.fbs).
const HEADER_RECORD_BATCH = 3;

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

export interface ArrowFileShape {
  fields: ArrowFieldShape[];
  metadata: Map<string, string>;
  /** Rows of each record batch, in file order. */
  batchRows: number[];
  rows: number;
}

export interface ArrowValidateOptions {
  /** Top-level columns (and everything inside them) where a null is an error. */
  noNulls?: ReadonlySet<string>;
}

interface FieldNode {
  length: number;
  nullCount: number;
}

interface BufferRegion {
  offset: number;
  length: number;
}

/** Reads `length` bytes at `position`, all of them or a DataError. */
async function readExactly(handle: FileHandle, file: string, position: number, length: number, what: string): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(bytes, done, length - done, position + done);
    if (bytesRead === 0) throw new DataError(file, `${what}: file ends at byte ${position + done}, ${length - done} bytes short`);
    done += bytesRead;
  }
  return bytes;
}

function int32At(bytes: Uint8Array, pos: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getInt32(pos, true);
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

/** A message (continuation marker + length + flatbuffer) starting at `position`, inside [position, end). */
async function readMessage(
  handle: FileHandle,
  file: string,
  position: number,
  end: number,
  what: string,
): Promise<{ message: FlatTable; bodyStart: number }> {
  if (position + 8 > end) throw new DataError(file, `${what} at byte ${position} runs past byte ${end}`);
  const prefix = await readExactly(handle, file, position, 8, what);
  let length = int32At(prefix, 0);
  let start = position + 4;
  if (length === -1) {
    length = int32At(prefix, 4);
    start = position + 8;
  }
  if (length <= 0 || start + length > end) {
    throw new DataError(file, `${what} at byte ${position} has metadata length ${length}, outside the ${end - start} bytes available`);
  }
  const bytes = await readExactly(handle, file, start, length, what);
  try {
    const message = new FlatBuffer(bytes).root(what);
    const version = message.i16(0, 0);
    if (version < MIN_METADATA_VERSION) throw new FlatBufferError(`metadata version ${version} is older than Arrow's V4`);
    return { message, bodyStart: start + length };
  } catch (err) {
    throw asDataError(err, file, what);
  }
}

export function asDataError(err: unknown, file: string, what: string): Error {
  if (err instanceof FlatBufferError) return new DataError(file, `${what}: ${err.message} (corrupt file?)`);
  return err as Error;
}

/** Maps an index into a (possibly nested) column's values to the batch row that holds it. */
type RowOf = (index: number) => number;
const topLevel: RowOf = (index) => index;

/** The list (of `starts.length - 1`) whose values include index `j`: the last one starting at or before it. */
function listHolding(starts: Float64Array, j: number): number {
  let lo = 0;
  let hi = starts.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= j) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Walks one record batch's field nodes and buffers in schema order, checking each against the body. */
class BatchChecker {
  private node = 0;
  private buffer = 0;

  constructor(
    /** `length` bytes at `offset` of the body (the caller knows the range lies inside it). */
    private readonly readBody: (offset: number, length: number, what: string) => Promise<Uint8Array>,
    private readonly file: string,
    private readonly nodes: FieldNode[],
    private readonly buffers: BufferRegion[],
    private readonly rowStart: number,
  ) {}

  get nodesUsed(): number {
    return this.node;
  }

  get buffersUsed(): number {
    return this.buffer;
  }

  private fail(problem: string, column: string, row?: number): never {
    throw new DataError(this.file, `${problem} (corrupt file?)`, row, column);
  }

  private nextNode(column: string): FieldNode {
    if (this.node >= this.nodes.length) this.fail(`the record batch has ${this.nodes.length} field nodes, too few for the schema`, column, this.rowStart);
    return this.nodes[this.node++];
  }

  private nextBuffer(column: string): BufferRegion {
    if (this.buffer >= this.buffers.length) this.fail(`the record batch has ${this.buffers.length} buffers, too few for the schema`, column, this.rowStart);
    return this.buffers[this.buffer++];
  }

  private async read(region: BufferRegion, bytes: number, column: string): Promise<Uint8Array> {
    if (region.length < bytes) this.fail(`a buffer of ${region.length} bytes where ${bytes} are needed`, column, this.rowStart);
    return this.readBody(region.offset, bytes, `column "${column}"`);
  }

  /**
   * Offsets (int32 or int64) of `length` lists: from >= 0, never backwards, ending at most at `limit` (values
   * held). Returns them as numbers, to map a child's index back to its row.
   */
  private async offsets(region: BufferRegion, length: number, large: boolean, limit: number, column: string, rowOf: RowOf): Promise<Float64Array> {
    const out = new Float64Array(length + 1);
    if (length === 0) return out;
    const width = large ? 8 : 4;
    const bytes = await this.read(region, (length + 1) * width, column);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const at = (i: number) => (large ? Number(view.getBigInt64(i * 8, true)) : view.getInt32(i * 4, true));
    let previous = at(0);
    if (previous < 0) this.fail(`negative offset ${previous}`, column, this.rowStart + rowOf(0));
    out[0] = previous;
    for (let i = 1; i <= length; i++) {
      const value = at(i);
      if (value < previous) this.fail(`list offsets go backwards (${previous} then ${value})`, column, this.rowStart + rowOf(i - 1));
      if (value > limit) this.fail(`list offsets run past the ${limit} stored values`, column, this.rowStart + rowOf(i - 1));
      out[i] = previous = value;
    }
    return out;
  }

  private async firstNull(region: BufferRegion, length: number, column: string): Promise<number> {
    const bytes = await this.read(region, Math.ceil(length / 8), column);
    for (let i = 0; i < length; i++) if ((bytes[i >> 3] & (1 << (i & 7))) === 0) return i;
    return -1;
  }

  /** Values the next field node can hold: its length, and for a fixed-width child also what its buffer holds. */
  private childCapacity(child: ArrowFieldShape): number {
    const node = this.nodes[this.node];
    if (!node) return 0;
    const values = child.width !== undefined ? this.buffers[this.buffer + 1] : undefined;
    const held = values === undefined ? Infinity : child.width === 0 ? values.length * 8 : Math.floor(values.length / (child.width ?? 1));
    return Math.max(0, Math.min(node.length, held, 2147483647));
  }

  /** One field (and its children): node, validity, then the type's buffers. */
  async field(shape: ArrowFieldShape, column: string, expectedLength: number, rowOf: RowOf, noNulls: boolean): Promise<void> {
    const top = rowOf === topLevel;
    const node = this.nextNode(column);
    const { length, nullCount } = node;
    const row = this.rowStart;
    if (length < 0 || length > 2147483647) this.fail(`field node length ${length} is invalid`, column, row);
    if (top ? length !== expectedLength : length < expectedLength) {
      this.fail(`${length} values where the record batch needs ${expectedLength}`, column, row);
    }
    if (nullCount < 0 || nullCount > length) this.fail(`null count ${nullCount} for ${length} values`, column, row);
    const validity = this.nextBuffer(column);
    if (nullCount > 0) {
      if (noNulls) {
        const first = await this.firstNull(validity, length, column);
        throw new DataError(this.file, top ? "is null" : "holds a null", first >= 0 ? this.rowStart + rowOf(first) : row, column);
      }
      await this.read(validity, Math.ceil(length / 8), column);
    }
    switch (shape.typeId) {
      case ArrowType.Int:
      case ArrowType.FloatingPoint:
      case ArrowType.Bool: {
        const values = this.nextBuffer(column);
        const bytes = shape.width === 0 ? Math.ceil(length / 8) : length * (shape.width ?? 1);
        if (values.length < bytes) this.fail(`a values buffer of ${values.length} bytes for ${length} values`, column, row);
        return;
      }
      case ArrowType.Binary:
      case ArrowType.Utf8:
      case ArrowType.LargeBinary:
      case ArrowType.LargeUtf8: {
        const large = shape.typeId === ArrowType.LargeBinary || shape.typeId === ArrowType.LargeUtf8;
        const offsets = this.nextBuffer(column);
        const values = this.nextBuffer(column);
        await this.offsets(offsets, length, large, values.length, column, rowOf);
        return;
      }
      case ArrowType.List:
      case ArrowType.LargeList: {
        const offsets = this.nextBuffer(column);
        const starts = await this.offsets(offsets, length, shape.typeId === ArrowType.LargeList, this.childCapacity(shape.children[0]), column, rowOf);
        return this.field(shape.children[0], column, length === 0 ? 0 : starts[length], (j) => rowOf(listHolding(starts, j)), noNulls);
      }
      case ArrowType.FixedSizeList: {
        const size = shape.listSize ?? 1;
        return this.field(shape.children[0], column, length * size, (j) => rowOf(Math.floor(j / size)), noNulls);
      }
      case ArrowType.Struct:
        for (const child of shape.children) await this.field(child, column, length, rowOf, noNulls);
        return;
    }
  }
}

export function decodeRecordBatch(message: FlatTable): { length: number; nodes: FieldNode[]; buffers: BufferRegion[]; bodyLength: number } {
  if (message.u8(1, 0) !== HEADER_RECORD_BATCH) throw new FlatBufferError(`is not a record batch message (header type ${message.u8(1, 0)})`);
  const bodyLength = message.i64(3, 0, "body length");
  const batch = message.table(2, "record batch");
  if (!batch) throw new FlatBufferError("has no record batch header");
  const length = batch.i64(0, 0, "row count");
  const nodeVector = batch.vector(1, 16, "field nodes") ?? { start: 0, length: 0 };
  const bufferVector = batch.vector(2, 16, "buffers") ?? { start: 0, length: 0 };
  if (batch.has(3)) throw new FlatBufferError("is compressed, which is not supported");
  if ((batch.vector(4, 8, "variadic buffer counts")?.length ?? 0) > 0) throw new FlatBufferError("has variadic buffers, which are not supported");
  const fb = message.fb;
  const nodes: FieldNode[] = [];
  for (let i = 0; i < nodeVector.length; i++) {
    const at = nodeVector.start + 16 * i;
    nodes.push({ length: fb.i64(at, "field node length"), nullCount: fb.i64(at + 8, "null count") });
  }
  const buffers: BufferRegion[] = [];
  for (let i = 0; i < bufferVector.length; i++) {
    const at = bufferVector.start + 16 * i;
    buffers.push({ offset: fb.i64(at, "buffer offset"), length: fb.i64(at + 8, "buffer length") });
  }
  return { length, nodes, buffers, bodyLength };
}

/** A record batch message, decoded: rows, field nodes, buffer regions and body length as the file claims them. */
export type RecordBatchHeader = ReturnType<typeof decodeRecordBatch>;

/**
 * Checks one record batch against the schema: row count, every buffer inside the body, every field node and
 * offsets array (read through `readBody`), and nothing left over. `rowStart`: its first row in the file.
 */
export async function checkRecordBatch(
  header: RecordBatchHeader,
  fields: ArrowFieldShape[],
  readBody: (offset: number, length: number, what: string) => Promise<Uint8Array>,
  file: string,
  rowStart: number,
  noNulls: ReadonlySet<string>,
  what: string,
): Promise<void> {
  const { length, nodes, buffers, bodyLength } = header;
  if (length < 0 || length > 2147483647) throw new DataError(file, `${what}: row count ${length} is invalid (corrupt file?)`, rowStart);
  for (const region of buffers) {
    if (region.offset < 0 || region.length < 0 || region.offset + region.length > bodyLength) {
      throw new DataError(file, `${what}: buffer [${region.offset}, +${region.length}) lies outside its ${bodyLength}-byte body (corrupt file?)`, rowStart);
    }
  }
  const checker = new BatchChecker(readBody, file, nodes, buffers, rowStart);
  for (const shape of fields) await checker.field(shape, shape.name, length, topLevel, noNulls.has(shape.name));
  if (checker.nodesUsed !== nodes.length || checker.buffersUsed !== buffers.length) {
    throw new DataError(
      file,
      `${what}: ${nodes.length} field nodes and ${buffers.length} buffers where the schema has ${checker.nodesUsed} and ${checker.buffersUsed} (corrupt file?)`,
      rowStart,
    );
  }
}

/**
 * Checks the structure of the Arrow IPC file open as `handle` (`size` bytes); resolves to its shape or
 * rejects with a DataError naming `file` and, where one is at fault, the row and column.
 */
export async function validateArrowFile(handle: FileHandle, size: number, file: string, options: ArrowValidateOptions = {}): Promise<ArrowFileShape> {
  const noNulls = options.noNulls ?? new Set<string>();
  if (size < HEAD_BYTES + TAIL_BYTES + 8) throw new DataError(file, `not an Arrow IPC file (${size} bytes is too short)`);
  const head = await readExactly(handle, file, 0, HEAD_BYTES, "magic");
  const tail = await readExactly(handle, file, size - TAIL_BYTES, TAIL_BYTES, "footer");
  const text = (bytes: Uint8Array) => String.fromCharCode(...bytes);
  if (text(head.subarray(0, 6)) !== MAGIC) {
    throw new DataError(file, "not an Arrow IPC file: it does not start with ARROW1 (an IPC stream? convert it to the file format)");
  }
  if (text(tail.subarray(4)) !== MAGIC) throw new DataError(file, "not a complete Arrow IPC file: it does not end with ARROW1 (truncated?)");
  const footerLength = int32At(tail, 0);
  const footerStart = size - TAIL_BYTES - footerLength;
  if (footerLength <= 0 || footerStart < HEAD_BYTES) {
    throw new DataError(file, `footer length ${footerLength} does not fit the ${size}-byte file (corrupt file?)`);
  }
  const footerBytes = await readExactly(handle, file, footerStart, footerLength, "footer");

  let fields: ArrowFieldShape[];
  let metadata: Map<string, string>;
  let blocks: { offset: number; metaDataLength: number; bodyLength: number }[];
  try {
    const footer = new FlatBuffer(footerBytes).root("footer");
    const version = footer.i16(0, 0);
    if (version < MIN_METADATA_VERSION) throw new FlatBufferError(`metadata version ${version} is older than Arrow's V4`);
    const schema = footer.table(1, "schema");
    if (!schema) throw new FlatBufferError("has no schema");
    ({ fields, metadata } = decodeSchema(schema));
    if ((footer.vector(2, 24, "dictionary blocks")?.length ?? 0) > 0) throw new FlatBufferError("holds dictionaries, which are not supported");
    const vector = footer.vector(3, 24, "record batch blocks") ?? { start: 0, length: 0 };
    blocks = [];
    for (let i = 0; i < vector.length; i++) {
      const at = vector.start + 24 * i;
      blocks.push({
        offset: footer.fb.i64(at, "block offset"),
        metaDataLength: footer.fb.i32(at + 8),
        bodyLength: footer.fb.i64(at + 16, "block body length"),
      });
    }
  } catch (err) {
    throw asDataError(err, file, "footer");
  }

  const batchRows: number[] = [];
  let rowStart = 0;
  for (let b = 0; b < blocks.length; b++) {
    const block = blocks[b];
    const what = `record batch ${b}`;
    if (block.offset < HEAD_BYTES || block.offset >= footerStart || block.bodyLength < 0) {
      throw new DataError(file, `${what}: block at byte ${block.offset} lies outside the file's data (corrupt file?)`, rowStart);
    }
    const { message, bodyStart } = await readMessage(handle, file, block.offset, footerStart, what);
    let decoded: ReturnType<typeof decodeRecordBatch>;
    try {
      decoded = decodeRecordBatch(message);
    } catch (err) {
      throw asDataError(err, file, what);
    }
    const { length, bodyLength } = decoded;
    if (bodyLength < 0 || bodyStart + bodyLength > footerStart) {
      throw new DataError(file, `${what}: a ${bodyLength}-byte body at byte ${bodyStart} runs past the data (corrupt file?)`, rowStart);
    }
    const readBody = (offset: number, bytes: number, part: string) => readExactly(handle, file, bodyStart + offset, bytes, part);
    await checkRecordBatch(decoded, fields, readBody, file, rowStart, noNulls, what);
    batchRows.push(length);
    rowStart += length;
  }
  return { fields, metadata, batchRows, rows: rowStart };
}
