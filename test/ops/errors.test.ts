/** Every bad input is a TypeError / RangeError naming the argument, from the TS layer and from the addon itself. */
import { native } from "../../src/native";
import { dpoLoss, sdpoLoss, tokenLogProbs } from "../../src/ops/losses";
import { expectThrows } from "../helpers";

const f64 = (...values: number[]) => Float64Array.from(values);
const good = () => ({
  policyChosen: f64(-1, -2),
  policyRejected: f64(-3, -4, -5, -6, -7, -8), // B = 2, K = 3
  referenceChosen: f64(-1, -1),
  referenceRejected: f64(-4, -4, -4, -4, -4, -4),
});
const tokens = () => ({
  hidden: new Float64Array(2 * 3).fill(0.1),
  weight: new Float64Array(4 * 3).fill(0.2),
  labels: Int32Array.from([1, 3]),
  n: 2,
  d: 3,
  v: 4,
});

describe("sdpoLoss / dpoLoss argument errors (TS layer)", () => {
  test("the good inputs work", () => {
    expect(Number.isFinite(sdpoLoss(good(), { beta: 1 }).loss)).toBe(true);
  });

  test("non-typed-arrays", () => {
    expectThrows(() => sdpoLoss({ ...good(), policyChosen: [-1, -2] as unknown as Float64Array }, { beta: 1 }), "TypeError", /inputs\.policyChosen must be a Float32Array or Float64Array, got an Array/);
    expectThrows(() => sdpoLoss({ ...good(), referenceRejected: Int32Array.from([1, 2, 3, 4, 5, 6]) as unknown as Float64Array }, { beta: 1 }), "TypeError", /inputs\.referenceRejected must be a Float32Array or Float64Array, got Int32Array/);
    expectThrows(() => sdpoLoss(null as unknown as ReturnType<typeof good>, { beta: 1 }), "TypeError", /sdpoLoss inputs must be an object/);
    expectThrows(() => sdpoLoss({ ...good(), mask: [1, 1, 1, 1, 1, 1] as unknown as Uint8Array }, { beta: 1 }), "TypeError", /inputs\.mask must be a Uint8Array/);
  });

  test("mixed dtypes", () => {
    expectThrows(() => sdpoLoss({ ...good(), referenceChosen: Float32Array.from([-1, -1]) as unknown as Float64Array }, { beta: 1 }), "TypeError", /inputs\.referenceChosen is a Float32Array but inputs\.policyChosen is a Float64Array/);
  });

  test("wrong lengths", () => {
    expectThrows(() => sdpoLoss({ ...good(), referenceChosen: f64(-1) }, { beta: 1 }), "RangeError", /inputs\.referenceChosen must have length B = 2, got 1/);
    expectThrows(() => sdpoLoss({ ...good(), referenceRejected: f64(-4, -4, -4) }, { beta: 1 }), "RangeError", /inputs\.referenceRejected must have length B\*K = 6, got 3/);
    expectThrows(() => sdpoLoss({ ...good(), mask: new Uint8Array(5).fill(1) }, { beta: 1 }), "RangeError", /inputs\.mask must have length B\*K = 6, got 5/);
    expectThrows(() => sdpoLoss({ ...good(), policyChosen: f64(), referenceChosen: f64() }, { beta: 1 }), "RangeError", /inputs\.policyChosen is empty/);
    expectThrows(() => dpoLoss(good(), { beta: 1 }), "RangeError", /dpoLoss takes one rejected per row: inputs\.policyRejected must have length B = 2, got 6/);
  });

  test("K = 0 and B*K not a multiple of B", () => {
    expectThrows(() => sdpoLoss({ ...good(), policyRejected: f64(), referenceRejected: f64() }, { beta: 1 }), "RangeError", /inputs\.policyRejected is empty: K = 0/);
    expectThrows(() => sdpoLoss({ ...good(), policyRejected: f64(1, 2, 3), referenceRejected: f64(1, 2, 3) }, { beta: 1 }), "RangeError", /inputs\.policyRejected has length 3, not a multiple of B = 2/);
  });

  test("a mask row with no real negative names the row", () => {
    expectThrows(() => sdpoLoss({ ...good(), mask: Uint8Array.from([1, 0, 0, 0, 0, 0]) }, { beta: 1 }), "RangeError", /inputs\.mask row 1 has no real negative/);
  });

  test("NaN and Infinity inputs", () => {
    expectThrows(() => sdpoLoss({ ...good(), policyChosen: f64(-1, NaN) }, { beta: 1 }), "RangeError", /inputs\.policyChosen\[1\] is NaN/);
    expectThrows(() => sdpoLoss({ ...good(), referenceRejected: f64(-4, -4, Infinity, -4, -4, -4) }, { beta: 1 }), "RangeError", /inputs\.referenceRejected\[2\] is Infinity/);
    expectThrows(() => dpoLoss({ policyChosen: f64(-1), policyRejected: f64(-Infinity), referenceChosen: f64(-1), referenceRejected: f64(-1) }, { beta: 1 }), "RangeError", /inputs\.policyRejected\[0\] is -Infinity/);
  });

  test("beta <= 0, non-finite or not a number", () => {
    expectThrows(() => sdpoLoss(good(), { beta: 0 }), "RangeError", /options\.beta must be a finite number > 0, got 0/);
    expectThrows(() => sdpoLoss(good(), { beta: -1 }), "RangeError", /options\.beta must be a finite number > 0, got -1/);
    expectThrows(() => sdpoLoss(good(), { beta: NaN }), "RangeError", /options\.beta must be a finite number > 0, got NaN/);
    expectThrows(() => dpoLoss({ policyChosen: f64(-1), policyRejected: f64(-2), referenceChosen: f64(-1), referenceRejected: f64(-1) }, { beta: Infinity }), "RangeError", /options\.beta .* got Infinity/);
    expectThrows(() => sdpoLoss(good(), { beta: "1" as unknown as number }), "TypeError", /options\.beta must be a number, got string/);
  });

  test("bad options", () => {
    expectThrows(() => sdpoLoss(good(), { beta: 1, implementation: "fast" as "fused" }), "RangeError", /options\.implementation must be "fused" or "reference", got "fast"/);
    expectThrows(() => sdpoLoss(good(), { beta: 1, device: "tpu" as "cpu" }), "RangeError", /options\.device must be "cpu" or "cuda", got "tpu"/);
    expectThrows(() => sdpoLoss(good(), { beta: 1, grad: 1 as unknown as boolean }), "TypeError", /options\.grad must be a boolean/);
  });

  test("device cuda without CUDA is an Error saying so", () => {
    if (native().buildInfo().cudaAvailable) return; // covered by cuda.test.ts there
    expectThrows(() => sdpoLoss(good(), { beta: 1, device: "cuda" }), "Error", /"cuda" but CUDA is not available/);
    expectThrows(() => tokenLogProbs(tokens(), { device: "cuda" }), "Error", /"cuda" but CUDA is not available/);
  });
});

