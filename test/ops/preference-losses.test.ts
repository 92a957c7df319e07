/** S-DPO and DPO: gradients against finite differences, fused against reference, K = 1 against DPO, overflow. */
import { dpoLoss, sdpoLoss } from "../../src/ops/losses";
import { allFinite, cast, expectClose, finiteDifferences, preferenceFixture, tagOf, tolerance } from "./support";

/** Plain JS S-DPO per row (max-shifted), an oracle independent of libtorch. */
function sdpoOracle(fx: ReturnType<typeof preferenceFixture>, beta: number): number[] {
  const rows = fx.policyChosen.length;
  const negatives = fx.policyRejected.length / rows;
  const losses: number[] = [];
  for (let b = 0; b < rows; b++) {
    const chosen = beta * (fx.policyChosen[b] - fx.referenceChosen[b]);
    const gaps: number[] = [];
    for (let j = 0; j < negatives; j++) {
      if (fx.mask && !fx.mask[b * negatives + j]) continue;
      gaps.push(beta * (fx.policyRejected[b * negatives + j] - fx.referenceRejected[b * negatives + j]) - chosen);
    }
    const max = Math.max(...gaps);
    const lse = max + Math.log(gaps.reduce((s, g) => s + Math.exp(g - max), 0));
    losses.push(Math.max(lse, 0) + Math.log1p(Math.exp(-Math.abs(lse))));
  }
  return losses;
}

const ROWS = 3;
const implementations = ["fused", "reference"] as const;

describe("sdpoLoss gradients (float64, central finite differences)", () => {
  const cases: Array<[number, boolean]> = [
    [1, false],
    [7, false],
    [7, true],
    [15, false],
    [15, true],
  ];
  for (const implementation of implementations) {
    for (const [negatives, masked] of cases) {
      test(`${implementation}: B=${ROWS}, K=${negatives}${masked ? ", masked negatives" : ""}`, () => {
        const fx = preferenceFixture(Float64Array, ROWS, negatives, 100 + negatives, masked);
        const options = { beta: 0.7, implementation };
        const result = sdpoLoss(fx, { ...options, grad: true });
        expectClose(result.losses, sdpoOracle(fx, 0.7), 1e-12, 1e-12);
        const meanLoss = () => sdpoLoss(fx, options).loss;
        expectClose(result.grad!.policyChosen, finiteDifferences(fx.policyChosen, meanLoss), 1e-8, 1e-6);
        expectClose(result.grad!.policyRejected, finiteDifferences(fx.policyRejected, meanLoss), 1e-8, 1e-6);
        if (fx.mask) {
          fx.mask.forEach((real, i) => {
            if (!real) expect(result.grad!.policyRejected[i]).toBe(0);
          });
        }
      });
    }
  }
});

