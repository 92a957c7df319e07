import { learningRateAt, warmupStepsFor } from "../../src/trainers/schedules";

describe("learning-rate schedules", () => {
  const base = { learningRate: 1, totalSteps: 10, warmupSteps: 2 };

  test("warmup rises linearly from 0", () => {
    for (const type of ["cosine", "linear", "constant"] as const) {
      expect(learningRateAt(0, { ...base, type })).toBe(0);
      expect(learningRateAt(1, { ...base, type })).toBeCloseTo(0.5, 12);
      expect(learningRateAt(2, { ...base, type })).toBeCloseTo(1, 12);
    }
  });

  test("constant stays at the peak after warmup", () => {
    for (let s = 2; s < 12; s++) expect(learningRateAt(s, { ...base, type: "constant" })).toBe(1);
  });

  test("linear decays to 0 at the last step", () => {
    expect(learningRateAt(6, { ...base, type: "linear" })).toBeCloseTo(0.5, 12);
    expect(learningRateAt(10, { ...base, type: "linear" })).toBe(0);
    expect(learningRateAt(11, { ...base, type: "linear" })).toBe(0);
  });

  test("cosine follows half a cosine from the peak to 0", () => {
    expect(learningRateAt(6, { ...base, type: "cosine" })).toBeCloseTo(0.5, 12);
    expect(learningRateAt(4, { ...base, type: "cosine" })).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 4)), 12);
    expect(learningRateAt(10, { ...base, type: "cosine" })).toBeCloseTo(0, 12);
    // monotone after warmup
    let last = Infinity;
    for (let s = 2; s <= 10; s++) {
      const lr = learningRateAt(s, { ...base, type: "cosine" });
      expect(lr).toBeLessThanOrEqual(last);
      last = lr;
    }
  });

  test("no warmup starts at the peak", () => {
    expect(learningRateAt(0, { type: "cosine", learningRate: 3e-4, totalSteps: 5, warmupSteps: 0 })).toBeCloseTo(3e-4, 15);
  });

  test("warmup steps round up like transformers", () => {
    expect(warmupStepsFor(0.1, 25)).toBe(3);
    expect(warmupStepsFor(0, 25)).toBe(0);
    expect(() => warmupStepsFor(1.5, 10)).toThrow(/warmupRatio/);
  });

  test("bad arguments are refused", () => {
    expect(() => learningRateAt(-1, { ...base, type: "linear" })).toThrow(/step/);
    expect(() => learningRateAt(1, { ...base, totalSteps: 0, type: "linear" })).toThrow(/totalSteps/);
    expect(() => learningRateAt(1, { ...base, type: "exp" as never })).toThrow(/lrSchedulerType/);
  });
});
