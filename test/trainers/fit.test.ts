/** fit(): losses fall, resume is exact, accumulation equals a big batch, failed steps leave no gradient, weight
 *  decay, abort, checkpoints, output folder guard. */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { createTrainer } from "../../src/trainers/registry";
import { SDPOTrainer, SFTTrainer } from "../../src/trainers/losses";
import type { Model } from "../../src/model/model";
import type { NativeTrainer } from "../../src/native";
import type { StepEvent } from "../../src/trainers/types";
import { REFERENCE_FILE } from "../../src/trainers/reference_store";
import { PreferenceDataset } from "../../src/data/dataset";
import { expectThrows, rejectionOf } from "../helpers";
import { maxAbsDiff, parameterBytes, parameterFloats, records, TempDir, tinyModel } from "./fixtures";

jest.setTimeout(60_000);

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir();
});
afterEach(() => tmp.remove());

describe("fit", () => {
  test.each(["sft", "dpo", "sdpo"] as const)("%s: the loss falls on a tiny memorisation task", async (loss) => {
    const data = tmp.arrow("train.arrow", 10);
    const model = tinyModel();
    const trainer = createTrainer(loss, {
      model,
      referenceMode: loss === "sft" ? undefined : "frozen-copy",
      learningRate: 5e-3,
      lrSchedulerType: "constant",
      batchSize: 5,
      numTrainEpochs: 8,
      negatives: loss === "sdpo" ? 3 : undefined,
    });
    const steps: StepEvent[] = [];
    trainer.on("step", (e) => steps.push(e));
    const evals: number[] = [];
    trainer.on("eval", (e) => evals.push(e.loss));
    const report = await trainer.fit(data, { eval: data });
    expect(report.steps).toBe(16);
    expect(steps.length).toBe(16);
    expect(steps[15].totalSteps).toBe(16);
    expect(steps[15].epoch).toBeCloseTo(8, 10);
    expect(evals.length).toBe(8); // evalSteps 0: once per epoch
    expect(evals[7]).toBeLessThan(evals[0] * 0.6);
    expect(report.finalLoss).toBeLessThan(steps[0].loss * 0.6);
    if (loss !== "sft") expect(steps[15].rewardAccuracy).toBeGreaterThan(0.5);
    trainer.dispose();
  });

  test("sft with listWeight: trains and evaluates on all the other candidates, though the file stores only 3 negatives", async () => {
    const data = tmp.arrow("train.arrow", 10); // 5 candidates, 3 stored rejected responses per row
    const trainer = createTrainer("sft", { model: tinyModel(), listWeight: 1, negatives: 4, learningRate: 5e-3, lrSchedulerType: "constant", batchSize: 5, numTrainEpochs: 6 });
    const evals: number[] = [];
    trainer.on("eval", (e) => evals.push(e.loss));
    const report = await trainer.fit(data, { eval: data });
    expect(report.steps).toBe(12);
    expect(evals.length).toBe(6);
    expect(evals[5]).toBeLessThan(evals[0] * 0.6);
    expect((await trainer.evaluate(data)).loss).toBeCloseTo(evals[5], 10);
    trainer.dispose();
    const tooMany = createTrainer("sft", { model: tinyModel(), listWeight: 1, negatives: 5 });
    expect((await rejectionOf(tooMany.evaluate(data))).message).toMatch(/5 negatives asked for, but only 4 candidates besides the chosen one/);
    tooMany.dispose();
  });

  // 3 steps per epoch: checkpoint-2 is mid-epoch, checkpoint-3 at the epoch boundary.
  test.each([2, 3])("N steps straight == k steps, resume, N - k steps (bit-identical, LoRA with dropout), k = %i", async (k) => {
    const data = tmp.arrow("train.arrow", 12);
    const options = { learningRate: 1e-2, batchSize: 4, numTrainEpochs: 2, saveSteps: k, warmupRatio: 0.2, negatives: 2 };
    const lora = { rank: 4, dropout: 0.2 };
    const straight = tinyModel({ lora });
    const a = new SDPOTrainer({ model: straight, ...options, outputDir: tmp.file("a") });
    const reportA = await a.fit(data);
    expect(reportA.steps).toBe(6);
    const expected = k === 2 ? ["checkpoint-2", "checkpoint-4", "checkpoint-6"] : ["checkpoint-3", "checkpoint-6"];
    expect(readdirSync(tmp.file("a")).filter((n) => n.startsWith("checkpoint-")).sort()).toEqual(expected);

    const resumed = tinyModel({ lora });
    const b = new SDPOTrainer({ model: resumed, ...options, outputDir: tmp.file("b") });
    const stepsB: number[] = [];
    b.on("step", (e) => stepsB.push(e.step));
    const reportB = await b.fit(data, { resumeFrom: join(tmp.file("a"), `checkpoint-${k}`) });
    expect(stepsB).toEqual([3, 4, 5, 6].slice(k - 2));
    expect(reportB.steps).toBe(6);
    const pa = parameterBytes(straight);
    const pb = parameterBytes(resumed);
    for (const [name, bytes] of pa) expect({ name, equal: bytes.equals(pb.get(name)!) }).toEqual({ name, equal: true });
    expect(reportB.finalLoss).toBe(reportA.finalLoss);

    const state = JSON.parse(readFileSync(join(tmp.file("a"), `checkpoint-${k}`, "trainer_state.json"), "utf8"));
    expect(state).toMatchObject({ globalStep: k, epoch: k === 3 ? 1 : 0, batchesInEpoch: k === 3 ? 0 : 2, totalSteps: 6, loss: "sdpo" });
    expect(existsSync(join(tmp.file("a"), `checkpoint-${k}`, "config.json"))).toBe(true);
    expect(existsSync(join(tmp.file("a"), `checkpoint-${k}`, "optimizer.safetensors"))).toBe(true);
    a.dispose();
    b.dispose();
  });

  test("precomputed reference, full fine-tuning: a resumed run ends bit-identical to one that never stopped", async () => {
    // Without LoRA, switching adapters off does not bring the reference back: a resumed run must score it
    // before the checkpoint's trained weights replace the model's initial ones.
    const data = tmp.arrow("train.arrow", 8);
    const options = { referenceMode: "precomputed" as const, learningRate: 1e-2, batchSize: 4, numTrainEpochs: 2, saveSteps: 2, negatives: 2 };
    const straight = tinyModel();
    const a = new SDPOTrainer({ model: straight, ...options, outputDir: tmp.file("a") });
    const stepsA: StepEvent[] = [];
    a.on("step", (e) => stepsA.push(e));
    const reportA = await a.fit(data);
    expect(reportA.steps).toBe(4);

    const resumed = tinyModel();
    const b = new SDPOTrainer({ model: resumed, ...options, outputDir: tmp.file("b") });
    const stepsB: StepEvent[] = [];
    b.on("step", (e) => stepsB.push(e));
    await b.fit(data, { resumeFrom: join(tmp.file("a"), "checkpoint-2") });
    expect(stepsB.map((e) => [e.step, e.loss, e.chosenReward])).toEqual(stepsA.slice(2).map((e) => [e.step, e.loss, e.chosenReward]));
    const pa = parameterBytes(straight);
    const pb = parameterBytes(resumed);
    for (const [name, bytes] of pa) expect({ name, equal: bytes.equals(pb.get(name)!) }).toEqual({ name, equal: true });
    a.dispose();
    b.dispose();
  });

  test("precomputed reference: checkpoints store the log-probs, and a resumed run reads them back instead of scoring", async () => {
    const data = tmp.arrow("train.arrow", 8);
    const options = { referenceMode: "precomputed" as const, learningRate: 1e-2, batchSize: 4, numTrainEpochs: 2, saveSteps: 2, negatives: 2 };
    const straight = tinyModel();
    const a = new SDPOTrainer({ model: straight, ...options, outputDir: tmp.file("a") });
    const stepsA: StepEvent[] = [];
    a.on("step", (e) => stepsA.push(e));
    await a.fit(data);
    const checkpoint = join(tmp.file("a"), "checkpoint-2");
    expect(existsSync(join(checkpoint, REFERENCE_FILE))).toBe(true);

    // Other starting weights: had the reference been scored again, this model would be its own reference.
    const resumed = tinyModel({ seed: 99 });
    const b = new SDPOTrainer({ model: resumed, ...options, outputDir: tmp.file("b") });
    const stepsB: StepEvent[] = [];
    b.on("step", (e) => stepsB.push(e));
    await b.fit(data, { resumeFrom: checkpoint });
    expect(stepsB.map((e) => [e.step, e.loss, e.chosenReward])).toEqual(stepsA.slice(2).map((e) => [e.step, e.loss, e.chosenReward]));
    const pa = parameterBytes(straight);
    const pb = parameterBytes(resumed);
    for (const [name, bytes] of pa) expect({ name, equal: bytes.equals(pb.get(name)!) }).toEqual({ name, equal: true });

    // Other prompts under the same row numbers: refused, not given the stored rows' log-probs.
    const otherPrompts = tmp.arrowOf("other.arrow", records(8).map((r) => ({ ...r, promptIds: Int32Array.from([9, 9, 9]) })));
    const c = new SDPOTrainer({ model: tinyModel(), ...options, outputDir: tmp.file("c") });
    await expect(c.fit(otherPrompts, { resumeFrom: checkpoint })).rejects.toThrow(/row \d+'s prompt is not the one its reference log-probs were computed for/);
    // A damaged file is named.
    writeFileSync(join(checkpoint, REFERENCE_FILE), "not arrow");
    const d = new SDPOTrainer({ model: tinyModel(), ...options, outputDir: tmp.file("d") });
    await expect(d.fit(data, { resumeFrom: checkpoint })).rejects.toThrow(new RegExp(`${REFERENCE_FILE} is not a readable Arrow file`));
    for (const t of [a, b, c, d]) t.dispose();
  });

  test("precomputed reference on re-drawn rows is refused before training", async () => {
    const data = tmp.arrow("train.arrow", 8);
    const redrawn = { countRows: async () => 8, batches: () => PreferenceDataset.fromArrow(data).batches({ batchSize: 4 }), redrawsCandidates: true };
    const t = new SDPOTrainer({ model: tinyModel(), referenceMode: "precomputed", batchSize: 4, negatives: 2 });
    await expect(t.fit(redrawn as never)).rejects.toThrow(/referenceMode 'precomputed' scores each row's prompt and responses once/);
    t.dispose();
  });

  // Micro-batch 2 of the first step fails: in the native step (a non-finite loss) or before it is called.
  test.each(["a non-finite loss in the native step", "an error before the native call"])(
    "a step that fails part-way through accumulation (%s) leaves no gradient for the next fit()",
    async (failure) => {
      const data = tmp.arrow("train.arrow", 8);
      const nonFinite = failure.startsWith("a non-finite");
      const options = { referenceMode: nonFinite ? ("precomputed" as const) : ("frozen-copy" as const), learningRate: 1e-2, batchSize: 2, gradientAccumulationSteps: 4, negatives: 2 };
      const model = tinyModel();
      const trainer = new SDPOTrainer({ model, ...options });
      const nativeTrainer = (trainer as unknown as { trainer: NativeTrainer }).trainer;
      const realStep = nativeTrainer.step.bind(nativeTrainer);
      let calls = 0;
      const failing: NativeTrainer["step"] = async (batch, stepOptions) => {
        if (++calls !== 2) return realStep(batch, stepOptions);
        if (!nonFinite) throw new Error("negatives unavailable (simulated)");
        // Finite inputs whose rewards overflow: the loss of this micro-batch is not finite.
        const chosen = new Set(batch.chosenIndex);
        return realStep({ ...batch, referenceLogps: batch.referenceLogps!.map((_, r) => (chosen.has(r) ? 1e308 : -1e308)) }, stepOptions);
      };
      Object.defineProperty(nativeTrainer, "step", { value: failing, configurable: true });
      const err = await rejectionOf(trainer.fit(data));
      expect(err.message).toMatch(nonFinite ? /loss is not finite/ : /simulated/);
      Reflect.deleteProperty(nativeTrainer, "step");

      const fresh = tinyModel();
      for (const [name, bytes] of parameterBytes(fresh)) expect(bytes.equals(parameterBytes(model).get(name)!)).toBe(true);
      await trainer.fit(data);
      await new SDPOTrainer({ model: fresh, ...options }).fit(data);
      expect(maxAbsDiff(model, fresh)).toBe(0);
      expect(maxAbsDiff(model, tinyModel())).toBeGreaterThan(1e-4); // it did train
    }
  );

  test("weightDecay shrinks the weight matrices, not the RMSNorm weights; weightDecayAllParameters shrinks every tensor", async () => {
    const data = tmp.arrow("train.arrow", 4);
    const [lr, wd] = [1e-2, 0.5];
    const trainOneStep = async (options: { weightDecay?: number; weightDecayAllParameters?: boolean }) => {
      const model = tinyModel();
      const report = await new SFTTrainer({ model, batchSize: 4, learningRate: lr, lrSchedulerType: "constant", ...options }).fit(data);
      expect(report.steps).toBe(1);
      return model;
    };
    const initial = tinyModel();
    const plain = await trainOneStep({});
    const matrices = await trainOneStep({ weightDecay: wd });
    const everything = await trainOneStep({ weightDecay: wd, weightDecayAllParameters: true });
    const info = initial.native.parameterInfo();
    expect(info.filter((p) => p.shape.length === 1).map((p) => p.name)).toContain("model.norm.weight");
    const plainBytes = parameterBytes(plain);
    const matricesBytes = parameterBytes(matrices);
    for (const p of info) {
      const p0 = parameterFloats(initial, p.name);
      const a = parameterFloats(plain, p.name);
      // AdamW decays before the gradient update, which is the same in every run (same weights, same gradient):
      // a decayed tensor ends lr * wd * p0 below the run without decay.
      const offDecayed = (run: Model) => {
        const x = parameterFloats(run, p.name);
        let worst = 0;
        for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - (a[i] - lr * wd * p0[i])));
        return worst;
      };
      if (p.shape.length >= 2) expect({ name: p.name, off: offDecayed(matrices) < 1e-12 }).toEqual({ name: p.name, off: true });
      else expect({ name: p.name, undecayed: matricesBytes.get(p.name)!.equals(plainBytes.get(p.name)!) }).toEqual({ name: p.name, undecayed: true });
      expect({ name: p.name, off: offDecayed(everything) < 1e-12 }).toEqual({ name: p.name, off: true });
    }
    expectThrows(() => new SFTTrainer({ model: initial, weightDecayAllParameters: "yes" as never }), "TypeError", /weightDecayAllParameters must be a boolean/);
  });

  test("resume refuses a checkpoint of another loss or other options", async () => {
    const data = tmp.arrow("train.arrow", 8);
    const t = new SDPOTrainer({ model: tinyModel(), referenceMode: "frozen-copy", batchSize: 4, negatives: 2, outputDir: tmp.file("a") });
    await t.fit(data);
    const other = new SDPOTrainer({ model: tinyModel(), referenceMode: "frozen-copy", batchSize: 2, negatives: 2 });
    expect((await rejectionOf(other.fit(data, { resumeFrom: join(tmp.file("a"), "checkpoint-2") }))).message).toMatch(/batchSize: checkpoint 4, now 2/);
    const sft = new SFTTrainer({ model: tinyModel(), batchSize: 4 });
    expect((await rejectionOf(sft.fit(data, { resumeFrom: join(tmp.file("a"), "checkpoint-2") }))).message).toMatch(/trained with sdpo/);
    expect((await rejectionOf(sft.fit(data, { resumeFrom: tmp.file("nowhere") }))).message).toMatch(/not a trainer checkpoint/);
  });

  test("batch 8 x 1 step == batch 1 x 8 accumulated (float64)", async () => {
    const data = tmp.arrow("train.arrow", 8);
    const common = { referenceMode: "frozen-copy" as const, lrSchedulerType: "constant" as const, learningRate: 1e-2, negatives: 3 };
    const big = tinyModel();
    const small = tinyModel();
    await new SDPOTrainer({ model: big, ...common, batchSize: 8 }).fit(data);
    const accumulated = new SDPOTrainer({ model: small, ...common, batchSize: 1, gradientAccumulationSteps: 8 });
    const report = await accumulated.fit(data);
    expect(report.steps).toBe(1);
    expect(maxAbsDiff(big, small)).toBeLessThan(1e-12);
    expect(maxAbsDiff(big, tinyModel())).toBeGreaterThan(1e-4); // it did train
  });

  test("precomputed reference log-probs train exactly like a frozen copy", async () => {
    const data = tmp.arrow("train.arrow", 8);
    const a = tinyModel();
    const b = tinyModel();
    const common = { learningRate: 1e-2, batchSize: 4, numTrainEpochs: 2 };
    await createTrainer("dpo", { model: a, ...common, referenceMode: "frozen-copy" }).fit(data);
    await createTrainer("dpo", { model: b, ...common, referenceMode: "precomputed" }).fit(data);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-12);
  });

  test("precomputed reference: an eval row sharing a train row's number and response but not its prompt gets its own log-prob", async () => {
    // Row r of both files offers the same responses; only the prompts differ, so the reference log-probs differ too.
    const train = tmp.arrow("train.arrow", 4);
    const evalData = tmp.arrowOf("eval.arrow", records(4).map((r, i) => ({ ...r, promptIds: Int32Array.from([40 + i, 50 + i, 5]) })));
    const common = { learningRate: 1e-2, batchSize: 2, numTrainEpochs: 1, negatives: 2 };
    const evalLosses = async (referenceMode: "frozen-copy" | "precomputed") => {
      const trainer = createTrainer("sdpo", { model: tinyModel(), ...common, referenceMode });
      const losses: number[] = [];
      trainer.on("eval", (e) => losses.push(e.loss, e.chosenReward, e.rejectedReward));
      await trainer.fit(train, { eval: evalData });
      return losses;
    };
    const frozen = await evalLosses("frozen-copy");
    const precomputed = await evalLosses("precomputed");
    expect(frozen.length).toBe(3);
    frozen.forEach((value, i) => expect(Math.abs(precomputed[i] - value)).toBeLessThan(1e-12));
  });

  test("precomputed reference: data first seen after training changed the weights is refused, not scored by the trained policy", async () => {
    const train = tmp.arrow("train.arrow", 4);
    const other = tmp.arrowOf("other.arrow", records(4).map((r, i) => ({ ...r, promptIds: Int32Array.from([40 + i, 5]) })));
    const trainer = createTrainer("sdpo", { model: tinyModel(), learningRate: 1e-2, batchSize: 2, negatives: 2, referenceMode: "precomputed" });
    await trainer.fit(train);
    expect(Number.isFinite((await trainer.evaluate(train)).loss)).toBe(true); // the same file, opened again
    expect((await rejectionOf(trainer.evaluate(other))).message).toMatch(/evaluate\(data\) was not scored before training changed the weights/);
  });

  test("an abort between steps stops training and saves nothing new", async () => {
    const data = tmp.arrow("train.arrow", 12);
    const trainer = new SDPOTrainer({ model: tinyModel(), referenceMode: "frozen-copy", batchSize: 2, negatives: 2, outputDir: tmp.file("out") });
    const controller = new AbortController();
    trainer.on("step", (e) => {
      if (e.step === 2) controller.abort();
    });
    const report = await trainer.fit(data, { signal: controller.signal });
    expect(report).toMatchObject({ aborted: true, steps: 2 });
    expect(readdirSync(tmp.file("out")).filter((n) => n.startsWith("checkpoint-"))).toEqual([]);
  });

  test("a checkpoint that fails half-way leaves the earlier ones whole and no partial folder", async () => {
    const data = tmp.arrow("train.arrow", 8);
    const model = tinyModel();
    const trainer = new SDPOTrainer({ model, referenceMode: "frozen-copy", batchSize: 2, negatives: 2, saveSteps: 1, outputDir: tmp.file("out") });
    const realGetTensor = model.native.getTensor.bind(model.native);
    let checkpoints = 0;
    trainer.on("checkpoint", () => checkpoints++);
    let calls = 0;
    const failing: typeof realGetTensor = (name, options) => {
      // fail in the middle of writing the second checkpoint
      if (checkpoints === 1 && ++calls === 5) throw new Error("disk full (simulated)");
      return realGetTensor(name, options);
    };
    Object.defineProperty(model.native, "getTensor", { value: failing, configurable: true });
    expect((await rejectionOf(trainer.fit(data))).message).toMatch(/disk full/);
    const names = readdirSync(tmp.file("out"));
    expect(names.filter((n) => n.startsWith("checkpoint-"))).toEqual(["checkpoint-1"]);
    expect(names.filter((n) => n.includes("tmp"))).toEqual([]);
    for (const f of ["config.json", "trainer_state.json", "optimizer.safetensors", "trainable.safetensors"]) {
      expect(existsSync(join(tmp.file("out"), "checkpoint-1", f))).toBe(true);
    }
  });

  test("an outputDir holding another run is refused unless overwrite", async () => {
    const data = tmp.arrow("train.arrow", 4);
    const out = tmp.file("out");
    await new SFTTrainer({ model: tinyModel(), batchSize: 4, outputDir: out }).fit(data);
    const before = readFileSync(join(out, "checkpoint-1", "trainer_state.json"), "utf8");
    const err = await rejectionOf(new SFTTrainer({ model: tinyModel(), batchSize: 4, outputDir: out }).fit(data));
    expect(err.message).toMatch(/already holds another run/);
    expect(readFileSync(join(out, "checkpoint-1", "trainer_state.json"), "utf8")).toBe(before);
    await new SFTTrainer({ model: tinyModel(), batchSize: 2, outputDir: out, overwrite: true }).fit(data);
    expect(readdirSync(out).filter((n) => n.startsWith("checkpoint-"))).toEqual(["checkpoint-2"]);
  });

  test("evalSteps emits evaluations on the eval data; listeners can be removed", async () => {
    const data = tmp.arrow("train.arrow", 8);
    const evalData = tmp.arrow("eval.arrow", 4);
    const trainer = new SDPOTrainer({ model: tinyModel(), referenceMode: "frozen-copy", batchSize: 2, negatives: 3, evalSteps: 2 });
    const evals: { step: number; rows: number }[] = [];
    trainer.on("eval", (e) => evals.push({ step: e.step, rows: e.rows }));
    const off = trainer.on("step", () => {
      throw new Error("removed listeners are not called");
    });
    off();
    const report = await trainer.fit(data, { eval: evalData });
    expect(evals).toEqual([{ step: 2, rows: 4 }, { step: 4, rows: 4 }]);
    expect(report.lastEval?.step).toBe(4);
  });
});