describe("dpoLoss gradients (float64, central finite differences)", () => {
  for (const implementation of implementations) {
    test(implementation, () => {
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

describe("fused matches reference", () => {
  for (const [dtype, ctor] of [
    ["float32", Float32Array],
    ["float64", Float64Array],
  ] as const) {
    const { atol, rtol } = tolerance[dtype];
    for (const [negatives, masked] of [
      [1, false],
      [7, true],
      [15, false],
      [15, true],
    ] as const) {
      test(`sdpoLoss ${dtype}, B=${ROWS}, K=${negatives}${masked ? ", masked" : ""}`, () => {
        const fx = preferenceFixture(ctor, ROWS, negatives, 3 + negatives, masked);
        const fused = sdpoLoss(fx, { beta: 1.3, grad: true });
        const reference = sdpoLoss(fx, { beta: 1.3, grad: true, implementation: "reference" });
        expect(tagOf(fused.losses)).toBe(ctor.name);
        expect(tagOf(fused.grad!.policyRejected)).toBe(ctor.name);
        expectClose(fused.losses, reference.losses, atol, rtol);
        expectClose([fused.loss], [reference.loss], atol, rtol);
        expectClose(fused.chosenRewards, reference.chosenRewards, atol, rtol);
        // Masked-out slots hold no negative: NaN there, rewards elsewhere.
        const real = (a: ArrayLike<number>) => Array.from(a).filter((_, i) => !fx.mask || fx.mask[i]);
        expectClose(real(fused.rejectedRewards), real(reference.rejectedRewards), atol, rtol);
        fx.mask?.forEach((isReal, i) => {
          expect(Number.isNaN(fused.rejectedRewards[i])).toBe(!isReal);
          expect(Number.isNaN(reference.rejectedRewards[i])).toBe(!isReal);
        });
        expectClose(fused.grad!.policyChosen, reference.grad!.policyChosen, atol, rtol);
        expectClose(fused.grad!.policyRejected, reference.grad!.policyRejected, atol, rtol);
      });
    }
    test(`dpoLoss ${dtype}`, () => {
      const fx = preferenceFixture(ctor, 9, 1, 11);
      const fused = dpoLoss(fx, { beta: 0.5, grad: true });
      const reference = dpoLoss(fx, { beta: 0.5, grad: true, implementation: "reference" });
      expectClose(fused.losses, reference.losses, atol, rtol);
      expectClose(fused.grad!.policyChosen, reference.grad!.policyChosen, atol, rtol);
      expectClose(fused.grad!.policyRejected, reference.grad!.policyRejected, atol, rtol);
    });
  }

  test("a larger batch (B=64, K=15, masked) over several threads", () => {
    const fx = preferenceFixture(Float64Array, 64, 15, 5, true);
    const fused = sdpoLoss(fx, { beta: 2, grad: true });
    const reference = sdpoLoss(fx, { beta: 2, grad: true, implementation: "reference" });
    expectClose(fused.losses, reference.losses, 1e-12, 1e-11);
    expectClose(fused.grad!.policyRejected, reference.grad!.policyRejected, 1e-12, 1e-11);
  });
});

describe("S-DPO with K = 1 is DPO", () => {
  for (const implementation of implementations) {
    test(`${implementation}: losses and gradients equal to 1e-12 in float64`, () => {
      const fx = preferenceFixture(Float64Array, 17, 1, 23);
      for (const beta of [0.1, 1, 5]) {
        const sdpo = sdpoLoss(fx, { beta, grad: true, implementation });
        const dpo = dpoLoss(fx, { beta, grad: true, implementation });
        expectClose(sdpo.losses, dpo.losses, 1e-12);
        expectClose([sdpo.loss], [dpo.loss], 1e-12);
        expectClose(sdpo.grad!.policyChosen, dpo.grad!.policyChosen, 1e-12);
        expectClose(sdpo.grad!.policyRejected, dpo.grad!.policyRejected, 1e-12);
      }
    });
  }
});

describe("overflow: reward gaps of 1e4", () => {
  // Row 0: every negative 1e4 above the chosen; row 1: 1e4 below; row 2: mixed.
  const gaps = [1e4, 1e4, 1e4, -1e4, -1e4, -1e4, 1e4, -1e4, 0];
  const make = <C extends Float32ArrayConstructor | Float64ArrayConstructor>(ctor: C) => ({
    policyChosen: cast(ctor, [0, 0, 0]),
    referenceChosen: cast(ctor, [0, 0, 0]),
    policyRejected: cast(ctor, gaps),
    referenceRejected: cast(ctor, new Array(gaps.length).fill(0)),
  });

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

  for (const [dtype, ctor] of [
    ["float32", Float32Array],
    ["float64", Float64Array],
  ] as const) {
    for (const implementation of implementations) {
      test(`${implementation} ${dtype}: loss and gradients stay finite and right`, () => {
        const result = sdpoLoss(make(ctor), { beta: 1, grad: true, implementation });
        expect(allFinite(result.losses)).toBe(true);
        expect(Number.isFinite(result.loss)).toBe(true);
        expect(allFinite(result.grad!.policyChosen)).toBe(true);
        expect(allFinite(result.grad!.policyRejected)).toBe(true);
        // float32 near 1e4 has an ulp of ~1e-3, so the row lse (and exp(gap - lse)) carries ~1e-4 relative error.
        const rtol = dtype === "float32" ? 5e-4 : 1e-12;
        // Row 0: softplus(1e4 + log 3) = 1e4 + log 3; row 1: softplus(-1e4 + log 3) ~ 0; row 2: lse = 1e4.
        expectClose(result.losses, [1e4 + Math.log(3), 0, 1e4], 1e-30, rtol);
        // d mean / d chosen = -sigmoid(lse) / B: -1/3 for rows 0 and 2, ~0 for row 1.
        expectClose(result.grad!.policyChosen, [-1 / 3, 0, -1 / 3], 1e-7, rtol);
        expectClose(result.grad!.policyRejected, [1 / 9, 1 / 9, 1 / 9, 0, 0, 0, 1 / 3, 0, 0], 1e-7, rtol);
      });
    }
  }
});
