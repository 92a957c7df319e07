import { promises as fsp } from "fs";
import * as os from "os";
import * as path from "path";
import {
  encodeHeader,
  openSafetensors,
  readSafetensors,
  SAFETENSORS_DTYPE_SIZE,
  SafetensorsTensor,
  writeSafetensors,
} from "../../src/model/safetensors";
import { openCheckpointTensors, readSafetensorsIndex, writeShardedSafetensors } from "../../src/model/sharded";
import type { SafetensorsDType } from "../../src/native";
import { rejectionOf } from "../helpers";

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), "sdpo-st-"));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

/** A file from a raw header (object or text) and data bytes; `headerLength` overrides the u64 prefix. */
async function rawFile(header: unknown, data: Uint8Array | number, headerLength?: bigint): Promise<string> {
  const text = typeof header === "string" ? header : JSON.stringify(header);
  const json = Buffer.from(text, "utf8");
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(headerLength ?? BigInt(json.length));
  const bytes = typeof data === "number" ? new Uint8Array(data) : data;
  const file = path.join(dir, "t.safetensors");
  await fsp.writeFile(file, Buffer.concat([prefix, json, bytes]));
  return file;
}

async function openError(file: string, options?: { maxHeaderBytes?: number }): Promise<string> {
  const err = await rejectionOf(openSafetensors(file, options));
  expect(err.message).toContain(file);
  return err.message;
}

