import type { PreferenceBatch } from "../../src/data/batch";
import { packBatch } from "../../src/trainers/pack";
import { resolveOptions } from "../../src/trainers/options";
import { createTrainer, LOSS_NAMES } from "../../src/trainers/registry";

function packed(lists: number[][], leading = 0): { values: Int32Array; offsets: Int32Array } {
  const values = new Int32Array(leading + lists.reduce((n, l) => n + l.length, 0)).fill(99);
  const offsets = new Int32Array(lists.length + 1);
  offsets[0] = leading;
  lists.forEach((l, i) => {
    values.set(l, offsets[i]);
    offsets[i + 1] = offsets[i] + l.length;
  });
  return { values, offsets };
}

function batch(): PreferenceBatch {
  return {
    size: 2,
    rows: Int32Array.from([4, 9]),
    prompt: packed([[1, 2], [3]], 2),
    chosen: packed([[10, 63], [11, 12, 63]]),
    negatives: 2,
    rejected: packed([[20, 63], [], [22, 63], [23, 24, 63]]),
    chosenItem: Int32Array.from([0, 1]),
    rejectedItems: Int32Array.from([2, -1, 3, 4]),
    candidates: packed([]),
    candidateOffsets: Int32Array.from([0, 0, 0]),
    candidateItems: new Int32Array(0),
    text: { prompt: [], chosen: [], candidates: [] },
  };
}

describe("packBatch", () => {
  test("chosen first, then real negatives; masked negatives become -1; offsets rebased", () => {
    const p = packBatch(batch(), { withRejected: true });
    expect(Array.from(p.promptIds)).toEqual([1, 2, 3]);
    expect(Array.from(p.promptOffsets)).toEqual([0, 2, 3]);
    expect(Array.from(p.responseIds)).toEqual([10, 63, 11, 12, 63, 20, 63, 22, 63, 23, 24, 63]);
    expect(Array.from(p.responseOffsets)).toEqual([0, 2, 5, 7, 9, 12]);
    expect(Array.from(p.responsePrompt)).toEqual([0, 1, 0, 1, 1]);
    expect(Array.from(p.chosenIndex)).toEqual([0, 1]);
    expect(Array.from(p.rejectedIndex)).toEqual([2, -1, 3, 4]);
  });

  test("prompt tokens are a view on the batch buffer (no copy)", () => {
    const b = batch();
    const p = packBatch(b, { withRejected: true });
    expect(p.promptIds.buffer).toBe(b.prompt.values.buffer);
  });

  test("sft packs the chosen responses only", () => {
    const p = packBatch(batch(), { withRejected: false });
    expect(Array.from(p.responseOffsets)).toEqual([0, 2, 5]);
    expect(p.rejectedIndex.length).toBe(0);
  });

  test("sft's history unlikelihood packs the history first tokens, offsets rebased; a batch without them is an error", () => {
    const b = { ...batch(), historyFirstTokens: packed([[40, 41], [42]], 3) };
    const p = packBatch(b, { withRejected: false, withHistory: true });
    expect(Array.from(p.historyTokenIds!)).toEqual([40, 41, 42]);
    expect(Array.from(p.historyTokenOffsets!)).toEqual([0, 2, 3]);
    expect(packBatch(b, { withRejected: false }).historyTokenIds).toBeUndefined();
    expect(() => packBatch(batch(), { withRejected: false, withHistory: true })).toThrow(/rows 4\.\.9 carry no history tokens, and historyUnlikelihood needs them/);
  });

  test("a preference loss on a batch without negatives is an error naming the rows", () => {
    expect(() => packBatch({ ...batch(), negatives: 0 }, { withRejected: true })).toThrow(/rows 4\.\.9/);
  });
});

