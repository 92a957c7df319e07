/**
 * The safetensors format (https://github.com/huggingface/safetensors), read and written in TypeScript.
 *
 * A file is: 8 bytes little-endian u64 N, N bytes of UTF-8 JSON header, then the data section.
 * The header maps each tensor name to { dtype, shape, data_offsets: [begin, end] } (offsets relative
 * to the data section) and may hold "__metadata__" (string -> string). The reader enforces every rule
 * the reference implementation does, so a corrupt or truncated file is refused with the file and the
 * tensor named, never read as wrong numbers. Tensor bytes are read lazily, one span at a time.
 */
import { promises as fsp } from "fs";
import * as os from "os";
import type { SafetensorsDType } from "../native";
import { writeFileAtomicWith } from "./atomic";
import { openRegularFile } from "../regular-file";

/** Bytes per element of each safetensors dtype. */
export const SAFETENSORS_DTYPE_SIZE: Readonly<Record<SafetensorsDType, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** The header is parsed into memory in full; the reference implementation caps it at 100 MB too. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsTensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Byte span [begin, end) relative to the start of the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsTensor {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Raw little-endian bytes (any typed array view is accepted when writing). */
  data: ArrayBufferView;
}

/**
 * A tensor to write whose bytes are produced only when the writer reaches it (e.g. copied out of a
 * model), so writing a checkpoint holds one tensor in memory at a time, not the whole model.
 */
export interface LazySafetensorsTensor {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  load: () => ArrayBufferView | Promise<ArrayBufferView>;
}

export type TensorToWrite = SafetensorsTensor | LazySafetensorsTensor;

/** Byte size of a tensor to write, from its data or (lazy) its dtype and shape. */
export function byteSizeOf(t: TensorToWrite): number {
  return "data" in t ? t.data.byteLength : Number(tensorByteSize(t.dtype, t.shape));
}

export function isSafetensorsDType(value: unknown): value is SafetensorsDType {
  return typeof value === "string" && Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_SIZE, value);
}

/** Product of the shape times the element size, checked: BigInt so no product silently loses precision. */
export function tensorByteSize(dtype: SafetensorsDType, shape: readonly number[]): bigint {
  let n = BigInt(SAFETENSORS_DTYPE_SIZE[dtype]);
  for (const d of shape) n *= BigInt(d);
  return n;
}

/** An opened, validated safetensors file; tensor bytes are read on demand. */
export class SafetensorsFile {
  private constructor(
    readonly path: string,
    readonly metadata: Readonly<Record<string, string>>,
    private readonly infos: Map<string, SafetensorsTensorInfo>,
    /** Absolute byte offset of the data section (8 + header length). */
    readonly dataStart: number,
    readonly fileSize: number,
    private readonly inode: number
  ) {}

  /** Tensor names, sorted. */
  names(): string[] {
    return [...this.infos.keys()].sort();
  }

  has(name: string): boolean {
    return this.infos.has(name);
  }

  info(name: string): SafetensorsTensorInfo {
    const info = this.infos.get(name);
    if (!info) throw new Error(`safetensors ${this.path}: no tensor named "${name}"`);
    return info;
  }

  /** Reads just this tensor's bytes from disk. */
  async read(name: string): Promise<SafetensorsTensor> {
    const info = this.info(name);
    const length = info.end - info.begin;
    const data = new Uint8Array(length);
    const handle = await openRegularFile(this.path);
    try {
      // The header was validated against one file; refuse to read spans out of another one put in its place.
      const { size, ino } = await handle.stat();
      if (size !== this.fileSize || ino !== this.inode) {
        throw new Error(`safetensors ${this.path}: the file was replaced or changed size since it was opened`);
      }
      await readExactly(handle, data, this.dataStart + info.begin, `safetensors ${this.path}: tensor "${name}"`);
    } finally {
      await handle.close();
    }
    return { name, dtype: info.dtype, shape: [...info.shape], data };
  }

  /** Parses and validates the header of `filePath` against the file's length. */
  static async open(filePath: string, options: { maxHeaderBytes?: number } = {}): Promise<SafetensorsFile> {
    const maxHeaderBytes = options.maxHeaderBytes ?? MAX_HEADER_BYTES;
    const handle = await openRegularFile(filePath);
    try {
      const stat = await handle.stat();
      const fileSize = stat.size;
      const fail = (what: string): never => {
        throw new Error(`safetensors ${filePath}: ${what}`);
      };
      if (fileSize < 8) fail(`truncated file: ${fileSize} bytes, shorter than the 8-byte header length`);
      const lengthBytes = Buffer.alloc(8);
      await readExactly(handle, lengthBytes, 0, `safetensors ${filePath}: header length`);
      const headerLength = lengthBytes.readBigUInt64LE(0);
      if (headerLength > BigInt(maxHeaderBytes)) {
        fail(`header length ${headerLength} exceeds the ${maxHeaderBytes}-byte cap`);
      }
      const n = Number(headerLength);
      if (8 + n > fileSize) fail(`header length ${n} runs past the end of the file (${fileSize} bytes)`);
      const headerBytes = Buffer.alloc(n);
      await readExactly(handle, headerBytes, 8, `safetensors ${filePath}: header`);
      const { metadata, infos } = parseHeader(filePath, headerBytes, fileSize - 8 - n);
      return new SafetensorsFile(filePath, metadata, infos, 8 + n, fileSize, stat.ino);
    } finally {
      await handle.close();
    }
  }
}

