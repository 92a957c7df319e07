/** The model's fused CPU RMSNorm and RoPE against their plain composed versions, a JS oracle and finite differences. */
import { expectThrows } from "../helpers";
import { randomArray, rng } from "../ops/support";
import { nativeTestHooks } from "../../src/native/test-hooks";

type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;
const dtypes: [string, Ctor, number][] = [
  ["float32", Float32Array, 2e-5],
  ["float64", Float64Array, 1e-12],
];

function maxError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let scale = 1e-3;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst / scale; // relative to the array's largest magnitude
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Central differences of L(x) = sum(y(x) * gOut) for a few coordinates of `x`. */
function numericGrad(x: Float64Array, f: (x: Float64Array) => ArrayLike<number>, gOut: Float64Array, coords: number[], h = 1e-6): number[] {
  return coords.map((i) => {
    const plus = x.slice(), minus = x.slice();
    plus[i] += h;
    minus[i] -= h;
    return (dot(f(plus), gOut) - dot(f(minus), gOut)) / (2 * h);
  });
}

describe("rmsNorm: fused vs plain", () => {
  for (const [dtype, ctor, tol] of dtypes) {
    for (const [rows, dim] of [[1, 1], [3, 7], [300, 257], [5, 64]]) {
      test(`${dtype}, ${rows} rows x ${dim}: y, grad x, grad weight`, () => {
        const random = rng(rows * 1000 + dim);
        const inputs = { x: randomArray(ctor, rows * dim, random, 2), weight: randomArray(ctor, dim, random) };
        const gradOutput = randomArray(ctor, rows * dim, random);
        const fused = nativeTestHooks().rmsNorm(inputs, { eps: 1e-6, gradOutput });
        const plain = nativeTestHooks().rmsNorm(inputs, { eps: 1e-6, gradOutput, implementation: "plain" });
        expect(maxError(fused.y, plain.y)).toBeLessThan(tol);
        expect(maxError(fused.grad!.x, plain.grad!.x)).toBeLessThan(tol);
        expect(maxError(fused.grad!.weight!, plain.grad!.weight!)).toBeLessThan(tol);
        // JS oracle for y
        const oracle = new Float64Array(rows * dim);
        for (let n = 0; n < rows; n++) {
          let ss = 0;
          for (let j = 0; j < dim; j++) ss += inputs.x[n * dim + j] ** 2;
          const r = 1 / Math.sqrt(ss / dim + 1e-6);
          for (let j = 0; j < dim; j++) oracle[n * dim + j] = inputs.weight[j] * inputs.x[n * dim + j] * r;
        }
        expect(maxError(fused.y, oracle)).toBeLessThan(tol);
      });
    }
  }

  test("float64 gradients match finite differences; a frozen weight gets no gradient", () => {
    const random = rng(7);
    const [rows, dim] = [4, 9];
    const x = randomArray(Float64Array, rows * dim, random, 2);
    const weight = randomArray(Float64Array, dim, random);
    const gradOutput = randomArray(Float64Array, rows * dim, random);
    const out = nativeTestHooks().rmsNorm({ x, weight }, { eps: 1e-6, gradOutput });
    const coords = [0, 5, 17, rows * dim - 1];
    const fx = numericGrad(x, (v) => nativeTestHooks().rmsNorm({ x: v, weight }, { eps: 1e-6 }).y, gradOutput, coords);
    coords.forEach((c, k) => expect(Math.abs(out.grad!.x[c] - fx[k])).toBeLessThan(1e-7));
    const fw = numericGrad(weight, (w) => nativeTestHooks().rmsNorm({ x, weight: w }, { eps: 1e-6 }).y, gradOutput, [0, 4, 8]);
    [0, 4, 8].forEach((c, k) => expect(Math.abs(out.grad!.weight![c] - fw[k])).toBeLessThan(1e-7));
    const frozen = nativeTestHooks().rmsNorm({ x, weight }, { eps: 1e-6, gradOutput, frozenWeight: true });
    expect(frozen.grad!.weight).toBeUndefined();
    expect(maxError(frozen.grad!.x, out.grad!.x)).toBeLessThan(1e-15);
  });
});

