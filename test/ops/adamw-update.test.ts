/** The fused AdamW pass and the float64-accumulated gradient norm, held to their plain composed versions and a JS oracle. */
import { expectThrows } from "../helpers";
import { randomArray, rng } from "./support";
import { nativeTestHooks, type AdamWUpdateOptions } from "../../src/native/test-hooks";

type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;

/** The textbook AdamW update in float64, one element at a time. */
function adamwOracle(p: ArrayLike<number>, g: ArrayLike<number>, m: ArrayLike<number>, v: ArrayLike<number>, o: Required<Omit<AdamWUpdateOptions, "implementation">>) {
  const n = p.length;
  const out = { param: new Float64Array(n), expAvg: new Float64Array(n), expAvgSq: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    const gi = g[i] * o.gradScale;
    const mi = o.beta1 * m[i] + (1 - o.beta1) * gi;
    const vi = o.beta2 * v[i] + (1 - o.beta2) * gi * gi;
    const denom = Math.sqrt(vi) / Math.sqrt(1 - o.beta2 ** o.step) + o.eps;
    out.expAvg[i] = mi;
    out.expAvgSq[i] = vi;
    out.param[i] = p[i] * (1 - o.learningRate * o.weightDecay) - (o.learningRate / (1 - o.beta1 ** o.step)) * (mi / denom);
  }
  return out;
}

function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>, floor: number): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), floor));
  return worst;
}

const dtypes: [string, Ctor, number][] = [
  ["float32", Float32Array, 2e-6],
  ["float64", Float64Array, 1e-13],
];
// 1 and 7: shorter than any vector width; 65537: one past a parallel chunk; 200003: several chunks.
const sizes = [1, 7, 65537, 200003];

describe("adamwUpdate: fused pass vs plain composed version vs oracle", () => {
  for (const [dtype, ctor, tol] of dtypes) {
    for (const n of sizes) {
      test(`${dtype}, ${n} elements, weight decay, clipping scale, steps 1 and 1000`, () => {
        const random = rng(n);
        const tensors = {
          param: randomArray(ctor, n, random),
          grad: randomArray(ctor, n, random, 1e-2),
          expAvg: randomArray(ctor, n, random, 1e-3),
          expAvgSq: randomArray(ctor, n, random, 1e-5).map(Math.abs) as InstanceType<Ctor>,
        };
        for (const step of [1, 1000]) {
          const o = { learningRate: 3e-3, step, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradScale: 0.37 };
          const before = tensors.param.slice();
          const fused = nativeTestHooks().adamwUpdate(tensors, { ...o, implementation: "fused" });
          const plain = nativeTestHooks().adamwUpdate(tensors, { ...o, implementation: "plain" });
          const oracle = adamwOracle(tensors.param, tensors.grad, tensors.expAvg, tensors.expAvgSq, o);
          expect(fused.param.constructor.name).toBe(ctor.name); // the addon's arrays come from another realm
          expect(Array.from(tensors.param)).toEqual(Array.from(before)); // inputs untouched
          for (const key of ["param", "expAvg", "expAvgSq"] as const) {
            // Relative error, against the inputs' scale where an element itself is near 0 (cancellation).
            const floor = { param: 1, expAvg: 1e-3, expAvgSq: 1e-5 }[key];
            expect({ key, error: maxRelError(fused[key], plain[key], floor) < tol }).toEqual({ key, error: true });
            expect({ key, error: maxRelError(fused[key], oracle[key], floor) < tol }).toEqual({ key, error: true });
          }
        }
      });
    }
  }

  test("defaults (no weight decay, scale 1) and a zero gradient: only the moments decay", () => {
    const n = 9;
    const tensors = { param: new Float64Array(n).fill(2), grad: new Float64Array(n), expAvg: new Float64Array(n).fill(1e-3), expAvgSq: new Float64Array(n).fill(1e-6) };
    const out = nativeTestHooks().adamwUpdate(tensors, { learningRate: 1e-2, step: 3 });
    const oracle = adamwOracle(tensors.param, tensors.grad, tensors.expAvg, tensors.expAvgSq, { learningRate: 1e-2, step: 3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, gradScale: 1 });
    expect(maxRelError(out.param, oracle.param, 1e-6)).toBeLessThan(1e-14);
    expect(out.expAvg[0]).toBeCloseTo(0.9e-3, 15);
  });

  test("bad arguments are TypeErrors / RangeErrors naming the argument", () => {
    const a = new Float32Array(4);
    const ok = { param: a, grad: a, expAvg: a, expAvgSq: a };
    expectThrows(() => nativeTestHooks().adamwUpdate({ ...ok, grad: new Float32Array(3) }, { learningRate: 1, step: 1 }), "RangeError", /tensors\.grad/);
    expectThrows(() => nativeTestHooks().adamwUpdate({ ...ok, expAvg: new Float64Array(4) as unknown as Float32Array }, { learningRate: 1, step: 1 }), "TypeError", /tensors\.expAvg/);
    expectThrows(() => nativeTestHooks().adamwUpdate({ ...ok, param: new Int32Array(4) as unknown as Float32Array }, { learningRate: 1, step: 1 }), "TypeError", /tensors\.param/);
    expectThrows(() => nativeTestHooks().adamwUpdate(ok, { learningRate: 1, step: 0 }), "RangeError", /step must be an integer >= 1/);
    expectThrows(() => nativeTestHooks().adamwUpdate(ok, { learningRate: NaN, step: 1 }), "RangeError", /learningRate/);
    expectThrows(() => nativeTestHooks().adamwUpdate(ok, { learningRate: 1, step: 1, implementation: "fast" as "fused" }), "RangeError", /implementation/);
  });
});

describe("gradSumSquares: float64 accumulation without a float64 copy", () => {
  for (const [dtype, ctor] of dtypes) {
    test(`${dtype}: fused == plain == JS sum over odd sizes`, () => {
      for (const n of [0, 1, 3, 65536, 65537, 300001]) {
        const g = randomArray(ctor, n, rng(n + 1), 3);
        let oracle = 0;
        for (let i = 0; i < n; i++) oracle += g[i] * g[i];
        const fused = nativeTestHooks().gradSumSquares(g);
        const plain = nativeTestHooks().gradSumSquares(g, { implementation: "plain" });
        expect(Math.abs(fused - oracle)).toBeLessThanOrEqual(1e-12 * Math.max(oracle, 1));
        expect(Math.abs(fused - plain)).toBeLessThanOrEqual(1e-12 * Math.max(oracle, 1));
      }
    });
  }

  test("float32 values whose squares overflow float32 are summed in float64", () => {
    const g = new Float32Array([3e20, -3e20, 1]); // 9e40 > float32's 3.4e38
    const exact = 2 * g[0] * g[0] + 1;
    expect(Math.abs(nativeTestHooks().gradSumSquares(g) - exact) / exact).toBeLessThan(1e-15);
    expectThrows(() => nativeTestHooks().gradSumSquares(new Int32Array(2) as unknown as Float32Array), "TypeError", /grad/);
  });
});
