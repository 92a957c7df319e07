/** The native step's napo loss (margins from reference or policy confidences, masked negatives) against plain JS. */
import { native, type TrainBatchInput } from "../../src/native";
import { expectThrows } from "../helpers";
import { packTrainBatch, tinyModel } from "./fixtures";

/** Row b: prompt [1+b, 2], chosen [20+b, 63], negatives [30+b+k, 63]; row 1's last negative masked. */
function maskedBatch(rows: number, K: number): TrainBatchInput {
  return packTrainBatch(
    Array.from({ length: rows }, (_, b) => ({
      prompt: [1 + b, 2],
      chosen: [20 + b, 63],
      rejected: Array.from({ length: K }, (_, k) => (b === 1 && k === K - 1 ? null : [30 + b + k, 63])),
    }))
  );
}

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Mean over rows of softplus(logsumexp_j(r_j - r_w + m_j)), plain JS. */
function napoReference(batch: TrainBatchInput, policy: Float64Array, reference: Float64Array, o: { beta: number; mode: string; gamma: number; tau: number; confidence: string }): number {
  const B = batch.chosenIndex.length;
  const K = batch.rejectedIndex.length / B;
  const conf = o.confidence === "policy" ? policy : reference;
  let total = 0;
  for (let b = 0; b < B; b++) {
    const w = batch.chosenIndex[b];
    const rw = o.beta * (policy[w] - reference[w]);
    const z: number[] = [];
    for (let k = 0; k < K; k++) {
      const j = batch.rejectedIndex[b * K + k];
      if (j < 0) continue;
      const m = o.mode === "none" ? 0 : o.mode === "fixed" ? o.gamma : o.gamma * sigmoid((conf[j] - conf[w]) / o.tau);
      z.push(o.beta * (policy[j] - reference[j]) - rw + m);
    }
    const max = Math.max(...z);
    total += softplus(max + Math.log(z.reduce((s, x) => s + Math.exp(x - max), 0)));
  }
  return total / B;
}

describe("native napo step", () => {
  test.each([
    { mode: "dynamic", confidence: "reference" },
    { mode: "dynamic", confidence: "policy" },
    { mode: "fixed", confidence: "reference" },
    { mode: "none", confidence: "reference" },
  ])("loss after two updates matches plain JS (%o)", async ({ mode, confidence }) => {
    const model = tinyModel();
    const reference = model.native.cloneFrozen();
    const margin = { mode: mode as "dynamic", gamma: 0.8, tau: 0.5, confidence: confidence as "policy" };
    const trainer = new (native().Trainer)(model.native, { loss: "napo", beta: 0.7, referenceMode: "frozen-copy", rewardMargin: margin });
    expect(trainer.loss).toBe("napo");
    const batch = maskedBatch(3, 3);
    for (let i = 0; i < 2; i++) await trainer.step(batch, { learningRate: 1e-2, optimizerStep: true, weight: 1 });
    const stats = await trainer.evaluate(batch);
    const policy = (await model.native.score(batch)).logps;
    const ref = (await reference.score(batch)).logps;
    const expected = napoReference(batch, policy, ref, { beta: 0.7, ...margin });
    expect(Math.abs(stats.loss - expected)).toBeLessThan(1e-10);
    if (mode !== "none") {
      const without = napoReference(batch, policy, ref, { beta: 0.7, ...margin, mode: "none" });
      expect(Math.abs(stats.loss - without)).toBeGreaterThan(1e-4); // the margin is in the loss
    }
    trainer.dispose();
    reference.dispose();
  });

  test("bad margin options are clear errors", () => {
    const model = tinyModel();
    const T = native().Trainer;
    expectThrows(() => new T(model.native, { loss: "sdpo", referenceMode: "frozen-copy", rewardMargin: { mode: "fixed" } }), "RangeError", /rewardMargin is a napo option/);
    expectThrows(() => new T(model.native, { loss: "napo", referenceMode: "frozen-copy", rewardMargin: { mode: "wide" as never } }), "RangeError", /rewardMargin.mode must be one of none, fixed, dynamic/);
    expectThrows(() => new T(model.native, { loss: "napo", referenceMode: "frozen-copy", rewardMargin: { gamma: -1 } }), "RangeError", /rewardMargin.gamma must be a finite number >= 0/);
    expectThrows(() => new T(model.native, { loss: "napo", referenceMode: "frozen-copy", rewardMargin: { tau: 0 } }), "RangeError", /rewardMargin.tau must be a finite number > 0/);
    expectThrows(() => new T(model.native, { loss: "napo", referenceMode: "frozen-copy", rewardMargin: { confidence: "both" as never } }), "RangeError", /confidence must be 'reference' or 'policy'/);
    expectThrows(() => new T(model.native, { loss: "napo", referenceMode: "frozen-copy", rewardMargin: 3 as never }), "TypeError", /rewardMargin must be/);
  });
});
