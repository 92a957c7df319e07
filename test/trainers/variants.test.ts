/** The variants in the trainers: NAPO (margin, in-batch negatives) and RoDPO's pool, on the tiny model. */
import { readFileSync } from "fs";
import { join } from "path";
import { PreferenceDataset } from "../../src/data/dataset";
import type { TrainBatchInput } from "../../src/native";
import { packCandidates } from "../../src/negatives/pool-batch";
import { NAPOTrainer, SDPOTrainer } from "../../src/trainers/losses";
import { createTrainer } from "../../src/trainers/registry";
import type { PreferenceTrainer } from "../../src/trainers/trainer";
import type { LossName, StepEvent } from "../../src/trainers/types";
import { expectThrows } from "../helpers";
import { maxAbsDiff, parameterBytes, TempDir, tinyModel } from "./fixtures";

jest.setTimeout(60_000);

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir();
});
afterEach(() => tmp.remove());

/** Records every batch the trainer hands its native step. */
function spyOnSteps(trainer: PreferenceTrainer): TrainBatchInput[] {
  const native = (trainer as unknown as { trainer: { step: (b: TrainBatchInput, o: unknown) => Promise<unknown> } }).trainer;
  const original = native.step.bind(native);
  const seen: TrainBatchInput[] = [];
  // Native methods are read-only on the prototype: shadow them with an own property.
  Object.defineProperty(native, "step", {
    value: (batch: TrainBatchInput, options: unknown) => {
      seen.push(batch);
      return original(batch, options);
    },
  });
  return seen;
}

const responseTokens = (b: TrainBatchInput, r: number) => Array.from(b.responseIds.subarray(b.responseOffsets[r], b.responseOffsets[r + 1]));

describe("napo trainer", () => {
  test("the loss falls on a tiny memorisation task (dynamic margin, in-batch negatives)", async () => {
    const data = tmp.arrow("train.arrow", 10);
    const trainer = new NAPOTrainer({
      model: tinyModel(),
      referenceMode: "frozen-copy",
      learningRate: 5e-3,
      lrSchedulerType: "constant",
      batchSize: 5,
      numTrainEpochs: 8,
      negatives: 3,
      inBatchNegatives: true,
      rewardMargin: { mode: "dynamic", gamma: 0.5, tau: 1 },
    });
    const steps: StepEvent[] = [];
    trainer.on("step", (e) => steps.push(e));
    const report = await trainer.fit(data);
    expect(report.steps).toBe(16);
    expect(report.finalLoss).toBeLessThan(steps[0].loss * 0.6);
    expect(steps[15].rewardAccuracy).toBeGreaterThan(0.5);
    trainer.dispose();
  });

  test.each([
    ["none", { mode: "none" as const }],
    ["fixed, gamma 0", { mode: "fixed" as const, gamma: 0 }],
    ["dynamic, gamma 0", { mode: "dynamic" as const, gamma: 0 }],
  ])("margin %s == sdpo step for step", async (_name, rewardMargin) => {
    const data = tmp.arrow("train.arrow", 8);
    const options = { referenceMode: "frozen-copy" as const, learningRate: 1e-2, batchSize: 4, numTrainEpochs: 2, negatives: 3 };
    const a = tinyModel();
    const b = tinyModel();
    const sdpo = new SDPOTrainer({ model: a, ...options });
    const napo = new NAPOTrainer({ model: b, ...options, rewardMargin });
    const lossesA: number[] = [];
    const lossesB: number[] = [];
    sdpo.on("step", (e) => lossesA.push(e.loss));
    napo.on("step", (e) => lossesB.push(e.loss));
    await sdpo.fit(data);
    await napo.fit(data);
    expect(lossesB.length).toBe(4);
    lossesB.forEach((l, i) => expect(l).toBeCloseTo(lossesA[i], 10));
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-10);
    expect(maxAbsDiff(a, tinyModel())).toBeGreaterThan(1e-4); // they did train
    sdpo.dispose();
    napo.dispose();
  });

  test("a positive margin changes the training (it is not ignored)", async () => {
    const data = tmp.arrow("train.arrow", 8);
    const options = { referenceMode: "frozen-copy" as const, learningRate: 1e-2, batchSize: 4, numTrainEpochs: 1, negatives: 3 };
    const a = tinyModel();
    const b = tinyModel();
    await new SDPOTrainer({ model: a, ...options }).fit(data);
    await new NAPOTrainer({ model: b, ...options, rewardMargin: { mode: "fixed", gamma: 1 } }).fit(data);
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-6);
  });
});