describe("trainer registry and options", () => {
  test("an unknown loss lists the valid ones", () => {
    expect(LOSS_NAMES).toEqual(["sft", "dpo", "sdpo", "napo"]);
    // @ts-expect-error: "ipo" is not a LossName (plain JavaScript callers get the RangeError)
    expect(() => createTrainer("ipo", {} as never)).toThrow(/unknown loss 'ipo': valid losses are sft, dpo, sdpo, napo/);
  });

  test("defaults follow TRL", () => {
    const o = resolveOptions("sdpo", { model: {} as never }, true);
    expect(o).toMatchObject({ learningRate: 1e-4, beta: 1, negatives: 3, batchSize: 8, gradientAccumulationSteps: 1, lrSchedulerType: "cosine", maxGradNorm: 1, referenceMode: "adapters-off" });
    expect(resolveOptions("dpo", { model: {} as never }, false)).toMatchObject({ negatives: 1, referenceMode: "frozen-copy" });
    expect(resolveOptions("sft", { model: {} as never }, false).negatives).toBe(0);
    // sft scores negatives only for its candidate-list term, and then needs them
    expect(resolveOptions("sft", { model: {} as never, negatives: 5 }, false).negatives).toBe(0);
    expect(resolveOptions("sft", { model: {} as never, listWeight: 1, negatives: 19 }, false)).toMatchObject({ listWeight: 1, negatives: 19 });
    expect(() => resolveOptions("sft", { model: {} as never, listWeight: 1 }, false)).toThrow(/negatives must be a whole number >= 1 for sft with listWeight or listSmoothing > 0/);
    expect(() => resolveOptions("sdpo", { model: {} as never, listWeight: 1 }, false)).toThrow(/listWeight is a term of the sft loss, not of sdpo/);
    expect(() => resolveOptions("sft", { model: {} as never, listWeight: -0.5 }, false)).toThrow(/listWeight must be a finite number >= 0/);
    expect(resolveOptions("sft", { model: {} as never, listSmoothing: 0.3, negatives: 19 }, false)).toMatchObject({ listSmoothing: 0.3, negatives: 19, negativeSampling: "random" });
    expect(() => resolveOptions("sft", { model: {} as never, listSmoothing: 0.3 }, false)).toThrow(/negatives must be a whole number >= 1 for sft with listWeight or listSmoothing > 0/);
    expect(() => resolveOptions("sdpo", { model: {} as never, listSmoothing: 0.3 }, false)).toThrow(/listSmoothing is a term of the sft loss, not of sdpo/);
    expect(() => resolveOptions("sft", { model: {} as never, listSmoothing: NaN }, false)).toThrow(/listSmoothing must be a finite number >= 0/);
    expect(resolveOptions("sft", { model: {} as never, historyUnlikelihood: 0.5 }, false)).toMatchObject({ historyUnlikelihood: 0.5, negatives: 0 });
    expect(resolveOptions("sft", { model: {} as never }, false).historyUnlikelihood).toBe(0);
    expect(resolveOptions("sdpo", { model: {} as never, residualDropout: 0.1 }, true).residualDropout).toBe(0.1);
    expect(() => resolveOptions("sft", { model: {} as never, residualDropout: 1 }, false)).toThrow(/residualDropout must be a number in \[0, 1\), got 1/);
    expect(() => resolveOptions("dpo", { model: {} as never, historyUnlikelihood: 1 }, false)).toThrow(/historyUnlikelihood is a term of the sft loss, not of dpo/);
    expect(() => resolveOptions("sft", { model: {} as never, historyUnlikelihood: -1 }, false)).toThrow(/historyUnlikelihood must be a finite number >= 0/);
    expect(() => resolveOptions("sft", { model: {} as never, negativeSampling: "random" }, false)).toThrow(/needs a loss with negatives, this trainer is sft/);
  });

  test("bad options are refused with their name", () => {
    const model = {} as never;
    expect(() => resolveOptions("sdpo", { model, batchSize: 0 }, true)).toThrow(/batchSize/);
    expect(() => resolveOptions("sdpo", { model, learningRate: NaN }, true)).toThrow(/learningRate/);
    expect(() => resolveOptions("dpo", { model, negatives: 3 }, true)).toThrow(/dpo uses exactly 1 negative/);
    expect(() => resolveOptions("sdpo", { model, lrSchedulerType: "step" as never }, true)).toThrow(/lrSchedulerType/);
    expect(() => resolveOptions("sdpo", { model, referenceMode: "adapters-off" }, false)).toThrow(/LoRA/);
    expect(() => resolveOptions("sdpo", { model, learningrate: 1 } as never, true)).toThrow(/unknown trainer option 'learningrate'/);
  });
});