/** Deterministic bytes of every value pattern, including NaN payloads and -0 for float dtypes. */
function patternBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe("safetensors reader refuses malformed files", () => {
  const f32 = (shape: number[], begin: number, end: number) => ({ dtype: "F32", shape, data_offsets: [begin, end] });

  test("a file shorter than the 8-byte length prefix", async () => {
    const file = path.join(dir, "short.safetensors");
    await fsp.writeFile(file, Buffer.from([1, 2, 3]));
    expect(await openError(file)).toMatch(/truncated file: 3 bytes/);
  });

  test("a truncated data section", async () => {
    const file = await rawFile({ a: f32([4], 0, 16) }, 10);
    expect(await openError(file)).toMatch(/tensor "a": data_offsets \[0, 16\] out of bounds: the data section is 10 bytes/);
  });

  test("a header length beyond the end of the file", async () => {
    const file = await rawFile({ a: f32([1], 0, 4) }, 4, 1000n);
    expect(await openError(file)).toMatch(/header length 1000 runs past the end of the file/);
  });

  test("a header over the size cap", async () => {
    const file = await rawFile({ a: f32([1], 0, 4) }, 4, 200_000_000n);
    expect(await openError(file)).toMatch(/header length 200000000 exceeds the 100000000-byte cap/);
    const small = await rawFile({ a: f32([1], 0, 4) }, 4);
    expect(await openError(small, { maxHeaderBytes: 8 })).toMatch(/exceeds the 8-byte cap/);
  });

  test("a header length near 2^64 is refused, not wrapped", async () => {
    const file = await rawFile({}, 0, 0xffffffffffffffffn);
    expect(await openError(file)).toMatch(/header length 18446744073709551615 exceeds/);
  });

  test("a header that is not JSON", async () => {
    const file = await rawFile('{"a": {"dtype": "F32",', 0);
    expect(await openError(file)).toMatch(/header is not valid JSON/);
  });

  test("a header that is not UTF-8", async () => {
    const file = await rawFile("{}", 0);
    const bytes = await fsp.readFile(file);
    bytes[8] = 0xff;
    bytes[9] = 0xfe;
    await fsp.writeFile(file, bytes);
    expect(await openError(file)).toMatch(/header is not valid UTF-8/);
  });

  test("a header that is JSON but not an object", async () => {
    expect(await openError(await rawFile("[1, 2]", 0))).toMatch(/header must be a JSON object/);
    expect(await openError(await rawFile("null", 0))).toMatch(/header must be a JSON object/);
    expect(await openError(await rawFile(' {"a": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}}', 0))).toMatch(/header must be a JSON object starting at its first byte/);
  });

  test("metadata that is not string -> string", async () => {
    const file = await rawFile({ __metadata__: { format: "pt", step: 3 }, a: f32([1], 0, 4) }, 4);
    expect(await openError(file)).toMatch(/"__metadata__" value of "step" must be a string/);
    const list = await rawFile({ __metadata__: ["pt"] }, 0);
    expect(await openError(list)).toMatch(/"__metadata__" must be an object of strings/);
  });

  test("an unknown dtype", async () => {
    const file = await rawFile({ w: { dtype: "F8_E4M3", shape: [2], data_offsets: [0, 2] } }, 2);
    expect(await openError(file)).toMatch(/tensor "w": unknown dtype "F8_E4M3"/);
  });

  test("a negative or fractional shape", async () => {
    expect(await openError(await rawFile({ w: f32([2, -1], 0, 0) }, 0))).toMatch(/tensor "w": shape \[2,-1\] must hold non-negative integers/);
    expect(await openError(await rawFile({ w: f32([1.5], 0, 6) }, 6))).toMatch(/tensor "w": shape \[1.5\] must hold/);
  });

  test("a size that does not match the offsets", async () => {
    const file = await rawFile({ w: f32([2, 3], 0, 20) }, 20);
    expect(await openError(file)).toMatch(/tensor "w": size mismatch: F32 \[2,3\] is 24 bytes but data_offsets \[0, 20\] span 20/);
  });

  test("a shape whose byte size exceeds 2^53 is computed exactly, not rounded", async () => {
    const file = await rawFile({ w: { dtype: "F64", shape: [2 ** 26, 2 ** 26, 2 ** 26], data_offsets: [0, 0] } }, 0);
    // 2^81 bytes: a double would print 2.4178516392292583e+24.
    expect(await openError(file)).toMatch(/tensor "w": size mismatch: F64 \[67108864,67108864,67108864\] is 2417851639229258349412352 bytes/);
  });

  test("a tensor named twice in the header", async () => {
    const header = '{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b\\"x": {"dtype":"U8","shape":[0],"data_offsets":[4,4]}, "a": {"dtype": "I32", "shape": [1], "data_offsets": [0, 4]}}';
    expect(await openError(await rawFile(header, 4))).toMatch(/tensor "a" appears twice in the header/);
    // Nested keys may repeat across entries; only top-level names must be unique.
    expect((await openSafetensors(await rawFile({ a: f32([1], 0, 4), b: f32([1], 4, 8) }, 8))).names()).toEqual(["a", "b"]);
  });

  test("overlapping offsets", async () => {
    const file = await rawFile({ a: f32([2], 0, 8), b: f32([2], 4, 12) }, 12);
    expect(await openError(file)).toMatch(/tensor "b": data_offsets \[4, 12\] overlap tensor "a" \[0, 8\]/);
  });

  test("a hole between tensors", async () => {
    const file = await rawFile({ a: f32([1], 0, 4), b: f32([1], 8, 12) }, 12);
    expect(await openError(file)).toMatch(/tensor "b": hole of 4 bytes before data_offsets \[8, 12\] \(after tensor "a" ends at 4\)/);
  });

  test("a hole at the start of the data section", async () => {
    const file = await rawFile({ a: f32([1], 4, 8) }, 8);
    expect(await openError(file)).toMatch(/tensor "a": hole of 4 bytes .* \(data section starts at 0\)/);
  });

  test("trailing bytes after the last tensor", async () => {
    const file = await rawFile({ a: f32([1], 0, 4) }, 7);
    expect(await openError(file)).toMatch(/3 trailing bytes after the last tensor/);
  });

  test("offsets out of bounds", async () => {
    const file = await rawFile({ a: f32([1], 0, 4), b: f32([1], 4, 8) }, 6);
    expect(await openError(file)).toMatch(/tensor "b": data_offsets \[4, 8\] out of bounds: the data section is 6 bytes/);
  });

  test("malformed offsets and entries", async () => {
    expect(await openError(await rawFile({ a: { dtype: "F32", shape: [1], data_offsets: [0] } }, 4))).toMatch(
      /tensor "a": data_offsets \[0\] must be two non-negative integers/
    );
    expect(await openError(await rawFile({ a: { dtype: "F32", shape: [0], data_offsets: [4, 0] } }, 4))).toMatch(
      /tensor "a": data_offsets \[4, 0\] end before begin/
    );
    expect(await openError(await rawFile({ a: 5 }, 0))).toMatch(/tensor "a": entry must be an object/);
    expect(await openError(await rawFile({ a: { ...f32([1], 0, 4), extra: 1 } }, 4))).toMatch(/tensor "a": unknown field "extra"/);
  });

  test("valid: empty tensors, metadata and space padding are accepted", async () => {
    const header = JSON.stringify({ __metadata__: { format: "pt" }, e: f32([0, 3], 0, 0), a: f32([1], 0, 4) }) + "   ";
    const file = await rawFile(header, new Uint8Array([0, 0, 128, 63]));
    const st = await openSafetensors(file);
    expect(st.names()).toEqual(["a", "e"]);
    expect(st.metadata).toEqual({ format: "pt" });
    const a = await st.read("a");
    expect(new Float32Array(a.data.buffer as ArrayBuffer)[0]).toBe(1);
    expect((await st.read("e")).data.byteLength).toBe(0);
    await expect(st.read("zz")).rejects.toThrow(/no tensor named "zz"/);
    // A file put in its place after the header was checked is not read through the old header.
    await writeSafetensors(file, [{ name: "a", dtype: "F32", shape: [1], data: new Float32Array([2]) }]);
    await expect(st.read("a")).rejects.toThrow(/was replaced or changed size since it was opened/);
  });
});

