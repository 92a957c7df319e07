/**
 * Structure checks on one Arrow record batch, before apache-arrow decodes it: apache-arrow trusts the lengths
 * it reads, so a corrupt field node or offsets buffer can make it loop, allocate gigabytes or read garbage.
 * Here the batch's message (through a bounds-checked FlatBuffers reader) is checked against the schema: its
 * row count, every buffer inside the body, each column's field node and buffers, and every offsets array
 * (text columns too) read and checked to start >= 0, never go backwards and end inside its values; field
 * nodes and buffers must be used up exactly. Compressed bodies are refused. Nulls are refused in the columns
 * named in `noNulls` (the README promises none), allowed elsewhere. The caller (a file in arrow-validate.ts,
 * a stream in arrow-stream-validate.ts) supplies the body's bytes through `readBody`.
 */
import { ArrowType, type ArrowFieldShape } from "./arrow-schema";
import { DataError } from "./errors";
import { FlatBufferError, FlatTable } from "./flatbuffer-reader";

// MessageHeader union ids (Message.fbs).
const HEADER_RECORD_BATCH = 3;

interface FieldNode {
  length: number;
  nullCount: number;
}

interface BufferRegion {
  offset: number;
  length: number;
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