describe("in-batch negatives in a real step", () => {
  test.each([undefined, 2])("rows take other rows' items, never their own positive, no repeats (cap %s)", async (cap) => {
    const data = tmp.arrow("train.arrow", 10);
    const trainer = createTrainer("sdpo", {
      model: tinyModel(),
      referenceMode: "frozen-copy",
      batchSize: 5,
      numTrainEpochs: 2,
      negatives: 2,
      inBatchNegatives: cap === undefined ? true : { cap },
    });
    const seen = spyOnSteps(trainer);
    await trainer.fit(data);
    expect(seen.length).toBe(4);
    let widest = 0;
    for (const batch of seen) {
      const B = batch.chosenIndex.length;
      const K = batch.rejectedIndex.length / B;
      widest = Math.max(widest, K);
      for (let b = 0; b < B; b++) {
        const positive = responseTokens(batch, batch.chosenIndex[b]).join(",");
        const negatives = Array.from(batch.rejectedIndex.subarray(b * K, (b + 1) * K)).filter((r) => r >= 0);
        expect(negatives.length).toBeGreaterThanOrEqual(1);
        if (cap !== undefined) expect(negatives.length).toBeLessThanOrEqual(2 + cap);
        const texts = negatives.map((r) => responseTokens(batch, r).join(","));
        expect(texts).not.toContain(positive);
        expect(new Set(texts).size).toBe(texts.length);
        for (const r of negatives) expect(batch.responsePrompt[r]).toBe(b); // scored under the row's own prompt
      }
    }
    expect(widest).toBeGreaterThan(2); // sharing added negatives beyond the data's 2
    trainer.dispose();
  });
});

describe("negative pool", () => {
  test("a refresh keeps the candidates the policy scores highest; 'hard' trains on the top K", async () => {
    const file = tmp.arrow("train.arrow", 10);
    const model = tinyModel();
    const trainer = createTrainer("sdpo", {
      model,
      referenceMode: "frozen-copy",
      learningRate: 0, // the policy stays the one we score with below
      batchSize: 5,
      negatives: 2,
      negativeSampling: "hard",
      poolSize: 3,
      poolRefreshSteps: 100,
    });
    const seen = spyOnSteps(trainer);
    await trainer.fit(file);
    const pool = trainer.negativePool!;
    expect(pool.size).toBe(10);

    let checked = 0;
    for await (const batch of PreferenceDataset.fromArrow(file).batches({ batchSize: 5, negatives: 2 })) {
      const { logps } = await model.native.score(packCandidates(batch));
      for (let b = 0; b < batch.size; b++) {
        const scored: Array<[number, number]> = [];
        for (let c = batch.candidateOffsets[b]; c < batch.candidateOffsets[b + 1]; c++) {
          if (batch.candidateItems[c] !== batch.chosenItem[b]) scored.push([batch.candidateItems[c], logps[c]]);
        }
        scored.sort((x, y) => y[1] - x[1] || x[0] - y[0]);
        expect(Array.from(pool.poolOf(batch.rows[b])!)).toEqual(scored.slice(0, 3).map(([item]) => item));
        checked++;
      }
    }
    expect(checked).toBe(10);

    // hard: each row's negatives in the step are its two best-scored candidates. The fixture's tokens tell
    // rows and items apart: prompt [1 + i % 8, 10 + i % 5, 5], item tokens [20 + item, ...].
    const rowOf = (batch: TrainBatchInput, b: number) => {
      const p = batch.promptIds.subarray(batch.promptOffsets[b], batch.promptOffsets[b + 1]);
      for (let i = 0; i < 40; i++) if (1 + (i % 8) === p[0] && 10 + (i % 5) === p[1]) return i;
      throw new Error("unknown prompt");
    };
    let rowsSeen = 0;
    for (const batch of seen) {
      const B = batch.chosenIndex.length;
      const K = batch.rejectedIndex.length / B;
      expect(K).toBe(2);
      for (let b = 0; b < B; b++) {
        const items = Array.from(batch.rejectedIndex.subarray(b * K, (b + 1) * K), (r) => responseTokens(batch, r)[0] - 20);
        expect(items).toEqual(Array.from(pool.poolOf(rowOf(batch, b))!.subarray(0, 2)));
        rowsSeen++;
      }
    }
    expect(rowsSeen).toBe(10);
    trainer.dispose();
  });

  test("pools are refreshed once per refresh period, not every step", async () => {
    const file = tmp.arrow("train.arrow", 8);
    const model = tinyModel();
    const trainer = createTrainer("sdpo", { model, referenceMode: "frozen-copy", batchSize: 4, numTrainEpochs: 4, negatives: 2, negativeSampling: "pool", poolRefreshSteps: 4 });
    const scoreCalls: number[] = [];
    const score = model.native.score.bind(model.native);
    Object.defineProperty(model.native, "score", {
      value: (batch: Parameters<typeof score>[0], options: Parameters<typeof score>[1]) => {
        scoreCalls.push(batch.responsePrompt.length);
        return score(batch, options);
      },
    });
    const report = await trainer.fit(file);
    expect(report.steps).toBe(8);
    // Batches come up at steps 0..7 (2 per epoch); a row is rescored when its pool is >= 4 steps old.
    expect(scoreCalls.length).toBeGreaterThanOrEqual(3); // steps 0 and 1, then once or twice after the pools age
    expect(scoreCalls.length).toBeLessThan(8);
    trainer.dispose();
  });

  test.each([
    ["pool", { negativeSampling: "pool" as const, poolSize: 3, poolRefreshSteps: 2 }],
    ["in-batch, cap 2", { inBatchNegatives: { cap: 2 } }],
  ])("N steps straight == k steps, resume, N - k steps (%s)", async (name, variant) => {
    const data = tmp.arrow("train.arrow", 12);
    const options = {
      referenceMode: "frozen-copy" as const,
      learningRate: 1e-2,
      batchSize: 4,
      numTrainEpochs: 2,
      saveSteps: 2,
      negatives: 2,
      ...variant,
    };
    const straight = tinyModel();
    const a = new SDPOTrainer({ model: straight, ...options, outputDir: tmp.file("a") });
    const seenA = spyOnSteps(a);
    const reportA = await a.fit(data);
    expect(reportA.steps).toBe(6);
    const state = JSON.parse(readFileSync(join(tmp.file("a"), "checkpoint-2", "trainer_state.json"), "utf8"));
    if (name === "pool") {
      expect(state.negativePool.pool.pools.length).toBe(8); // the rows of the first two batches
      expect(state.negativePool.pool.poolSize).toBe(3);
    } else {
      expect(state.negativePool).toBeUndefined();
    }

    const resumed = tinyModel();
    const b = new SDPOTrainer({ model: resumed, ...options, outputDir: tmp.file("b") });
    const seenB = spyOnSteps(b);
    const reportB = await b.fit(data, { resumeFrom: join(tmp.file("a"), "checkpoint-2") });
    expect(reportB.steps).toBe(6);
    // Same negatives drawn after the resume as in the straight run.
    expect(seenB.length).toBe(4);
    seenB.forEach((batch, i) => expect(Array.from(batch.responseIds)).toEqual(Array.from(seenA[i + 2].responseIds)));
    const pa = parameterBytes(straight);
    const pb = parameterBytes(resumed);
    for (const [name, bytes] of pa) expect({ name, equal: bytes.equals(pb.get(name)!) }).toEqual({ name, equal: true });
    expect(reportB.finalLoss).toBe(reportA.finalLoss);

    // Another sampler cannot continue this run.
    const c = new SDPOTrainer({ model: tinyModel(), ...options, inBatchNegatives: undefined, negativeSampling: "hard", poolSize: 3, outputDir: tmp.file("c") });
    const expected = name === "pool" ? /negativeSampling: checkpoint "pool", now "hard"/ : /inBatchNegatives: checkpoint \{"cap":2\}, now null/;
    await expect(c.fit(data, { resumeFrom: join(tmp.file("a"), "checkpoint-2") })).rejects.toThrow(expected);
    a.dispose();
    b.dispose();
  });

  test("random sampling draws new negatives each epoch", async () => {
    const data = tmp.arrow("train.arrow", 4);
    const trainer = createTrainer("sdpo", { model: tinyModel(), referenceMode: "frozen-copy", batchSize: 4, numTrainEpochs: 3, negatives: 1, negativeSampling: "random" });
    const seen = spyOnSteps(trainer);
    await trainer.fit(data);
    const sets = seen.map((b) => Array.from(b.responseIds).join(","));
    expect(new Set(sets).size).toBeGreaterThan(1);
    trainer.dispose();
  });
});

