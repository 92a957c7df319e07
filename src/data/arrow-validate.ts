/**
 * Structure checks on an Arrow IPC *file*, before apache-arrow decodes any of it: apache-arrow trusts the
 * lengths it reads, so a corrupt footer, message length or offsets buffer can make it loop, allocate gigabytes
 * or read garbage. Here every length is checked against the bytes that hold it: the magic, the footer (through
 * a bounds-checked FlatBuffers reader; its schema checked by arrow-schema.ts), each record batch's message and
 * body against the file size, then each batch's field nodes, buffers and offsets arrays against its body
 * (arrow-record-batch.ts). The work and the memory are linear in the file's size; nothing is allocated from a
 * length the file merely claims. Footers listing dictionaries are refused.
 */
import type { FileHandle } from "fs/promises";
import { checkRecordBatch, decodeRecordBatch } from "./arrow-record-batch";
import { decodeSchema, MIN_METADATA_VERSION, type ArrowFieldShape } from "./arrow-schema";
import { DataError } from "./errors";
import { FlatBuffer, FlatBufferError, FlatTable } from "./flatbuffer-reader";

const MAGIC = "ARROW1";
/** "ARROW1" + 2 bytes of padding. */
const HEAD_BYTES = 8;
/** int32 footer length + "ARROW1". */
const TAIL_BYTES = 10;

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
