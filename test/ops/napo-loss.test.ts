/** NAPO: gradients against finite differences, fused against reference, gamma = 0 against S-DPO, overflow, margins. */
import { napoLoss } from "../../src/ops/napo";
import { sdpoLoss } from "../../src/ops/losses";
import type { NapoLossInputs, NapoMarginMode } from "../../src/native";
import { allFinite, cast, expectClose, finiteDifferences, preferenceFixture, randomArray, rng, tagOf, tolerance, type FloatCtor } from "./support";

const ROWS = 3;
const implementations = ["fused", "reference"] as const;
const modes: NapoMarginMode[] = ["fixed", "dynamic"];

/** S-DPO inputs plus confidences in dynamic mode (log-prob-like scores around -5). */
function napoFixture<C extends FloatCtor>(ctor: C, rows: number, negatives: number, seed: number, masked: boolean, mode: NapoMarginMode): NapoLossInputs<InstanceType<C>> {
  const fx: NapoLossInputs<InstanceType<C>> = preferenceFixture(ctor, rows, negatives, seed, masked);
  if (mode === "dynamic") {
    const random = rng(seed + 1000);
    fx.chosenConfidence = randomArray(ctor, rows, random, 3);
    fx.rejectedConfidence = randomArray(ctor, rows * negatives, random, 3);
  }
  return fx;
}

const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/** Plain JS NAPO per row (max-shifted), an oracle independent of libtorch; also the margins it used. */
function napoOracle(fx: NapoLossInputs, beta: number, gamma: number, mode: NapoMarginMode, tau = 1): { losses: number[]; margins: number[] } {
  const rows = fx.policyChosen.length;
  const negatives = fx.policyRejected.length / rows;
  const losses: number[] = [];
  const margins: number[] = [];
  for (let b = 0; b < rows; b++) {
    const chosen = beta * (fx.policyChosen[b] - fx.referenceChosen[b]);
    const z: number[] = [];
    for (let j = 0; j < negatives; j++) {
      const i = b * negatives + j;
      if (fx.mask && !fx.mask[i]) {
        margins.push(0);
        continue;
      }
      const m = mode === "fixed" ? gamma : gamma * sigmoid((fx.rejectedConfidence![i] - fx.chosenConfidence![b]) / tau);
      margins.push(m);
      z.push(beta * (fx.policyRejected[i] - fx.referenceRejected[i]) - chosen + m);
    }
    const max = Math.max(...z);
    const lse = max + Math.log(z.reduce((s, g) => s + Math.exp(g - max), 0));
    losses.push(Math.max(lse, 0) + Math.log1p(Math.exp(-Math.abs(lse))));
  }
  return { losses, margins };
}

describe("napoLoss gradients (float64, central finite differences) and a JS oracle", () => {
  const cases: Array<[number, boolean]> = [
    [1, false],
    [7, true],
    [15, false],
    [15, true],
  ];
  for (const implementation of implementations) {
    for (const mode of modes) {
      for (const [negatives, masked] of cases) {
        test(`${implementation} ${mode}: B=${ROWS}, K=${negatives}${masked ? ", masked" : ""}`, () => {
          const fx = napoFixture(Float64Array, ROWS, negatives, 200 + negatives, masked, mode);
          const options = { beta: 0.7, gamma: 1.3, tau: 0.8, mode, implementation };
          const result = napoLoss(fx, { ...options, grad: true });
          const oracle = napoOracle(fx, 0.7, 1.3, mode, 0.8);
          expectClose(result.losses, oracle.losses, 1e-12, 1e-12);
          expectClose(result.margins, oracle.margins, 1e-14, 1e-12);
          const meanLoss = () => napoLoss(fx, options).loss;
          expectClose(result.grad!.policyChosen, finiteDifferences(fx.policyChosen, meanLoss), 1e-8, 1e-6);
          expectClose(result.grad!.policyRejected, finiteDifferences(fx.policyRejected, meanLoss), 1e-8, 1e-6);
          fx.mask?.forEach((real, i) => {
            if (!real) expect(result.grad!.policyRejected[i]).toBe(0);
          });
        });
      }
    }
  }
});