describe("tokenLogProbs argument errors (TS layer)", () => {
  test("the good inputs work", () => {
    expect(tokenLogProbs(tokens()).logps).toHaveLength(2);
  });
  test("labels out of range name the row and value", () => {
    expectThrows(() => tokenLogProbs({ ...tokens(), labels: Int32Array.from([1, 4]) }), "RangeError", /inputs\.labels\[1\] = 4 is outside \[0, 4\)/);
    expectThrows(() => tokenLogProbs({ ...tokens(), labels: Int32Array.from([-1, 0]) }), "RangeError", /inputs\.labels\[0\] = -1 is outside \[0, 4\) and is not ignoreIndex \(-100\)/);
  });
  test("wrong types, sizes and lengths", () => {
    expectThrows(() => tokenLogProbs({ ...tokens(), labels: new Float64Array(2) as unknown as Int32Array }), "TypeError", /inputs\.labels must be an Int32Array, got Float64Array/);
    expectThrows(() => tokenLogProbs({ ...tokens(), weight: new Float32Array(12) as unknown as Float64Array }), "TypeError", /inputs\.weight is a Float32Array but inputs\.hidden is a Float64Array/);
    expectThrows(() => tokenLogProbs({ ...tokens(), hidden: new Float64Array(5) }), "RangeError", /inputs\.hidden must have length n\*d = 6, got 5/);
    expectThrows(() => tokenLogProbs({ ...tokens(), weight: new Float64Array(11) }), "RangeError", /inputs\.weight must have length v\*d = 12, got 11/);
    expectThrows(() => tokenLogProbs({ ...tokens(), labels: Int32Array.from([1]) }), "RangeError", /inputs\.labels must have length n = 2, got 1/);
    expectThrows(() => tokenLogProbs({ ...tokens(), v: 0 }), "RangeError", /inputs\.v must be a positive integer, got 0/);
    expectThrows(() => tokenLogProbs({ ...tokens(), d: 1.5 }), "RangeError", /inputs\.d must be a positive integer, got 1\.5/);
    expectThrows(() => tokenLogProbs({ ...tokens(), hidden: f64(0, 0, 0, 0, NaN, 0) }), "RangeError", /inputs\.hidden\[4\] is NaN/);
    expectThrows(() => tokenLogProbs(tokens(), { ignoreIndex: 0.5 }), "TypeError", /options\.ignoreIndex must be an integer/);
    expectThrows(() => tokenLogProbs(tokens(), { chunkRows: -1 }), "RangeError", /options\.chunkRows must be an integer >= 0/);
  });
});

