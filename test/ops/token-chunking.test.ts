/**
 * Rows per logits chunk of the token log-probs, per device (native tokenChunkRows, the pure rule token_logprobs
 * uses when chunkRows is 0): CPU keeps ~2^21 logits in a chunk whatever memory is free; CUDA sizes the chunk from
 * free device memory (a quarter, at most 2 GiB) with a floor of 1,024 rows that gives way when memory is short.
 */
import { expectThrows } from "../helpers";
import { nativeTestHooks, type TokenChunkArguments } from "../../src/native/test-hooks";

const GiB = 2 ** 30;
const QWEN_VOCAB = 151936;
const chunkRows = (args: Omit<TokenChunkArguments, "elementSize"> & { elementSize?: 4 | 8 }) =>
  nativeTestHooks().tokenChunkRows({ elementSize: 4, ...args });

describe("token log-probs chunk rows", () => {
  test("CPU: the most rows with at most 2^21 logits, whatever memory is free", () => {
    for (const vocab of [123, 32000, QWEN_VOCAB]) {
      for (const freeBytes of [0, 80 * GiB]) {
        const rows = chunkRows({ device: "cpu", rows: 1 << 20, vocab, freeBytes });
        expect(rows * vocab).toBeLessThanOrEqual(2 ** 21);
        expect((rows + 1) * vocab).toBeGreaterThan(2 ** 21);
      }
    }
    // The example: a 152k vocabulary gives 13-row chunks on CPU.
    expect(chunkRows({ device: "cpu", rows: 8192, vocab: QWEN_VOCAB, freeBytes: 0 })).toBe(13);
    expect(chunkRows({ device: "cpu", rows: 5, vocab: 123, freeBytes: 0 })).toBe(5); // never more than the rows
    expect(chunkRows({ device: "cpu", rows: 10, vocab: 2 ** 22, freeBytes: 0 })).toBe(1); // never fewer than 1
  });

  test("CUDA with room: a quarter of free memory up to 2 GiB of logits, at least 1,024 rows", () => {
    const roomy = chunkRows({ device: "cuda", rows: 8192, vocab: QWEN_VOCAB, freeBytes: 75 * GiB });
    const rowBytes = QWEN_VOCAB * 4;
    expect(roomy).toBeGreaterThanOrEqual(1024);
    expect(roomy * rowBytes).toBeLessThanOrEqual(2 * GiB);
    expect((roomy + 1) * rowBytes).toBeGreaterThan(2 * GiB);
    // Less free memory: the quarter rules.
    const fourGiB = chunkRows({ device: "cuda", rows: 8192, vocab: QWEN_VOCAB, freeBytes: 4 * GiB });
    expect(fourGiB * rowBytes).toBeLessThanOrEqual(GiB);
    expect((fourGiB + 1) * rowBytes).toBeGreaterThan(GiB);
    expect(fourGiB).toBeGreaterThanOrEqual(1024);
    // float64 logits take twice the bytes: half the rows.
    expect(chunkRows({ device: "cuda", rows: 8192, vocab: QWEN_VOCAB, freeBytes: 75 * GiB, elementSize: 8 })).toBe(Math.floor(roomy / 2));
    // Fewer rows than the budget: one chunk.
    expect(chunkRows({ device: "cuda", rows: 300, vocab: QWEN_VOCAB, freeBytes: 75 * GiB })).toBe(300);
  });

  test("CUDA floor: 1,024 rows while they fit in half of free memory, else the quarter budget", () => {
    const rowBytes = QWEN_VOCAB * 4;
    // 2 GiB free: the quarter (512 MiB) holds ~883 rows, but 1,024 rows (~594 MiB) fit in half: the floor wins.
    expect(chunkRows({ device: "cuda", rows: 8192, vocab: QWEN_VOCAB, freeBytes: 2 * GiB })).toBe(1024);
    // 1 GiB free: 1,024 rows would take more than half; the quarter budget rules.
    const tight = chunkRows({ device: "cuda", rows: 8192, vocab: QWEN_VOCAB, freeBytes: GiB });
    expect(tight).toBeLessThan(1024);
    expect(tight * rowBytes).toBeLessThanOrEqual(GiB / 4);
    expect((tight + 1) * rowBytes).toBeGreaterThan(GiB / 4);
    // Nothing free: still one row (the allocator's error then names the shortage).
    expect(chunkRows({ device: "cuda", rows: 8192, vocab: QWEN_VOCAB, freeBytes: 0 })).toBe(1);
  });

  test("an explicit chunkRows wins on both devices", () => {
    for (const device of ["cpu", "cuda"] as const) {
      expect(chunkRows({ device, rows: 8192, vocab: QWEN_VOCAB, freeBytes: 75 * GiB, requested: 7 })).toBe(7);
    }
  });

  test("bad arguments are errors naming the argument", () => {
    expectThrows(() => chunkRows({ device: "tpu" as never, rows: 1, vocab: 1, freeBytes: 0 }), "RangeError", /arguments\.device must be "cpu" or "cuda"/);
    expectThrows(() => chunkRows({ device: "cpu", rows: -1, vocab: 1, freeBytes: 0 }), "RangeError", /arguments\.rows must be an integer >= 0/);
    expectThrows(() => chunkRows({ device: "cpu", rows: 1, vocab: 0, freeBytes: 0 }), "RangeError", /arguments\.vocab must be >= 1/);
    expectThrows(() => chunkRows({ device: "cpu", rows: 1, vocab: 1, freeBytes: 0, elementSize: 2 as never }), "RangeError", /elementSize must be 4 or 8/);
  });
});
