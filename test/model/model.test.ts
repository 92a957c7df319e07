/** The TypeScript Model: candidate scoring and generation over a NativeModel. */
import { Model } from "../../src/index";
import { expectThrows, rejectionOf } from "../helpers";
import { makeModel, packBatch, randomizeParameters, setValues, tinyConfig } from "./fixtures";

function tinyModel(): Model {
  const native = makeModel(tinyConfig(), "float64", 3);
  randomizeParameters(native, 14, 0.5);
  return new Model(native, { path: "/nowhere" });
}

describe("Model (TypeScript)", () => {
  test("scoreCandidates returns per-prompt arrays equal to the native packed scores", async () => {
    const model = tinyModel();
    expect(model.path).toBe("/nowhere");
    expect(model.config.vocab_size).toBe(37);
    expect(model.dtype).toBe("float64");
    expect(model.device).toBe("cpu");
    const prompts = [[1, 2, 3], [4, 5]];
    const candidates = [[[6, 7], [8]], [[9, 10, 11]]];
    const scores = await model.scoreCandidates(prompts, candidates, { tokenLogps: true });
    const packed = await model.native.score(packBatch(prompts, candidates), { tokenLogps: true });
    expect(scores.logps).toEqual([[packed.logps[0], packed.logps[1]], [packed.logps[2]]]);
    expect(scores.tokenLogps![0][0]).toEqual(Array.from(packed.tokenLogps!.subarray(0, 2)));
    expect(scores.tokenLogps![1][0].length).toBe(3);
    // Packed prompts (a PreferenceBatch column) give the same numbers.
    const again = await model.scoreCandidates({ values: Int32Array.from([9, 1, 2, 3, 4, 5]), offsets: Int32Array.from([1, 4, 6]) }, candidates);
    expect(again.logps).toEqual(scores.logps);
    expect(again.tokenLogps).toBeUndefined();
    model.dispose();
    expect(model.disposed).toBe(true);
  });

  test("adapters: scores with adapters off equal the base model's", async () => {
    const model = tinyModel();
    const prompts = [[1, 2]];
    const candidates = [[[3], [4, 5]]];
    const base = await model.scoreCandidates(prompts, candidates);
    model.addLora({ rank: 2, targets: ["q_proj", "v_proj"] });
    expect(model.hasAdapters).toBe(true);
    for (const p of model.parameterInfo().filter((q) => q.isAdapter)) {
      const n = p.shape.reduce((a, b) => a * b, 1);
      setValues(model.native, p.name, p.shape, Array.from({ length: n }, (_, i) => Math.sin(i + 1) * 0.3)); // B != 0
    }
    expect((await model.scoreCandidates(prompts, candidates, { adapters: false })).logps).toEqual(base.logps);
    expect((await model.scoreCandidates(prompts, candidates)).logps).not.toEqual(base.logps);
    model.dispose();
  });

  test("generate, free and constrained", async () => {
    const model = tinyModel();
    const prompts = [[1, 2, 3], [4]];
    const free = await model.generate(prompts, { maxNewTokens: 4, eos: 0 });
    expect(free.length).toBe(2);
    expect(free.every((t) => t.length >= 1 && t.length <= 4)).toBe(true);
    const constrained = await model.generate(prompts, { maxNewTokens: 5, eos: 0, allowed: [[[5, 6], [7]], [[8, 9, 10]]] });
    expect([[5, 6, 0], [7, 0]]).toContainEqual(constrained[0]);
    expect(constrained[1]).toEqual([8, 9, 10, 0]);
    model.dispose();
  });

  test("bad arguments name the prompt and candidate", async () => {
    const model = tinyModel();
    await expect(model.scoreCandidates([[1]], [])).rejects.toThrow(/one list of candidates per prompt \(1\), got 0/);
    await expect(model.scoreCandidates([[1]], [[[2, 2.5]]])).rejects.toThrow(/candidateIds\[0\]\[0\]\[1\] = 2.5 is not a token id/);
    await expect(model.scoreCandidates([[1]], [[[]]])).rejects.toThrow(/candidateIds\[0\]\[0\] is empty/);
    await expect(model.scoreCandidates([[]], [[[1]]])).rejects.toThrow(/promptIds\[0\] is empty/);
    const err = await rejectionOf(model.scoreCandidates([[1]], [[[99]]]));
    expect(err.name).toBe("RangeError");
    expect(err.message).toMatch(/response 0: token id 99/);
    model.dispose();
    expectThrows(() => model.parameterInfo(), "Error", /disposed/);
  });
});
