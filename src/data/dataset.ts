/**
 * PreferenceDataset: streams an Arrow IPC preference file as PreferenceBatches.
 *
 * A path is opened as a random-access file (apache-arrow's AsyncRecordBatchFileReader over a FileHandle),
 * so only one record batch is in memory at a time (plus those rows still in the shuffle buffer); a stream
 * (Node Readable / AsyncIterable of bytes) can be read once, and in the IPC *file* format apache-arrow
 * buffers it whole (the footer is at the end), so pass streams in the IPC *stream* format.
 */
import { constants as fsConstants, promises as fsp } from "fs";
import { RecordBatch, RecordBatchReader, Schema } from "apache-arrow";
import type { PackedTokens, PreferenceBatch } from "./batch";
import { Chunk, checkSchema, chunkOf } from "./columns";
import { validatedArrowStream } from "./arrow-stream-validate";
import { ArrowFileShape, validateArrowFile } from "./arrow-validate";
import { DataError } from "./errors";
import { ListGather } from "./pack";
import { mixSeed, SeededRng } from "../rng";
import { ALL_COLUMNS, DatasetMetadata, parseMetadata } from "./schema";
import { checkChunk, NegativeSampling } from "./validate";

export interface BatchOptions {
  /** Examples per batch (B). */
  batchSize: number;
  /** Negatives per example (K); 0 for SFT. */
  negatives?: number;
  /** "fixed": the row's rejected_ids (first K), or K drawn from the candidates where it has none;
   *  "random": K drawn from the candidates minus the chosen one, anew each epoch. Default "fixed". */
  negativeSampling?: NegativeSampling;
  shuffle?: boolean;
  seed?: number;
  epoch?: number;
  /** Rows held for shuffling (bounded memory); default 8192. */
  shuffleBuffer?: number;
  /** Skip this many batches of the epoch without building them (resume). */
  skipBatches?: number;
  /** Drop a last, smaller batch. Default false. */
  dropLast?: boolean;
}

export interface DatasetOptions {
  /** Checks token ids against this vocabulary size instead of the metadata's. */
  vocabSize?: number;
  /** Name used in error messages (default: the path, or "<stream>"). */
  name?: string;
}

/** The README promises no nulls in any column of the preference layout. */
const NO_NULL_COLUMNS: ReadonlySet<string> = new Set(ALL_COLUMNS.map((c) => c.name));

/** Bytes of an Arrow IPC stream: a Node Readable or any async iterable of chunks. */
export type ByteSource = AsyncIterable<Uint8Array> | NodeJS.ReadableStream;

interface OpenedReader {
  schema: Schema;
  /** The structure checked before decoding (files only). */
  shape?: ArrowFileShape;
  batches: AsyncIterable<RecordBatch>;
  close(): Promise<void>;
}

export class PreferenceDataset {
  private streamUsed = false;
  /** The last structure check, keyed by the file's identity, so epochs do not repeat it. */
  private checked?: { key: string; shape: ArrowFileShape };
  private cachedHead?: Promise<{ schema: Schema; metadata: DatasetMetadata }>;

  private constructor(
    private readonly source: string | ByteSource,
    readonly name: string,
    private readonly options: DatasetOptions,
  ) {}

  /** Nothing is read until metadata(), countRows() or batches() is called. */
  static fromArrow(source: string | ByteSource, options: DatasetOptions = {}): PreferenceDataset {
    const name = options.name ?? (typeof source === "string" ? source : "<stream>");
    return new PreferenceDataset(source, name, options);
  }

  private wrap(err: unknown): Error {
    if (err instanceof DataError) return err;
    return new DataError(this.name, `not a readable Arrow IPC file, or truncated/corrupt (${(err as Error).message})`);
  }