// The addon checks again at its own boundary: a caller that skips the TS layer gets errors, not crashes.
describe("the addon's own checks", () => {
  const addon = () => native();
  test("preference inputs", () => {
    expectThrows(() => addon().sdpoLoss({ ...good(), policyRejected: f64(1, 2, 3), referenceRejected: f64(1, 2, 3) }, { beta: 1 }), "RangeError", /not a multiple of B = 2/);
    expectThrows(() => addon().sdpoLoss({ ...good(), policyRejected: f64(), referenceRejected: f64() }, { beta: 1 }), "RangeError", /K = 0/);
    expectThrows(() => addon().sdpoLoss({ ...good(), referenceRejected: f64(1, 2) }, { beta: 1 }), "RangeError", /inputs\.referenceRejected must have length B\*K = 6, got 2/);
    expectThrows(() => addon().sdpoLoss({ ...good(), mask: Uint8Array.from([0, 0, 0, 1, 0, 0]) }, { beta: 1 }), "RangeError", /mask row 0 has no real negative/);
    expectThrows(() => addon().sdpoLoss({ ...good(), policyChosen: Float32Array.from([1, 2]) as unknown as Float64Array }, { beta: 1 }), "TypeError", /inputs\.policyRejected is float64 but the other inputs are float32/);
    expectThrows(() => addon().sdpoLoss({ ...good(), policyChosen: f64(1, NaN) }, { beta: 1 }), "RangeError", /inputs\.policyChosen holds a non-finite value .* at index 1/);
    expectThrows(() => addon().dpoLoss({ policyChosen: f64(-1), policyRejected: f64(-2), referenceChosen: f64(-1), referenceRejected: f64(-1) }, { beta: -2 }), "RangeError", /beta must be a finite number > 0, got -2/);
    expectThrows(() => addon().sdpoLoss(good(), { beta: 1, implementation: "x" as "fused" }), "RangeError", /options\.implementation must be "fused" or "reference"/);
  });
  test("token inputs", () => {
    expectThrows(() => addon().tokenLogProbs({ ...tokens(), labels: Int32Array.from([1, 7]) }), "RangeError", /labels\[1\] = 7 is outside \[0, 4\)/);
    expectThrows(() => addon().tokenLogProbs({ ...tokens(), labels: Int32Array.from([-3, 0]) }, { implementation: "reference" }), "RangeError", /labels\[0\] = -3 is outside/);
    expectThrows(() => addon().tokenLogProbs({ ...tokens(), hidden: new Float64Array(7) }), "RangeError", /inputs\.hidden must have length n\*d = 6, got 7/);
    expectThrows(() => addon().tokenLogProbs({ ...tokens(), labels: new Float64Array(2) as unknown as Int32Array }), "TypeError", /inputs\.labels must be int32, got float64/);
    expectThrows(() => addon().tokenLogProbs({ ...tokens(), n: -1 }), "RangeError", /inputs\.n must be a positive integer/);
  });
});