describe("gamma = 0 is S-DPO exactly", () => {
  for (const implementation of implementations) {
    for (const mode of modes) {
      test(`${implementation} ${mode}: losses and gradients equal to 1e-12 in float64`, () => {
        for (const [negatives, masked] of [
          [1, false],
          [7, true],
          [15, false],
        ] as const) {
          const fx = napoFixture(Float64Array, 5, negatives, 31 + negatives, masked, mode);
          for (const beta of [0.1, 1, 5]) {
            const napo = napoLoss(fx, { beta, gamma: 0, mode, grad: true, implementation });
            const { chosenConfidence: _c, rejectedConfidence: _r, ...sdpoInputs } = fx;
            const sdpo = sdpoLoss(sdpoInputs, { beta, grad: true, implementation });
            expectClose(napo.losses, sdpo.losses, 1e-12);
            expectClose([napo.loss], [sdpo.loss], 1e-12);
            expectClose(napo.grad!.policyChosen, sdpo.grad!.policyChosen, 1e-12);
            expectClose(napo.grad!.policyRejected, sdpo.grad!.policyRejected, 1e-12);
            expect(Array.from(napo.margins)).toEqual(new Array(fx.policyRejected.length).fill(0));
          }
        }
      });
    }
  }
});

describe("fused matches reference", () => {
  for (const [dtype, ctor] of [
    ["float32", Float32Array],
    ["float64", Float64Array],
  ] as const) {
    const { atol, rtol } = tolerance[dtype];
    for (const mode of modes) {
      for (const [negatives, masked] of [
        [1, false],
        [7, true],
        [15, true],
      ] as const) {
        test(`${dtype} ${mode}, B=${ROWS}, K=${negatives}${masked ? ", masked" : ""}`, () => {
          const fx = napoFixture(ctor, ROWS, negatives, 7 + negatives, masked, mode);
          const options = { beta: 1.3, gamma: 0.9, tau: 2, mode, grad: true };
          const fused = napoLoss(fx, options);
          const reference = napoLoss(fx, { ...options, implementation: "reference" });
          expect(tagOf(fused.losses)).toBe(ctor.name);
          expect(tagOf(fused.margins)).toBe(ctor.name);
          expectClose(fused.losses, reference.losses, atol, rtol);
          expectClose([fused.loss], [reference.loss], atol, rtol);
          expectClose(fused.margins, reference.margins, atol, rtol);
          expectClose(fused.grad!.policyChosen, reference.grad!.policyChosen, atol, rtol);
          expectClose(fused.grad!.policyRejected, reference.grad!.policyRejected, atol, rtol);
        });
      }
    }
  }

  test("a larger batch (B=64, K=15, masked, dynamic) over several threads", () => {
    const fx = napoFixture(Float64Array, 64, 15, 5, true, "dynamic");
    const options = { beta: 2, gamma: 3, tau: 0.5, mode: "dynamic" as const, grad: true };
    const fused = napoLoss(fx, options);
    const reference = napoLoss(fx, { ...options, implementation: "reference" });
    expectClose(fused.losses, reference.losses, 1e-12, 1e-11);
    expectClose(fused.grad!.policyRejected, reference.grad!.policyRejected, 1e-12, 1e-11);
  });
});

