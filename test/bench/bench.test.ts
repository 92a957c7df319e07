import { native } from "../../src/native";
import { modelFlopsPerExample, type BenchShape } from "../../src/bench/model_flops";
import { randomBatch, runTrainBench, seededRandom } from "../../src/bench/train_bench";
import { expectThrows, nonCamelCaseKeys, rejectionOf } from "../helpers";
import { nativeTestHooks } from "../../src/native/test-hooks";

const tiny: BenchShape = { vocab: 32, dim: 16, layers: 2, heads: 4, kvHeads: 2, ffn: 24, promptLen: 5, respLen: 3, negatives: 2 };

describe("model FLOPs", () => {
  it("counts every term by hand for a tiny shape", () => {
    // head_dim 4; per layer: q 16*16 + k,v 2*16*8 + o 16*16 + mlp 3*16*24 = 256 + 256 + 256 + 1152 = 1920
    const tokens = 5 + 3 * 3; // 14
    const linear = 2 * 2 * 1920 * tokens;
    const keys = (5 * 6) / 2 + 3 * (3 * 5 + (3 * 4) / 2); // 15 + 63 = 78
    const attention = 4 * 2 * 16 * keys;
    const head = 2 * 16 * 32 * 3 * 3;
    const forward = linear + attention + head;
    const full = modelFlopsPerExample(tiny, { frozenBase: false });
    expect(full).toEqual({ linear, attention, head, forward, perExample: 4 * forward });
    const lora = modelFlopsPerExample(tiny, { frozenBase: true });
    expect(lora.perExample).toBe(forward + linear + 2 * attention + head + forward);
  });
});

describe("bench batches", () => {
  it("lays out 1 + K responses per prompt, chosen first", () => {
    const b = randomBatch({ ...tiny, batchSize: 2 }, seededRandom(1));
    expect(Array.from(b.promptOffsets)).toEqual([0, 5, 10]);
    expect(Array.from(b.responseOffsets)).toEqual([0, 3, 6, 9, 12, 15, 18]);
    expect(Array.from(b.responsePrompt)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(Array.from(b.chosenIndex)).toEqual([0, 3]);
    expect(Array.from(b.rejectedIndex)).toEqual([1, 2, 4, 5]);
    for (const id of [...b.promptIds, ...b.responseIds]) expect(id >= 0 && id < tiny.vocab).toBe(true);
  });
});

describe("benchMatmul", () => {
  it("reports a positive rate and rejects bad sizes", async () => {
    const r = await native().benchMatmul(64, 3);
    expect(r.gflops).toBeGreaterThan(0);
    expect(r.n).toBe(64);
    expect(r.reps).toBe(3);
    expectThrows(() => native().benchMatmul(0, 3), "RangeError", /n must be an integer/);
    expectThrows(() => native().benchMatmul(8, 1.5), "RangeError", /reps must be an integer/);
    expectThrows(() => (native().benchMatmul as unknown as (n: unknown) => unknown)("8"), "TypeError", /must be numbers/);
  });
});

describe("runTrainBench", () => {
  it.each([0, 2])("trains a tiny model (lora rank %d) and reports finite figures", async (loraRank) => {
    const r = await runTrainBench({ ...tiny, batchSize: 2, steps: 2, warmup: 1, loraRank, matmulSize: 64, seed: 3 });
    expect(r.mode).toBe(loraRank ? "lora-adapters-off" : "full-frozen-copy");
    expect(r.examplesPerSecond).toBeGreaterThan(0);
    expect(r.peakRssMb).toBeGreaterThan(0);
    expect(r.modelFlopsPerSecond).toBeCloseTo(r.examplesPerSecond * modelFlopsPerExample(tiny, { frozenBase: loraRank > 0 }).perExample, 0);
    expect(r.flopsFractionOfMatmul).toBeGreaterThan(0);
    expect(nonCamelCaseKeys(r)).toEqual([]); // as sdpo eval --json and sdpo baseline --json
    expect(r.batchSize).toBe(2);
  });

  it("rejects a shape the model cannot take", async () => {
    const err = await rejectionOf(runTrainBench({ ...tiny, heads: 3, batchSize: 1, steps: 1, warmup: 0, loraRank: 0, matmulSize: 0, seed: 0 }));
    expect(err.message).toMatch(/not divisible by --heads/);
  });
});

describe("benchMatmul devices", () => {
  it("rejects an unknown device and CUDA where there is none", async () => {
    expectThrows(() => native().benchMatmul(8, 1, "tpu" as never), "RangeError", /device must be 'cpu' or 'cuda/);
    if (!native().buildInfo().cudaAvailable) {
      expectThrows(() => native().benchMatmul(8, 1, "cuda"), "RangeError", /CUDA is not available/);
    }
    expect((await native().benchMatmul(8, 1, "cpu")).device).toBe("cpu");
  });
});

describe("benchTokenLogprobs", () => {
  it("times a small call, reports the chunk rows used, and rejects bad arguments", async () => {
    const ruled = await native().benchTokenLogprobs({ n: 40, d: 8, v: 100000, reps: 1 });
    expect(ruled.seconds).toBeGreaterThan(0);
    expect(ruled.chunkRows).toBe(nativeTestHooks().tokenChunkRows({ device: "cpu", rows: 40, vocab: 100000, freeBytes: 0, elementSize: 4 }));
    expect((await native().benchTokenLogprobs({ n: 40, d: 8, v: 64, chunkRows: 7, reps: 1 })).chunkRows).toBe(7);
    expectThrows(() => native().benchTokenLogprobs({ n: 0, d: 8, v: 64 }), "RangeError", /n must be an integer/);
    expectThrows(() => native().benchTokenLogprobs({ n: 4, d: 8, v: 64, device: "tpu" as never }), "RangeError", /device must be 'cpu' or 'cuda/);
  });
});
