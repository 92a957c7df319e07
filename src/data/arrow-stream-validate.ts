/**
 * Structure checks on an Arrow IPC *stream*, message by message as it arrives, before apache-arrow sees the
 * bytes: the same checks as arrow-validate.ts does on a file (schema and record batch FlatBuffers read with
 * bounds checks, every buffer inside its body, every offsets array in bounds and monotonic, nulls refused in
 * the preference columns), on bytes held in memory. A stream has no size to hold lengths against, so bytes
 * are only ever gathered as they arrive: a message claiming a huge body ends as "truncated" once the stream
 * ends, having held no more than the stream actually sent.
 */
import { checkRecordBatch, decodeRecordBatch } from "./arrow-record-batch";
import { decodeSchema, MIN_METADATA_VERSION, type ArrowFieldShape } from "./arrow-schema";
import { asDataError } from "./arrow-validate";
import { DataError } from "./errors";
import { FlatBuffer, FlatBufferError } from "./flatbuffer-reader";

/** Metadata larger than this is refused: a preference schema (its item list included) is far smaller. */
const MAX_METADATA_BYTES = 256 << 20;
// MessageHeader union ids (Message.fbs).
const HEADER_SCHEMA = 1;
const HEADER_RECORD_BATCH = 3;

/** Exact-length reads over an async byte source, gathering chunks only as they come. */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  private held = 0;
  private done = false;
  private readonly iterator: AsyncIterator<Uint8Array | string>;

  constructor(source: AsyncIterable<Uint8Array | string>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** `length` bytes, or fewer only where the source ended. */
  async read(length: number): Promise<Uint8Array> {
    while (this.held < length && !this.done) {
      const next = await this.iterator.next();
      if (next.done) {
        this.done = true;
        break;
      }
      const chunk = typeof next.value === "string" ? Buffer.from(next.value) : next.value;
      this.chunks.push(chunk);
      this.held += chunk.byteLength;
    }
    const take = Math.min(length, this.held);
    const out = new Uint8Array(take);
    let filled = 0;
    while (filled < take) {
      const chunk = this.chunks[0];
      const n = Math.min(chunk.byteLength, take - filled);
      out.set(chunk.subarray(0, n), filled);
      filled += n;
      if (n === chunk.byteLength) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(n);
    }
    this.held -= take;
    return out;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

const int32 = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, 4).getInt32(0, true);

export interface StreamValidateOptions {
  noNulls?: ReadonlySet<string>;
}

/**
 * The bytes of the IPC stream `source`, passed on one checked message at a time; a DataError naming
 * `file` (and row and column where one is at fault) at the first problem.
 */
export async function* validatedArrowStream(
  source: AsyncIterable<Uint8Array | string>,
  file: string,
  options: StreamValidateOptions = {},
): AsyncGenerator<Uint8Array> {
  const noNulls = options.noNulls ?? new Set<string>();
  const queue = new ByteQueue(source);
  let fields: ArrowFieldShape[] | undefined;
  let metadata: Map<string, string> | undefined;
  let rowStart = 0;
  let position = 0;
  const finish = () => {
    if (!fields) throw new DataError(file, "not an Arrow IPC stream: it ends before a schema");
    const rows = metadata?.get("sdpo.rows");
    if (rows !== undefined && /^\d+$/.test(rows) && Number(rows) !== rowStart) {
      throw new DataError(file, `schema metadata "sdpo.rows" says ${rows} rows, the record batches hold ${rowStart}`);
    }
  };
  for (let index = 0; ; index++) {
    const what = index === 0 ? "schema message" : `message ${index}`;
    const head = await queue.read(4);
    if (head.byteLength === 0) {
      finish();
      return;
    }
    if (head.byteLength < 4) throw new DataError(file, `${what} at byte ${position}: the stream ends inside its length (truncated?)`);
    const prefix = [head];
    let length = int32(head);
    if (length === -1) {
      const more = await queue.read(4);
      if (more.byteLength < 4) throw new DataError(file, `${what} at byte ${position}: the stream ends inside its length (truncated?)`);
      prefix.push(more);
      length = int32(more);
    }
    if (length === 0) {
      finish();
      yield concat(prefix);
      return;
    }
    if (index === 0 && String.fromCharCode(...head) === "ARRO") {
      throw new DataError(file, "is an Arrow IPC file, not a stream: open it by path");
    }
    if (length < 0 || length > MAX_METADATA_BYTES) {
      throw new DataError(file, `${what} at byte ${position} has metadata length ${length} (at most ${MAX_METADATA_BYTES}; corrupt stream?)`);
    }
    const metaBytes = await queue.read(length);
    if (metaBytes.byteLength < length) throw new DataError(file, `${what} at byte ${position}: the stream ends inside its metadata (truncated?)`);
    const headerEnd = position + prefix.reduce((n, p) => n + p.byteLength, 0) + length;
    try {
      const message = new FlatBuffer(metaBytes).root(what);
      const version = message.i16(0, 0);
      if (version < MIN_METADATA_VERSION) throw new FlatBufferError(`metadata version ${version} is older than Arrow's V4`);
      const type = message.u8(1, 0);
      if (index === 0) {
        if (type !== HEADER_SCHEMA) throw new FlatBufferError("the stream does not start with a schema");
        const schema = message.table(2, "schema");
        if (!schema) throw new FlatBufferError("has no schema");
        ({ fields, metadata } = decodeSchema(schema));
        position = headerEnd;
        yield concat([...prefix, metaBytes]);
        continue;
      }
      if (type !== HEADER_RECORD_BATCH) {
        throw new FlatBufferError(type === HEADER_SCHEMA ? "a second schema" : `header type ${type} (dictionaries and tensors are not supported)`);
      }
      const header = decodeRecordBatch(message);
      if (header.bodyLength < 0) throw new FlatBufferError(`body length ${header.bodyLength} is invalid`);
      const body = await queue.read(header.bodyLength);
      if (body.byteLength < header.bodyLength) {
        throw new DataError(file, `${what}: the stream ends ${header.bodyLength - body.byteLength} bytes into its ${header.bodyLength}-byte body (truncated?)`, rowStart);
      }
      const readBody = async (offset: number, bytes: number) => body.subarray(offset, offset + bytes);
      await checkRecordBatch(header, fields!, readBody, file, rowStart, noNulls, what);
      rowStart += header.length;
      position = headerEnd + header.bodyLength;
      yield concat([...prefix, metaBytes, body]);
    } catch (err) {
      throw asDataError(err, file, what);
    }
  }
}