describe("the margin", () => {
  test("a fixed margin gamma is S-DPO with every negative's reward raised by gamma", () => {
    const fx = preferenceFixture(Float64Array, 4, 5, 9, true);
    const gamma = 0.6;
    const beta = 1.5;
    const napo = napoLoss(fx, { beta, gamma, grad: true });
    // r_j + gamma = beta * (policy_j + gamma / beta - reference_j)
    const shifted = { ...fx, policyRejected: fx.policyRejected.map((v) => v + gamma / beta) };
    const sdpo = sdpoLoss(shifted, { beta, grad: true });
    expectClose(napo.losses, sdpo.losses, 1e-12, 1e-12);
    expectClose(napo.grad!.policyRejected, sdpo.grad!.policyRejected, 1e-12, 1e-12);
  });

  test("dynamic: a hard negative (confident, s_j > s_w) gets a larger margin than an easy one, and more loss", () => {
    const base = { policyChosen: cast(Float64Array, [-3]), referenceChosen: cast(Float64Array, [-3]), policyRejected: cast(Float64Array, [-4, -4]), referenceRejected: cast(Float64Array, [-4, -4]) };
    const options = { beta: 1, gamma: 2, tau: 1, mode: "dynamic" as const };
    const result = napoLoss({ ...base, chosenConfidence: cast(Float64Array, [-3]), rejectedConfidence: cast(Float64Array, [-1, -6]) }, options);
    expect(result.margins[0]).toBeGreaterThan(1); // hard: gamma * sigmoid(2) ~ 1.76
    expect(result.margins[1]).toBeLessThan(1); // easy: gamma * sigmoid(-3) ~ 0.095
    expectClose(result.margins, [2 * sigmoid(2), 2 * sigmoid(-3)], 1e-15, 1e-13);
    const bothEasy = napoLoss({ ...base, chosenConfidence: cast(Float64Array, [-3]), rejectedConfidence: cast(Float64Array, [-6, -6]) }, options);
    expect(result.loss).toBeGreaterThan(bothEasy.loss);
    // tau sharpens: a small tau pushes the margins to gamma or 0.
    const sharp = napoLoss({ ...base, chosenConfidence: cast(Float64Array, [-3]), rejectedConfidence: cast(Float64Array, [-1, -6]) }, { ...options, tau: 0.01 });
    expectClose(sharp.margins, [2, 0], 1e-12);
  });

  test("the confidences move the loss but get no gradient: only the policy inputs do", () => {
    const fx = napoFixture(Float64Array, 3, 4, 17, false, "dynamic");
    const options = { beta: 1, gamma: 1, mode: "dynamic" as const };
    const result = napoLoss(fx, { ...options, grad: true });
    expect(Object.keys(result.grad!).sort()).toEqual(["policyChosen", "policyRejected"]);
    const moved = finiteDifferences(fx.rejectedConfidence as Float64Array, () => napoLoss(fx, options).loss);
    expect(moved.some((d) => Math.abs(d) > 1e-4)).toBe(true);
  });
});

describe("overflow: reward gaps of 1e4 with a margin", () => {
  const gaps = [1e4, 1e4, 1e4, -1e4, -1e4, -1e4, 1e4, -1e4, 0];
  const make = <C extends FloatCtor>(ctor: C): NapoLossInputs<InstanceType<C>> => ({
    policyChosen: cast(ctor, [0, 0, 0]),
    referenceChosen: cast(ctor, [0, 0, 0]),
    policyRejected: cast(ctor, gaps),
    referenceRejected: cast(ctor, new Array(gaps.length).fill(0)),
    chosenConfidence: cast(ctor, [0, 0, 0]),
    rejectedConfidence: cast(ctor, [1e4, -1e4, 0, 1e4, -1e4, 0, 1e4, -1e4, 0]),
  });
  for (const [dtype, ctor] of [
    ["float32", Float32Array],
    ["float64", Float64Array],
  ] as const) {
    for (const implementation of implementations) {
      test(`${implementation} ${dtype}: finite and right`, () => {
        const result = napoLoss(make(ctor), { beta: 1, gamma: 2, tau: 1, mode: "dynamic", grad: true, implementation });
        expect(allFinite(result.losses)).toBe(true);
        expect(allFinite(result.margins)).toBe(true);
        expect(allFinite(result.grad!.policyChosen)).toBe(true);
        expect(allFinite(result.grad!.policyRejected)).toBe(true);
        // margins per row: [2, 0, 1]; row 0 lse = 1e4 + log(e^2 + 1 + e^1); row 2: 1e4 + 2.
        const rtol = dtype === "float32" ? 5e-4 : 1e-12;
        expectClose(result.losses, [1e4 + Math.log(Math.exp(2) + 1 + Math.E), 0, 1e4 + 2], 1e-30, rtol);
        expectClose(result.grad!.policyChosen, [-1 / 3, 0, -1 / 3], 1e-7, rtol);
      });
    }
  }
});