/** Fills `buffer` from `position`; a regular file may return fewer bytes per read than asked. */
async function readExactly(handle: fsp.FileHandle, buffer: Uint8Array, position: number, what: string): Promise<void> {
  let done = 0;
  while (done < buffer.byteLength) {
    const { bytesRead } = await handle.read(buffer, done, buffer.byteLength - done, position + done);
    if (bytesRead === 0) throw new Error(`${what}: unexpected end of file`);
    done += bytesRead;
  }
}

/** Opens a safetensors file, validating its header; see SafetensorsFile. */
export function openSafetensors(filePath: string, options?: { maxHeaderBytes?: number }): Promise<SafetensorsFile> {
  return SafetensorsFile.open(filePath, options);
}

/** Reads every tensor of a file (sorted by name) and its metadata. */
export async function readSafetensors(
  filePath: string
): Promise<{ tensors: SafetensorsTensor[]; metadata: Record<string, string> }> {
  const file = await openSafetensors(filePath);
  const tensors: SafetensorsTensor[] = [];
  for (const name of file.names()) tensors.push(await file.read(name));
  return { tensors, metadata: { ...file.metadata } };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseHeader(
  filePath: string,
  headerBytes: Buffer,
  dataLength: number
): { metadata: Record<string, string>; infos: Map<string, SafetensorsTensorInfo> } {
  const fail = (what: string): never => {
    throw new Error(`safetensors ${filePath}: ${what}`);
  };
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    return fail("header is not valid UTF-8");
  }
  // The reference reader requires the object to start at the first byte (padding goes after it).
  if (!text.startsWith("{")) fail("header must be a JSON object starting at its first byte");
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    return fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(header)) fail("header must be a JSON object");
  const entries = header as Record<string, unknown>;
  // JSON.parse keeps the last of repeated keys silently; two readers could then disagree on a tensor.
  const duplicate = firstDuplicateTopLevelKey(text);
  if (duplicate !== undefined) fail(`tensor "${duplicate}" appears twice in the header`);

  const metadata: Record<string, string> = {};
  if ("__metadata__" in entries) {
    const raw = entries.__metadata__;
    if (!isPlainObject(raw)) fail(`"__metadata__" must be an object of strings`);
    for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof value !== "string") fail(`"__metadata__" value of "${key}" must be a string, got ${JSON.stringify(value)}`);
      metadata[key] = value as string;
    }
  }

  const infos = new Map<string, SafetensorsTensorInfo>();
  for (const [name, raw] of Object.entries(entries)) {
    if (name === "__metadata__") continue;
    const failTensor = (what: string): never => fail(`tensor "${name}": ${what}`);
    if (!isPlainObject(raw)) failTensor("entry must be an object with dtype, shape and data_offsets");
    const entry = raw as Record<string, unknown>;
    for (const key of Object.keys(entry)) {
      if (key !== "dtype" && key !== "shape" && key !== "data_offsets") failTensor(`unknown field "${key}"`);
    }
    const dtype = entry.dtype;
    if (!isSafetensorsDType(dtype)) {
      failTensor(`unknown dtype ${JSON.stringify(dtype)} (expected one of ${Object.keys(SAFETENSORS_DTYPE_SIZE).join(", ")})`);
    }
    const shape = entry.shape;
    if (!Array.isArray(shape)) failTensor("shape must be an array");
    for (const d of shape as unknown[]) {
      if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
        failTensor(`shape ${JSON.stringify(shape)} must hold non-negative integers`);
      }
    }
    const offsets = entry.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => typeof o === "number" && Number.isSafeInteger(o) && o >= 0)
    ) {
      failTensor(`data_offsets ${JSON.stringify(offsets)} must be two non-negative integers [begin, end]`);
    }
    const [begin, end] = offsets as number[];
    if (end < begin) failTensor(`data_offsets [${begin}, ${end}] end before begin`);
    if (end > dataLength) {
      failTensor(`data_offsets [${begin}, ${end}] out of bounds: the data section is ${dataLength} bytes`);
    }
    const expected = tensorByteSize(dtype as SafetensorsDType, shape as number[]);
    if (expected !== BigInt(end - begin)) {
      failTensor(
        `size mismatch: ${dtype} ${JSON.stringify(shape)} is ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`
      );
    }
    infos.set(name, { name, dtype: dtype as SafetensorsDType, shape: [...(shape as number[])], begin, end });
  }

  // The spans must tile the data section exactly, in order: no overlap, no hole, no trailing bytes.
  const spans = [...infos.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: SafetensorsTensorInfo | undefined;
  for (const span of spans) {
    if (span.begin < cursor) {
      fail(`tensor "${span.name}": data_offsets [${span.begin}, ${span.end}] overlap tensor "${previous!.name}" [${previous!.begin}, ${previous!.end}]`);
    }
    if (span.begin > cursor) {
      fail(
        `tensor "${span.name}": hole of ${span.begin - cursor} bytes before data_offsets [${span.begin}, ${span.end}]` +
          (previous ? ` (after tensor "${previous.name}" ends at ${previous.end})` : " (data section starts at 0)")
      );
    }
    cursor = span.end;
    previous = span;
  }
  if (cursor !== dataLength) {
    fail(`${dataLength - cursor} trailing bytes after the last tensor (data section is ${dataLength} bytes, tensors cover ${cursor})`);
  }
  return { metadata, infos };
}