describe("safetensors writer", () => {
  const dtypes = Object.keys(SAFETENSORS_DTYPE_SIZE) as SafetensorsDType[];

  test.each(dtypes)("round trip of %s is bit-exact", async (dtype) => {
    const shape = [3, 5];
    const data = patternBytes(15 * SAFETENSORS_DTYPE_SIZE[dtype], dtype.length * 7 + 1);
    const file = path.join(dir, `${dtype}.safetensors`);
    await writeSafetensors(file, [{ name: "x", dtype, shape, data }, { name: "b.scalar", dtype, shape: [], data: data.subarray(0, SAFETENSORS_DTYPE_SIZE[dtype]) }], {
      format: "pt",
    });
    const { tensors, metadata } = await readSafetensors(file);
    expect(metadata).toEqual({ format: "pt" });
    expect(tensors.map((t) => t.name)).toEqual(["b.scalar", "x"]);
    expect(tensors[1].shape).toEqual(shape);
    expect(tensors[1].dtype).toBe(dtype);
    expect(Buffer.from(tensors[1].data as Uint8Array).equals(Buffer.from(data))).toBe(true);
    expect(tensors[0].shape).toEqual([]);
  });

  test("header is 8-byte aligned, space padded, names sorted; typed array views are written by their bytes", async () => {
    const file = path.join(dir, "w.safetensors");
    const backing = new Float32Array([9, 1, 2, 3, 9]);
    await writeSafetensors(file, [
      { name: "z", dtype: "F32", shape: [3], data: backing.subarray(1, 4) },
      { name: "a", dtype: "I8", shape: [1], data: new Int8Array([-5]) },
    ]);
    const bytes = await fsp.readFile(file);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = bytes.subarray(8, 8 + n).toString("utf8");
    expect(header).toMatch(/^\{.*\} *$/);
    expect(header.indexOf('"a"')).toBeLessThan(header.indexOf('"z"'));
    expect(bytes.length).toBe(8 + n + 1 + 12);
    const st = await openSafetensors(file);
    const z = await st.read("z");
    expect(Array.from(new Float32Array(new Uint8Array(z.data as Uint8Array).buffer))).toEqual([1, 2, 3]);
    expect(encodeHeader([{ name: "a", dtype: "I8", shape: [1], data: new Int8Array(1) }]).length % 8).toBe(0);
  });

  test("refuses bad input with errors naming the tensor", async () => {
    const file = path.join(dir, "bad.safetensors");
    const write = (t: SafetensorsTensor[], meta?: Record<string, string>) => rejectionOf(writeSafetensors(file, t, meta));
    let err = await write([{ name: "w", dtype: "F32", shape: [2], data: new Uint8Array(7) }]);
    expect(err.name).toBe("RangeError");
    expect(err.message).toMatch(/tensor "w": F32 \[2\] needs 8 bytes, data has 7/);
    err = await write([{ name: "w", dtype: "F8" as SafetensorsDType, shape: [1], data: new Uint8Array(1) }]);
    expect(err.message).toMatch(/tensor "w": unknown dtype "F8"/);
    err = await write([
      { name: "w", dtype: "U8", shape: [1], data: new Uint8Array(1) },
      { name: "w", dtype: "U8", shape: [1], data: new Uint8Array(1) },
    ]);
    expect(err.message).toMatch(/tensor "w": duplicate name/);
    err = await write([{ name: "w", dtype: "U8", shape: [-1], data: new Uint8Array(0) }]);
    expect(err.message).toMatch(/shape \[-1\] must hold non-negative integers/);
    err = await write([], { step: 3 as unknown as string });
    expect(err.message).toMatch(/metadata "step" must be a string/);
    await expect(fsp.readdir(dir)).resolves.toEqual([]);
  });

  test("lazy tensors are loaded one at a time in name order and checked against their shape", async () => {
    const file = path.join(dir, "lazy.safetensors");
    const order: string[] = [];
    const lazy = (name: string, value: number) => ({
      name,
      dtype: "F32" as const,
      shape: [2],
      load: () => {
        order.push(name);
        return new Float32Array([value, -value]);
      },
    });
    await writeSafetensors(file, [lazy("b", 2), lazy("a", 1), { name: "c", dtype: "U8", shape: [1], data: new Uint8Array([9]) }]);
    expect(order).toEqual(["a", "b"]);
    const st = await openSafetensors(file);
    expect(Array.from(new Float32Array(new Uint8Array((await st.read("b")).data as Uint8Array).buffer))).toEqual([2, -2]);
    const err = await rejectionOf(
      writeSafetensors(file, [{ name: "w", dtype: "F32", shape: [3], load: () => new Float32Array(2) }])
    );
    expect(err.message).toMatch(/tensor "w": F32 \[3\] needs 12 bytes, data has 8/);
    expect(await fsp.readdir(dir)).toEqual(["lazy.safetensors"]);
  });

  test("replaces atomically and leaves no temp files; a failed write keeps the old file", async () => {
    const file = path.join(dir, "m.safetensors");
    await writeSafetensors(file, [{ name: "a", dtype: "U8", shape: [2], data: new Uint8Array([1, 2]) }]);
    await writeSafetensors(file, [{ name: "b", dtype: "U8", shape: [1], data: new Uint8Array([3]) }]);
    expect(await fsp.readdir(dir)).toEqual(["m.safetensors"]);
    expect((await openSafetensors(file)).names()).toEqual(["b"]);
    // A detached buffer makes the data write itself fail midway.
    const data = new Uint8Array(16);
    const err = await rejectionOf(
      writeSafetensors(file, [
        { name: "a", dtype: "U8", shape: [16], data },
        { name: "b", dtype: "U8", shape: [1], data: { byteLength: 1, buffer: null } as unknown as Uint8Array },
      ])
    );
    expect(err).toBeDefined();
    expect(await fsp.readdir(dir)).toEqual(["m.safetensors"]);
    expect((await openSafetensors(file)).names()).toEqual(["b"]);
  });
});

