/** The step budget: fractional numTrainEpochs, maxSteps (TRL's max_steps) and saveTotalLimit (TRL's save_total_limit). */
import { readdirSync, readFileSync } from "fs";
import { join } from "path";
import { SDPOTrainer } from "../../src/trainers/losses";
import { resolveOptions } from "../../src/trainers/options";
import { totalStepsFor } from "../../src/trainers/trainer";
import { rejectionOf } from "../helpers";
import { parameterBytes, TempDir, tinyModel } from "./fixtures";

jest.setTimeout(60_000);

let tmp: TempDir;
beforeEach(() => {
  tmp = new TempDir();
});
afterEach(() => tmp.remove());

const checkpoints = (dir: string) => readdirSync(dir).filter((n) => n.startsWith("checkpoint-")).sort((a, b) => Number(a.slice(11)) - Number(b.slice(11)));
// 12 rows, batch 2: 6 optimizer steps an epoch.
const common = { referenceMode: "frozen-copy" as const, learningRate: 1e-2, batchSize: 2, negatives: 2 };

describe("step budget", () => {
  test("totalStepsFor: maxSteps wins; fractional epochs round up as the HF Trainer does, without floating-point noise", () => {
    expect(totalStepsFor({ maxSteps: null, numTrainEpochs: 0.5 }, 6)).toBe(3);
    expect(totalStepsFor({ maxSteps: null, numTrainEpochs: 0.5 }, 5)).toBe(3);
    expect(totalStepsFor({ maxSteps: null, numTrainEpochs: 0.3 }, 10)).toBe(3); // 0.3 * 10 = 3.0000000000000004
    expect(totalStepsFor({ maxSteps: null, numTrainEpochs: 0.01 }, 6)).toBe(1);
    expect(totalStepsFor({ maxSteps: null, numTrainEpochs: 2.5 }, 6)).toBe(15);
    expect(totalStepsFor({ maxSteps: 7, numTrainEpochs: 3 }, 6)).toBe(7);
  });

  test("options: fractional epochs are accepted; zero, negative or fractional counts are refused", () => {
    const model = tinyModel();
    expect(resolveOptions("sdpo", { model, numTrainEpochs: 0.5 }, false)).toMatchObject({ numTrainEpochs: 0.5, maxSteps: null, saveTotalLimit: null });
    expect(resolveOptions("sdpo", { model, maxSteps: 4, saveTotalLimit: 2 }, false)).toMatchObject({ maxSteps: 4, saveTotalLimit: 2 });
    expect(() => resolveOptions("sdpo", { model, numTrainEpochs: 0 }, false)).toThrow(/numTrainEpochs must be a finite number > 0/);
    expect(() => resolveOptions("sdpo", { model, numTrainEpochs: -1 }, false)).toThrow(/numTrainEpochs must be/);
    expect(() => resolveOptions("sdpo", { model, numTrainEpochs: Infinity }, false)).toThrow(/numTrainEpochs must be/);
    expect(() => resolveOptions("sdpo", { model, maxSteps: 0 }, false)).toThrow(/maxSteps must be a whole number >= 1, got 0/);
    expect(() => resolveOptions("sdpo", { model, maxSteps: 2.5 }, false)).toThrow(/maxSteps must be a whole number >= 1/);
    expect(() => resolveOptions("sdpo", { model, saveTotalLimit: 0 }, false)).toThrow(/saveTotalLimit must be a whole number >= 1/);
    model.native.dispose();
  });

  test("numTrainEpochs 0.5 trains half the first epoch's steps, evaluates and saves once at the end", async () => {
    const data = tmp.arrow("train.arrow", 12);
    const out = tmp.file("half");
    const trainer = new SDPOTrainer({ model: tinyModel(), ...common, numTrainEpochs: 0.5, outputDir: out });
    const steps: { step: number; totalSteps: number; epoch: number }[] = [];
    trainer.on("step", (e) => steps.push({ step: e.step, totalSteps: e.totalSteps, epoch: e.epoch }));
    const evals: number[] = [];
    trainer.on("eval", (e) => evals.push(e.step));
    const report = await trainer.fit(data, { eval: data });
    expect(report).toMatchObject({ steps: 3, aborted: false, epochs: 0.5 });
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3]);
    expect(steps.every((s) => s.totalSteps === 3)).toBe(true);
    expect(evals).toEqual([3]); // evalSteps 0: at the end of the (cut) epoch
    expect(checkpoints(out)).toEqual(["checkpoint-3"]);
    const state = JSON.parse(readFileSync(join(out, "checkpoint-3", "trainer_state.json"), "utf8"));
    expect(state).toMatchObject({ globalStep: 3, totalSteps: 3, epoch: 0, batchesInEpoch: 3, batchesPerEpoch: 6 });
    trainer.dispose();
  });

  test("numTrainEpochs 1.5 runs into the second epoch; maxSteps overrides numTrainEpochs both ways", async () => {
    const data = tmp.arrow("train.arrow", 12);
    const run = async (options: { numTrainEpochs?: number; maxSteps?: number }) => {
      const trainer = new SDPOTrainer({ model: tinyModel(), ...common, ...options });
      const report = await trainer.fit(data);
      trainer.dispose();
      return report;
    };
    expect(await run({ numTrainEpochs: 1.5 })).toMatchObject({ steps: 9, epochs: 1.5 });
    expect(await run({ numTrainEpochs: 3, maxSteps: 4 })).toMatchObject({ steps: 4 });
    expect((await run({ numTrainEpochs: 3, maxSteps: 4 })).epochs).toBeCloseTo(4 / 6, 12);
    expect(await run({ numTrainEpochs: 1, maxSteps: 8 })).toMatchObject({ steps: 8 }); // past one epoch: the data is read again
    expect(await run({ maxSteps: 12 })).toMatchObject({ steps: 12, epochs: 2 });
  });

  test("a maxSteps run resumed from a mid-epoch checkpoint ends bit-identical; a changed maxSteps is refused", async () => {
    const data = tmp.arrow("train.arrow", 12);
    const options = { ...common, maxSteps: 5, warmupRatio: 0.2 };
    const straight = tinyModel();
    await new SDPOTrainer({ model: straight, ...options, saveSteps: 2, outputDir: tmp.file("a") }).fit(data);
    expect(checkpoints(tmp.file("a"))).toEqual(["checkpoint-2", "checkpoint-4", "checkpoint-5"]);
    const resumed = tinyModel();
    const b = new SDPOTrainer({ model: resumed, ...options, saveSteps: 2, outputDir: tmp.file("b") });
    const steps: number[] = [];
    b.on("step", (e) => steps.push(e.step));
    expect(await b.fit(data, { resumeFrom: join(tmp.file("a"), "checkpoint-2") })).toMatchObject({ steps: 5 });
    expect(steps).toEqual([3, 4, 5]);
    const pa = parameterBytes(straight);
    const pb = parameterBytes(resumed);
    for (const [name, bytes] of pa) expect({ name, equal: bytes.equals(pb.get(name)!) }).toEqual({ name, equal: true });
    const changed = new SDPOTrainer({ model: tinyModel(), ...options, maxSteps: 6 });
    expect((await rejectionOf(changed.fit(data, { resumeFrom: join(tmp.file("a"), "checkpoint-2") }))).message).toMatch(/maxSteps: checkpoint 5, now 6/);
  });

  test("saveTotalLimit keeps the newest N checkpoint folders and leaves no partial ones", async () => {
    const data = tmp.arrow("train.arrow", 12);
    const out = tmp.file("limited");
    const trainer = new SDPOTrainer({ model: tinyModel(), ...common, saveSteps: 1, saveTotalLimit: 2, outputDir: out });
    const seen: string[] = [];
    trainer.on("checkpoint", () => seen.push(checkpoints(out).join(",")));
    await trainer.fit(data);
    expect(seen).toEqual(["checkpoint-1", "checkpoint-1,checkpoint-2", "checkpoint-2,checkpoint-3", "checkpoint-3,checkpoint-4", "checkpoint-4,checkpoint-5", "checkpoint-5,checkpoint-6"]);
    expect(readdirSync(out).filter((n) => n.startsWith("."))).toEqual([]);
    trainer.dispose();
  });
});