describe("applyRope: fused vs plain", () => {
  /** HF rotate_half RoPE in [B, H, T, d] order from x in `layout` order. */
  function ropeOracle(x: ArrayLike<number>, cos: ArrayLike<number>, sin: ArrayLike<number>, B: number, H: number, T: number, d: number, layout: string, angleBatch: number): Float64Array {
    const out = new Float64Array(B * H * T * d), half = d / 2;
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) {
      const base = layout === "bhtd" ? ((b * H + h) * T + t) * d : ((b * T + t) * H + h) * d;
      const a = ((angleBatch === 1 ? 0 : b) * T + t) * d;
      for (let i = 0; i < d; i++) {
        const rot = i < half ? -x[base + i + half] : x[base + i - half];
        out[((b * H + h) * T + t) * d + i] = x[base + i] * cos[a + i] + rot * sin[a + i];
      }
    }
    return out;
  }

  for (const [dtype, ctor, tol] of dtypes) {
    for (const layout of ["bhtd", "bthd"] as const) {
      for (const [B, H, T, d, angleBatch] of [[1, 1, 1, 2, 1], [2, 3, 5, 8, 2], [2, 4, 33, 64, 1], [3, 2, 7, 16, 3]]) {
        test(`${dtype}, ${layout}, B${B} H${H} T${T} d${d}, angles for ${angleBatch === 1 ? "all rows" : "each row"}`, () => {
          const random = rng(B * 1000 + H * 100 + T * 10 + d);
          const theta = Array.from({ length: angleBatch * T * d }, () => random() * 6);
          const inputs = {
            x: randomArray(ctor, B * H * T * d, random), cos: ctor.from(theta.map(Math.cos)), sin: ctor.from(theta.map(Math.sin)),
            batch: B, heads: H, tokens: T, headDim: d, layout,
          };
          const gradOutput = randomArray(ctor, B * H * T * d, random);
          const fused = nativeTestHooks().applyRope(inputs, { gradOutput });
          const plain = nativeTestHooks().applyRope(inputs, { gradOutput, implementation: "plain" });
          expect(maxError(fused.y, plain.y)).toBeLessThan(tol);
          expect(maxError(fused.grad!.x, plain.grad!.x)).toBeLessThan(tol);
          expect(maxError(fused.y, ropeOracle(inputs.x, inputs.cos, inputs.sin, B, H, T, d, layout, angleBatch))).toBeLessThan(tol);
        });
      }
    }
  }

  test("float64 gradient matches finite differences (transposed layout); bad shapes are RangeErrors", () => {
    const [B, H, T, d] = [2, 2, 3, 4];
    const random = rng(3);
    const theta = Array.from({ length: B * T * d }, () => random() * 6);
    const base = { cos: Float64Array.from(theta.map(Math.cos)), sin: Float64Array.from(theta.map(Math.sin)), batch: B, heads: H, tokens: T, headDim: d, layout: "bthd" as const };
    const x = randomArray(Float64Array, B * H * T * d, random);
    const gradOutput = randomArray(Float64Array, B * H * T * d, random);
    const out = nativeTestHooks().applyRope({ ...base, x }, { gradOutput });
    // grad.x is in [B, H, T, d] order; coordinate c of x (layout [B, T, H, d]) is at that order's index:
    const toBhtd = (c: number) => { const i = c % d, h = Math.floor(c / d) % H, t = Math.floor(c / (d * H)) % T, b = Math.floor(c / (d * H * T)); return ((b * H + h) * T + t) * d + i; };
    const coords = [0, 3, 10, 29, B * H * T * d - 1];
    const numeric = numericGrad(x, (v) => nativeTestHooks().applyRope({ ...base, x: v }, {}).y, gradOutput, coords);
    coords.forEach((c, k) => expect(Math.abs(out.grad!.x[toBhtd(c)] - numeric[k])).toBeLessThan(1e-8));
    expectThrows(() => nativeTestHooks().applyRope({ ...base, x, headDim: 3 }, {}), "RangeError", /headDim must be even/);
    expectThrows(() => nativeTestHooks().applyRope({ ...base, x: x.subarray(1) }, {}), "RangeError", /B\*H\*T\*d/);
    expectThrows(() => nativeTestHooks().applyRope({ ...base, x: new Float32Array(x.length) as unknown as Float64Array }, {}), "TypeError", /dtype/);
  });
});