describe("sharded checkpoints", () => {
  const tensors: SafetensorsTensor[] = ["c", "a", "b", "d"].map((name, i) => ({
    name: `model.${name}.weight`,
    dtype: "F32",
    shape: [4, 2 + i],
    data: patternBytes(4 * (2 + i) * 4, i + 3),
  }));

  test("writes one file under the limit, shards plus an index over it, and reads both back bit-exact", async () => {
    expect(await writeShardedSafetensors(dir, tensors, { maxShardBytes: 1 << 20 })).toEqual(["model.safetensors"]);
    const one = await openCheckpointTensors(dir);
    expect(one.files).toEqual([path.join(dir, "model.safetensors")]);

    const shardDir = path.join(dir, "sharded");
    await fsp.mkdir(shardDir);
    const written = await writeShardedSafetensors(shardDir, tensors, { maxShardBytes: 100, metadata: { format: "pt" } });
    expect(written).toEqual([
      "model-00001-of-00003.safetensors",
      "model-00002-of-00003.safetensors",
      "model-00003-of-00003.safetensors",
      "model.safetensors.index.json",
    ]);
    const index = await readSafetensorsIndex(path.join(shardDir, "model.safetensors.index.json"));
    expect(index.metadata.total_size).toBe(tensors.reduce((s, t) => s + t.data.byteLength, 0));
    expect(index.weightMap.get("model.a.weight")).toBe("model-00001-of-00003.safetensors");
    const opened = await openCheckpointTensors(shardDir);
    expect(opened.files.length).toBe(3);
    for (const t of tensors) {
      const back = await opened.sources.get(t.name)!.read(t.name);
      expect(back.shape).toEqual(t.shape);
      expect(Buffer.from(back.data as Uint8Array).equals(Buffer.from(t.data as Uint8Array))).toBe(true);
    }
  });

  test("an index that disagrees with its shards is refused", async () => {
    await writeShardedSafetensors(dir, tensors, { maxShardBytes: 100 });
    const indexPath = path.join(dir, "model.safetensors.index.json");
    const index = JSON.parse(await fsp.readFile(indexPath, "utf8"));

    index.weight_map["model.ghost.weight"] = "model-00001-of-00003.safetensors";
    await fsp.writeFile(indexPath, JSON.stringify(index));
    expect((await rejectionOf(openCheckpointTensors(dir))).message).toMatch(/tensor "model.ghost.weight" is not in its shard/);

    delete index.weight_map["model.ghost.weight"];
    // Shards: 1 = [a], 2 = [b, c], 3 = [d].
    index.weight_map["model.b.weight"] = "model-00003-of-00003.safetensors";
    await fsp.writeFile(indexPath, JSON.stringify(index));
    expect((await rejectionOf(openCheckpointTensors(dir))).message).toMatch(/"model.b.weight" is listed in model-00003-of-00003.safetensors but found in model-00002/);
    index.weight_map["model.b.weight"] = "model-00002-of-00003.safetensors";

    index.weight_map["model.a.weight"] = "../escape.safetensors";
    await fsp.writeFile(indexPath, JSON.stringify(index));
    expect((await rejectionOf(openCheckpointTensors(dir))).message).toMatch(/must be a file name in the same folder/);

    await fsp.writeFile(indexPath, "{ nope");
    expect((await rejectionOf(openCheckpointTensors(dir))).message).toMatch(/model.safetensors.index.json: not valid JSON/);

    await fsp.rm(indexPath);
    expect((await rejectionOf(openCheckpointTensors(dir))).message).toMatch(/neither model.safetensors nor model.safetensors.index.json/);
  });

  test("a missing shard is named", async () => {
    await writeShardedSafetensors(dir, tensors, { maxShardBytes: 100 });
    await fsp.rm(path.join(dir, "model-00002-of-00003.safetensors"));
    expect((await rejectionOf(openCheckpointTensors(dir))).message).toMatch(/shard model-00002-of-00003.safetensors is missing/);
  });
});