  private async open(): Promise<OpenedReader> {
    if (typeof this.source !== "string") {
      if (this.streamUsed) throw new DataError(this.name, "a stream can be read once; open a path to read epochs");
      this.streamUsed = true;
      try {
        const checked = validatedArrowStream(this.source as AsyncIterable<Uint8Array>, this.name, { noNulls: NO_NULL_COLUMNS });
        const reader = await RecordBatchReader.from(checked);
        await reader.open();
        if (!reader.schema) throw new DataError(this.name, "not a readable Arrow IPC stream, or truncated/corrupt (no schema found)");
        return { schema: reader.schema, batches: reader as AsyncIterable<RecordBatch>, close: async () => reader.cancel() };
      } catch (err) {
        throw this.wrap(err);
      }
    }
    let handle: fsp.FileHandle;
    try {
      // Non-blocking, so a FIFO in the file's place is refused below instead of waiting for a writer.
      handle = await fsp.open(this.source, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    } catch (err) {
      throw new DataError(this.name, `cannot open (${(err as Error).message})`);
    }
    try {
      const shape = await this.checkStructure(handle);
      const reader = await RecordBatchReader.from(handle);
      await reader.open();
      if (!reader.schema) throw new DataError(this.name, "not a readable Arrow IPC file, or truncated/corrupt (no schema found)");
      const names = reader.schema.fields.map((f) => f.name).join("\0");
      if (names !== shape.fields.map((f) => f.name).join("\0")) {
        throw new DataError(this.name, "apache-arrow decoded a different schema than the file's footer holds (corrupt file?)");
      }
      return { schema: reader.schema, shape, batches: reader as AsyncIterable<RecordBatch>, close: () => handle.close() };
    } catch (err) {
      await handle.close();
      throw this.wrap(err);
    }
  }

  /** Structure checks (arrow-validate.ts) before apache-arrow reads a byte; once per file version. */
  private async checkStructure(handle: fsp.FileHandle): Promise<ArrowFileShape> {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new DataError(this.name, "is not a regular file");
    const key = `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    if (this.checked?.key === key) return this.checked.shape;
    const shape = await validateArrowFile(handle, stat.size, this.name, { noNulls: NO_NULL_COLUMNS });
    this.checked = { key, shape };
    return shape;
  }

  /** The schema metadata, parsed, with its row count held to the record batches' (files). */
  private metadataOf(reader: OpenedReader): DatasetMetadata {
    const metadata = parseMetadata(reader.schema.metadata, this.name);
    if (metadata.rows !== undefined && reader.shape && metadata.rows !== reader.shape.rows) {
      throw new DataError(this.name, `schema metadata "sdpo.rows" says ${metadata.rows} rows, the record batches hold ${reader.shape.rows}`);
    }
    return metadata;
  }

  private head(): Promise<{ schema: Schema; metadata: DatasetMetadata }> {
    if (!this.cachedHead) {
      if (typeof this.source !== "string") {
        throw new DataError(this.name, "metadata of a stream is available only while batches() reads it");
      }
      this.cachedHead = (async () => {
        const reader = await this.open();
        await reader.close();
        return { schema: reader.schema, metadata: this.metadataOf(reader) };
      })();
    }
    return this.cachedHead;
  }

  /** The schema metadata, parsed (format version, tokenizer identity, templates, item vocabulary, rows). */
  async metadata(): Promise<DatasetMetadata> {
    return (await this.head()).metadata;
  }

  async schema(): Promise<Schema> {
    return (await this.head()).schema;
  }

  /** Row count: from the metadata when the converter wrote it, else by reading every record batch. */
  async countRows(): Promise<number> {
    const { metadata } = await this.head();
    if (metadata.rows !== undefined) return metadata.rows;
    let rows = 0;
    for await (const chunk of this.chunks(undefined)) rows += chunk.numRows;
    return rows;
  }

  /** Reads and checks every row for the given batch options; resolves to the row count or rejects with the first problem. */
  async validate(options: Pick<BatchOptions, "negatives" | "negativeSampling"> = {}): Promise<{ rows: number }> {
    let rows = 0;
    for await (const chunk of this.chunks(options)) rows += chunk.numRows;
    return { rows };
  }

  /** Record batches as checked Chunks. `check` undefined: structure only (no row checks). */
  private async *chunks(check: Pick<BatchOptions, "negatives" | "negativeSampling"> | undefined): AsyncGenerator<Chunk> {
    const reader = await this.open();
    try {
      const metadata = this.metadataOf(reader);
      checkSchema(reader.schema, this.name, true);
      const vocabSize = this.options.vocabSize ?? metadata.tokenizer?.vocabSize;
      let rowStart = 0;
      const iterator = reader.batches[Symbol.asyncIterator]();
      for (;;) {
        let next: IteratorResult<RecordBatch>;
        try {
          next = await iterator.next();
        } catch (err) {
          throw this.wrap(err);
        }
        if (next.done) break;
        const chunk = chunkOf(next.value, rowStart, this.name);
        if (check) {
          checkChunk(chunk, this.name, {
            vocabSize,
            eosId: metadata.tokenizer?.eosId,
            itemCount: metadata.items?.length,
            negatives: check.negatives ?? 0,
            negativeSampling: check.negativeSampling ?? "fixed",
          });
        }
        rowStart += chunk.numRows;
        yield chunk;
      }
    } finally {
      await reader.close();
    }
  }

  /** Batches of `batchSize` examples; deterministic for a given (seed, epoch). */
  async *batches(options: BatchOptions): AsyncGenerator<PreferenceBatch> {
    const B = options.batchSize;
    const K = options.negatives ?? 0;
    if (!Number.isInteger(B) || B < 1) throw new RangeError(`batchSize must be a positive integer, got ${B}`);
    if (!Number.isInteger(K) || K < 0) throw new RangeError(`negatives must be a non-negative integer, got ${K}`);
    const sampling = options.negativeSampling ?? "fixed";
    if (sampling !== "fixed" && sampling !== "random") {
      throw new RangeError(`negativeSampling must be "fixed" or "random", got "${sampling as string}"`);
    }
    const seed = options.seed ?? 0;
    const epoch = options.epoch ?? 0;
    const skip = options.skipBatches ?? 0;
    const bufferSize = options.shuffle ? Math.max(1, options.shuffleBuffer ?? 8192) : 0;
    const shuffleRng = new SeededRng(mixSeed(seed, epoch, 0x5f3759df));
    const builder = new BatchBuilder(K, sampling, seed, epoch);

    // Rows wait here as (chunk, row) pairs; with shuffle, a bounded buffer emits a random one per incoming row.
    const pending: RowRef[] = [];
    const buffer: RowRef[] = [];
    let emitted = 0;
    const flush = function* (final: boolean): Generator<PreferenceBatch> {
      while (pending.length >= B || (final && pending.length > 0 && !options.dropLast)) {
        const rows = pending.splice(0, B);
        if (emitted++ < skip) continue;
        yield builder.build(rows);
      }
    };
    for await (const chunk of this.chunks({ negatives: K, negativeSampling: sampling })) {
      for (let r = 0; r < chunk.numRows; r++) {
        const ref: RowRef = { chunk, row: r };
        if (bufferSize === 0) pending.push(ref);
        else if (buffer.length < bufferSize) buffer.push(ref);
        else {
          const i = shuffleRng.below(bufferSize);
          pending.push(buffer[i]);
          buffer[i] = ref;
        }
      }
      yield* flush(false);
    }
    shuffleRng.shuffle(buffer);
    pending.push(...buffer);
    yield* flush(true);
  }
}

interface RowRef {
  chunk: Chunk;
  row: number;
}

/** Rows -> PreferenceBatch. Negative draws are seeded by (seed, epoch, file row): independent of batching and shuffling. */
class BatchBuilder {
  constructor(
    private readonly K: number,
    private readonly sampling: NegativeSampling,
    private readonly seed: number,
    private readonly epoch: number,
  ) {}

  /** Positions (among the row's candidates) of K negatives drawn without replacement, the chosen one excluded. */
  drawNegatives(chunk: Chunk, r: number): number[] {
    const count = chunk.candidates.outer[r + 1] - chunk.candidates.outer[r];
    const chosen = chunk.chosenIndex[r];
    const pool: number[] = [];
    for (let j = 0; j < count; j++) if (j !== chosen) pool.push(j);
    return new SeededRng(mixSeed(this.seed, this.epoch, chunk.rowStart + r)).choose(pool.length, this.K).map((p) => pool[p]);
  }

  build(refs: RowRef[]): PreferenceBatch {
    const B = refs.length;
    const K = this.K;
    const rows = new Int32Array(B);
    const chosenItem = new Int32Array(B);
    const rejectedItems = new Int32Array(B * K);
    const candidateOffsets = new Int32Array(B + 1);
    const prompt = new ListGather();
    const chosen = new ListGather();
    const rejected = new ListGather();
    const candidates = new ListGather();
    const candidateItems = new ListGather();
    for (let b = 0; b < B; b++) {
      const { chunk, row: r } = refs[b];
      rows[b] = chunk.rowStart + r;
      chosenItem[b] = chunk.chosenItem[r];
      prompt.add(chunk.prompt.values, chunk.prompt.offsets[r], chunk.prompt.offsets[r + 1]);
      chosen.add(chunk.chosen.values, chunk.chosen.offsets[r], chunk.chosen.offsets[r + 1]);
      const cand = chunk.candidates;
      const candFirst = cand.outer[r];
      const candCount = cand.outer[r + 1] - candFirst;
      for (let j = 0; j < candCount; j++) {
        candidates.add(cand.lists.values, cand.lists.offsets[candFirst + j], cand.lists.offsets[candFirst + j + 1]);
      }
      candidateOffsets[b + 1] = candidateOffsets[b] + candCount;
      const itemStart = chunk.candidateItems.offsets[r];
      candidateItems.add(chunk.candidateItems.values, itemStart, itemStart + candCount);
      if (K === 0) continue;
      const rej = chunk.rejected;
      const rejFirst = rej.outer[r];
      if (this.sampling === "fixed" && rej.outer[r + 1] > rejFirst) {
        const rejItemStart = chunk.rejectedItems.offsets[r];
        for (let k = 0; k < K; k++) {
          rejected.add(rej.lists.values, rej.lists.offsets[rejFirst + k], rej.lists.offsets[rejFirst + k + 1]);
          rejectedItems[b * K + k] = chunk.rejectedItems.values[rejItemStart + k];
        }
      } else {
        const picks = this.drawNegatives(chunk, r);
        for (let k = 0; k < K; k++) {
          const j = picks[k];
          rejected.add(cand.lists.values, cand.lists.offsets[candFirst + j], cand.lists.offsets[candFirst + j + 1]);
          rejectedItems[b * K + k] = chunk.candidateItems.values[itemStart + j];
        }
      }
    }
    const items = candidateItems.pack(); // one list per row; a view when back to back
    const batch: PreferenceBatch = {
      size: B,
      rows,
      prompt: this.packRows(refs, "prompt") ?? prompt.pack(),
      chosen: this.packRows(refs, "chosen") ?? chosen.pack(),
      negatives: K,
      rejected: rejected.pack(),
      chosenItem,
      rejectedItems,
      candidates: candidates.pack(),
      candidateOffsets,
      candidateItems: items.values.subarray(items.offsets[0], items.offsets[B]),
      text: lazyText(refs),
    };
    return batch;
  }

  /** Consecutive rows of one chunk: the offsets too are a view on the Arrow buffer. */
  private packRows(refs: RowRef[], column: "prompt" | "chosen"): PackedTokens | undefined {
    const first = refs[0];
    for (let b = 1; b < refs.length; b++) {
      if (refs[b].chunk !== first.chunk || refs[b].row !== first.row + b) return undefined;
    }
    const view = first.chunk[column];
    return { values: view.values, offsets: view.offsets.subarray(first.row, first.row + refs.length + 1) };
  }
}

/** Texts decoded from the Arrow utf8 columns only when a consumer reads them (training never does). */
function lazyText(refs: RowRef[]): PreferenceBatch["text"] {
  const column = (ref: RowRef, name: string) => ref.chunk.batch.getChild(name)?.get(ref.row);
  let prompt: string[] | undefined;
  let chosen: string[] | undefined;
  let candidates: string[][] | undefined;
  let history: string[][] | undefined;
  return {
    get prompt() {
      return (prompt ??= refs.map((ref) => String(column(ref, "prompt"))));
    },
    get chosen() {
      return (chosen ??= refs.map((ref) => String(column(ref, "chosen"))));
    },
    get candidates() {
      return (candidates ??= refs.map((ref) => [...(column(ref, "candidates") ?? [])].map(String)));
    },
    get history() {
      return (history ??= refs.map((ref) => [...(column(ref, "history") ?? [])].map(String)));
    },
  };
}