describe("variant options", () => {
  test("bad combinations are clear errors", () => {
    const model = tinyModel();
    const make = (loss: LossName, options: object) => () => createTrainer(loss, { model, referenceMode: "frozen-copy", ...options });
    expectThrows(make("sdpo", { rewardMargin: { mode: "fixed" } }), "RangeError", /rewardMargin is a napo option/);
    expectThrows(make("napo", { rewardMargin: { mode: "big" } }), "RangeError", /rewardMargin.mode must be one of none, fixed, dynamic/);
    expectThrows(make("napo", { rewardMargin: { gamma: -1 } }), "RangeError", /rewardMargin.gamma must be a finite number >= 0/);
    expectThrows(make("napo", { rewardMargin: { tau: 0 } }), "RangeError", /rewardMargin.tau must be a finite number > 0/);
    expectThrows(make("napo", { rewardMargin: { width: 1 } }), "RangeError", /unknown rewardMargin option 'width'/);
    expectThrows(make("dpo", { inBatchNegatives: true }), "RangeError", /inBatchNegatives needs a listwise loss/);
    expectThrows(make("sdpo", { inBatchNegatives: { cap: -1 } }), "RangeError", /inBatchNegatives.cap must be a whole number >= 0/);
    expectThrows(make("sdpo", { negativeSampling: "smart" }), "RangeError", /negativeSampling must be one of fixed, random, hard, pool/);
    expectThrows(make("sdpo", { poolSize: 4 }), "RangeError", /poolSize and poolRefreshSteps apply to negativeSampling 'pool' or 'hard'/);
    expectThrows(make("sdpo", { negativeSampling: "pool", negatives: 4, poolSize: 3 }), "RangeError", /negatives \(4\) must be <= poolSize \(3\)/);
    expectThrows(make("sdpo", { negativeSampling: "pool", inBatchNegatives: true }), "RangeError", /cannot be combined/);
    expectThrows(make("sdpo", { negativeSampling: "pool", referenceMode: "precomputed" }), "RangeError", /referenceMode 'precomputed'/);
    expectThrows(make("sft", { negativeSampling: "random" }), "RangeError", /needs a loss with negatives/);
  });
});