/** The first key repeated at the top level of a (valid) JSON object text, if any. */
function firstDuplicateTopLevelKey(text: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === "{" || c === "[") {
      depth++;
      expectKey = depth === 1;
    } else if (c === "}" || c === "]") {
      depth--;
    } else if (c === "," && depth === 1) {
      expectKey = true;
    }
  }
  return undefined;
}

function checkTensorsToWrite(filePath: string, tensors: readonly TensorToWrite[], metadata: Record<string, string>): void {
  if (!Array.isArray(tensors)) throw new TypeError(`writeSafetensors ${filePath}: tensors must be an array`);
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== "string") throw new TypeError(`writeSafetensors ${filePath}: metadata "${key}" must be a string`);
  }
  const seen = new Set<string>();
  for (const t of tensors) {
    const where = `writeSafetensors ${filePath}: tensor "${t?.name}"`;
    if (typeof t?.name !== "string" || t.name.length === 0) throw new TypeError(`writeSafetensors ${filePath}: every tensor needs a non-empty name`);
    if (t.name === "__metadata__") throw new RangeError(`${where}: the name is reserved for metadata`);
    if (seen.has(t.name)) throw new RangeError(`${where}: duplicate name`);
    seen.add(t.name);
    if (!isSafetensorsDType(t.dtype)) throw new TypeError(`${where}: unknown dtype ${JSON.stringify(t.dtype)}`);
    if (!Array.isArray(t.shape) || !t.shape.every((d: unknown) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0)) {
      throw new RangeError(`${where}: shape ${JSON.stringify(t.shape)} must hold non-negative integers`);
    }
    if ("data" in t) checkData(where, t.dtype, t.shape, t.data);
    else if (typeof (t as LazySafetensorsTensor).load !== "function") throw new TypeError(`${where}: needs data (a typed array) or load()`);
  }
}

function checkData(where: string, dtype: SafetensorsDType, shape: number[], data: unknown): asserts data is ArrayBufferView {
  if (!ArrayBuffer.isView(data)) throw new TypeError(`${where}: data must be a typed array or Buffer`);
  const expected = tensorByteSize(dtype, shape);
  if (BigInt(data.byteLength) !== expected) {
    throw new RangeError(`${where}: ${dtype} ${JSON.stringify(shape)} needs ${expected} bytes, data has ${data.byteLength}`);
  }
}

/** Header bytes as Hugging Face writes them: JSON padded with spaces so the data starts 8-byte aligned. */
export function encodeHeader(tensors: readonly TensorToWrite[], metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const size = byteSizeOf(t);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const padded = Math.ceil(json.length / 8) * 8;
  const out = Buffer.alloc(8 + padded, 0x20);
  out.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(out, 8);
  return out;
}

/**
 * Writes tensors (sorted by name) and string metadata to `filePath` atomically: a temp file in the
 * same folder is written, fsynced and renamed into place, so readers never see a half-written file.
 */
export async function writeSafetensors(
  filePath: string,
  tensors: readonly TensorToWrite[],
  metadata: Record<string, string> = {}
): Promise<void> {
  if (os.endianness() !== "LE") throw new Error("writeSafetensors: big-endian hosts are not supported");
  checkTensorsToWrite(filePath, tensors, metadata);
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header = encodeHeader(sorted, metadata);
  await writeFileAtomicWith(filePath, async (handle) => {
    await writeAll(handle, header);
    for (const t of sorted) {
      const data = "data" in t ? t.data : await t.load();
      if (!("data" in t)) checkData(`writeSafetensors ${filePath}: tensor "${t.name}"`, t.dtype, t.shape, data);
      await writeAll(handle, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  });
}

async function writeAll(handle: fsp.FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done);
    done += bytesWritten;
  }
}
