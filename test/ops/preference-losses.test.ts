/**
 * The preference losses on CPU, each check run for every softmax loss (S-DPO, NAPO with a fixed and with a
 * dynamic margin: one fused op) and for DPO: gradients against finite differences and a JS oracle, fused
 * against the plain composed-ATen version, K = 1 against DPO, gamma = 0 against S-DPO, masks, overflow.
 */
import { dpoLoss, sdpoLoss } from "../../src/ops/losses";
import { napoLoss } from "../../src/ops/napo";
import type { NapoLossInputs } from "../../src/native";
import { sigmoid, softmaxLosses, withoutConfidences } from "./softmax-loss-cases";
import { allFinite, cast, expectClose, finiteDifferences, preferenceFixture, tagOf, tolerance, type FloatCtor } from "./support";

const ROWS = 3;
const implementations = ["fused", "plain"] as const;
const dtypes = [
  ["float32", Float32Array],
  ["float64", Float64Array],
] as const;

describe("gradients (float64, central finite differences) and a JS oracle", () => {
  const cases: Array<[number, boolean]> = [
    [1, false],
    [7, false],
    [7, true],
    [15, false],
    [15, true],
  ];
  for (const loss of softmaxLosses) {
    for (const implementation of implementations) {
      for (const [negatives, masked] of cases) {
        test(`${loss.name} ${implementation}: B=${ROWS}, K=${negatives}${masked ? ", masked negatives" : ""}`, () => {
          const fx = loss.fixture(Float64Array, ROWS, negatives, 100 + negatives, masked);
          const options = { beta: 0.7, implementation };
          const result = loss.run(fx, { ...options, grad: true });
          const oracle = loss.oracle(fx, 0.7);
          expectClose(result.losses, oracle.losses, 1e-12, 1e-12);
          if (loss.margin) expectClose(result.margins!, oracle.margins, 1e-14, 1e-12);
          const meanLoss = () => loss.run(fx, options).loss;
          expectClose(result.grad!.policyChosen, finiteDifferences(fx.policyChosen, meanLoss), 1e-8, 1e-6);
          expectClose(result.grad!.policyRejected, finiteDifferences(fx.policyRejected, meanLoss), 1e-8, 1e-6);
          fx.mask?.forEach((real, i) => {
            if (!real) expect(result.grad!.policyRejected[i]).toBe(0);
          });
        });
      }
    }
  }

  for (const implementation of implementations) {
    test(`dpo ${implementation}`, () => {
      const fx = preferenceFixture(Float64Array, 5, 1, 7);
      const options = { beta: 0.3, implementation };
      const result = dpoLoss(fx, { ...options, grad: true });
      const expected = Array.from(fx.policyChosen, (_, b) => {
        const margin = 0.3 * (fx.policyChosen[b] - fx.referenceChosen[b]) - 0.3 * (fx.policyRejected[b] - fx.referenceRejected[b]);
        return Math.log1p(Math.exp(-margin)); // -log sigmoid(margin), margins here are small
      });
      expectClose(result.losses, expected, 1e-12, 1e-12);
      const meanLoss = () => dpoLoss(fx, options).loss;
      expectClose(result.grad!.policyChosen, finiteDifferences(fx.policyChosen, meanLoss), 1e-8, 1e-6);
      expectClose(result.grad!.policyRejected, finiteDifferences(fx.policyRejected, meanLoss), 1e-8, 1e-6);
    });
  }
});

describe("fused matches plain", () => {
  for (const [dtype, ctor] of dtypes) {
    const { atol, rtol } = tolerance[dtype];
    for (const loss of softmaxLosses) {
      for (const [negatives, masked] of [
        [1, false],
        [7, true],
        [15, false],
        [15, true],
      ] as const) {
        test(`${loss.name} ${dtype}, B=${ROWS}, K=${negatives}${masked ? ", masked" : ""}`, () => {
          const fx = loss.fixture(ctor, ROWS, negatives, 3 + negatives, masked);
          const fused = loss.run(fx, { beta: 1.3, grad: true });
          const plain = loss.run(fx, { beta: 1.3, grad: true, implementation: "plain" });
          expect(tagOf(fused.losses)).toBe(ctor.name);
          expect(tagOf(fused.grad!.policyRejected)).toBe(ctor.name);
          expectClose(fused.losses, plain.losses, atol, rtol);
          expectClose([fused.loss], [plain.loss], atol, rtol);
          expectClose(fused.chosenRewards, plain.chosenRewards, atol, rtol);
          // Masked-out slots hold no negative: NaN there, rewards elsewhere.
          const real = (a: ArrayLike<number>) => Array.from(a).filter((_, i) => !fx.mask || fx.mask[i]);
          expectClose(real(fused.rejectedRewards), real(plain.rejectedRewards), atol, rtol);
          fx.mask?.forEach((isReal, i) => {
            expect(Number.isNaN(fused.rejectedRewards[i])).toBe(!isReal);
            expect(Number.isNaN(plain.rejectedRewards[i])).toBe(!isReal);
          });
          if (loss.margin) {
            expect(tagOf(fused.margins)).toBe(ctor.name);
            expectClose(fused.margins!, plain.margins!, atol, rtol);
          }
          expectClose(fused.grad!.policyChosen, plain.grad!.policyChosen, atol, rtol);
          expectClose(fused.grad!.policyRejected, plain.grad!.policyRejected, atol, rtol);
        });
      }
    }
    test(`dpo ${dtype}`, () => {
      const fx = preferenceFixture(ctor, 9, 1, 11);
      const fused = dpoLoss(fx, { beta: 0.5, grad: true });
      const plain = dpoLoss(fx, { beta: 0.5, grad: true, implementation: "plain" });
      expectClose(fused.losses, plain.losses, atol, rtol);
      expectClose(fused.grad!.policyChosen, plain.grad!.policyChosen, atol, rtol);
      expectClose(fused.grad!.policyRejected, plain.grad!.policyRejected, atol, rtol);
    });
  }

  for (const loss of softmaxLosses) {
    test(`${loss.name}: a larger batch (B=64, K=15, masked) over several threads`, () => {
      const fx = loss.fixture(Float64Array, 64, 15, 5, true);
      const fused = loss.run(fx, { beta: 2, grad: true });
      const plain = loss.run(fx, { beta: 2, grad: true, implementation: "plain" });
      expectClose(fused.losses, plain.losses, 1e-12, 1e-11);
      expectClose(fused.grad!.policyRejected, plain.grad!.policyRejected, 1e-12, 1e-11);
    });
  }
});

describe("without a margin, K = 1 is DPO", () => {
  for (const loss of softmaxLosses) {
    for (const implementation of implementations) {
      test(`${loss.name} ${implementation}${loss.margin ? " with gamma = 0" : ""}: losses and gradients equal to 1e-12 in float64`, () => {
        const fx = loss.fixture(Float64Array, 17, 1, 23);
        for (const beta of [0.1, 1, 5]) {
          const softmax = loss.run(fx, { beta, gamma: 0, grad: true, implementation });
          const dpo = dpoLoss(withoutConfidences(fx), { beta, grad: true, implementation });
          expectClose(softmax.losses, dpo.losses, 1e-12);
          expectClose([softmax.loss], [dpo.loss], 1e-12);
          expectClose(softmax.grad!.policyChosen, dpo.grad!.policyChosen, 1e-12);
          expectClose(softmax.grad!.policyRejected, dpo.grad!.policyRejected, 1e-12);
        }
      });
    }
  }
});

describe("NAPO with gamma = 0 is S-DPO exactly", () => {
  for (const loss of softmaxLosses.filter((l) => l.margin)) {
    for (const implementation of implementations) {
      test(`${loss.name} ${implementation}: losses and gradients equal to 1e-12 in float64, margins 0`, () => {
        for (const [negatives, masked] of [
          [1, false],
          [7, true],
          [15, false],
        ] as const) {
          const fx = loss.fixture(Float64Array, 5, negatives, 31 + negatives, masked);
          for (const beta of [0.1, 1, 5]) {
            const napo = loss.run(fx, { beta, gamma: 0, grad: true, implementation });
            const sdpo = sdpoLoss(withoutConfidences(fx), { beta, grad: true, implementation });
            expectClose(napo.losses, sdpo.losses, 1e-12);
            expectClose([napo.loss], [sdpo.loss], 1e-12);
            expectClose(napo.grad!.policyChosen, sdpo.grad!.policyChosen, 1e-12);
            expectClose(napo.grad!.policyRejected, sdpo.grad!.policyRejected, 1e-12);
            expect(Array.from(napo.margins!)).toEqual(new Array(fx.policyRejected.length).fill(0));
          }
        }
      });
    }
  }
});

describe("overflow: reward gaps of 1e4", () => {
  // Row 0: every negative 1e4 above the chosen; row 1: 1e4 below; row 2: mixed.
  const gaps = [1e4, 1e4, 1e4, -1e4, -1e4, -1e4, 1e4, -1e4, 0];
  const make = <C extends FloatCtor>(ctor: C): NapoLossInputs<InstanceType<C>> => ({
    policyChosen: cast(ctor, [0, 0, 0]),
    referenceChosen: cast(ctor, [0, 0, 0]),
    policyRejected: cast(ctor, gaps),
    referenceRejected: cast(ctor, new Array(gaps.length).fill(0)),
  });
  // Dynamic margin confidences: with gamma 2 and tau 1 the margins of each row are [2, 0, 1].
  const confidences = <C extends FloatCtor>(ctor: C) => ({
    chosenConfidence: cast(ctor, [0, 0, 0]),
    rejectedConfidence: cast(ctor, [1e4, -1e4, 0, 1e4, -1e4, 0, 1e4, -1e4, 0]),
  });
  const e = Math.E;
  const dynamicWeights = [e * e, 1, e].map((w) => w / (e * e + 1 + e) / 3);
  // Per loss (NAPO at gamma 2, tau 1): the per-row losses and the gradient of the mean; d mean / d chosen is
  // -sigmoid(lse) / B: -1/3 for rows 0 and 2, ~0 for row 1. Row 2's lse is its first gap (plus its margin).
  const expected: Record<string, { losses: number[]; rejected: number[] }> = {
    sdpo: { losses: [1e4 + Math.log(3), 0, 1e4], rejected: [1 / 9, 1 / 9, 1 / 9, 0, 0, 0, 1 / 3, 0, 0] },
    "napo fixed": { losses: [1e4 + 2 + Math.log(3), 0, 1e4 + 2], rejected: [1 / 9, 1 / 9, 1 / 9, 0, 0, 0, 1 / 3, 0, 0] },
    "napo dynamic": { losses: [1e4 + Math.log(e * e + 1 + e), 0, 1e4 + 2], rejected: [...dynamicWeights, 0, 0, 0, 1 / 3, 0, 0] },
  };

  /** The paper's formula: -log sigmoid(-log sum_j exp(r_j - r_w)), summing exp directly. */
  function naive(rowGaps: number[]): { loss: number; gradChosen: number } {
    const sum = rowGaps.reduce((s, g) => s + Math.exp(g), 0);
    const inner = -Math.log(sum);
    const loss = -Math.log(1 / (1 + Math.exp(-inner)));
    // d loss / d r_w = -sigmoid(log sum) = -sum / (1 + sum): Inf / Inf for large gaps.
    return { loss, gradChosen: -sum / (1 + sum) };
  }

  test("the naive formula gives Inf / NaN there", () => {
    const overflowed = naive(gaps.slice(0, 3));
    expect(overflowed.loss).toBe(Infinity);
    expect(overflowed.gradChosen).toBeNaN();
  });

  for (const loss of softmaxLosses) {
    for (const [dtype, ctor] of dtypes) {
      for (const implementation of implementations) {
        test(`${loss.name} ${implementation} ${dtype}: loss and gradients stay finite and right`, () => {
          const inputs = loss.margin?.mode === "dynamic" ? { ...make(ctor), ...confidences(ctor) } : make(ctor);
          const result = loss.run(inputs, { beta: 1, gamma: 2, grad: true, implementation });
          expect(allFinite(result.losses)).toBe(true);
          expect(Number.isFinite(result.loss)).toBe(true);
          expect(allFinite(result.grad!.policyChosen)).toBe(true);
          expect(allFinite(result.grad!.policyRejected)).toBe(true);
          if (loss.margin) expect(allFinite(result.margins!)).toBe(true);
          // float32 near 1e4 has an ulp of ~1e-3, so the row lse (and exp(gap - lse)) carries ~1e-4 relative error.
          const rtol = dtype === "float32" ? 5e-4 : 1e-12;
          expectClose(result.losses, expected[loss.name].losses, 1e-30, rtol);
          expectClose(result.grad!.policyChosen, [-1 / 3, 0, -1 / 3], 1e-7, rtol);
          expectClose(result.grad!.policyRejected, expected[loss.name].rejected, 1e-7, rtol);
        });
      }
    }
  }
});

describe("the NAPO margin", () => {
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
    const dynamic = softmaxLosses.find((l) => l.margin?.mode === "dynamic")!;
    const fx = dynamic.fixture(Float64Array, 3, 4, 17);
    const options = { beta: 1, gamma: 1, mode: "dynamic" as const };
    const result = napoLoss(fx, { ...options, grad: true });
    expect(Object.keys(result.grad!).sort()).toEqual(["policyChosen", "policyRejected"]);
    const moved = finiteDifferences(fx.rejectedConfidence as Float64Array, () => napoLoss(fx, options).loss);
    expect(moved.some((d) => Math.abs(d) > 1e-4)).toBe(true);
  });
});
