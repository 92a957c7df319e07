/**
 * Every bad input is a TypeError / RangeError naming the argument, from the TS layer and from the addon itself.
 * The S-DPO input checks run for sdpoLoss and napoLoss alike (one op); NAPO's own options and inputs after.
 */
import { native, type NapoLossInputs, type NapoLossOptions, type PreferenceLossOptions, type PreferenceLossResult } from "../../src/native";
import { dpoLoss, sdpoLoss, tokenLogProbs } from "../../src/ops/losses";
import { napoLoss } from "../../src/ops/napo";
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

const dynamicInputs = () => ({ ...good(), chosenConfidence: f64(-1, -2), rejectedConfidence: f64(-1, -2, -3, -4, -5, -6) });
const dynamic = { beta: 1, gamma: 1, mode: "dynamic" as const };

/** The softmax losses under test, through the TS layer and straight into the addon (NAPO with a fixed margin). */
type SoftmaxCall = (inputs: NapoLossInputs<Float64Array>, options: PreferenceLossOptions) => PreferenceLossResult;
const softmaxLosses: { name: string; call: SoftmaxCall; addon: SoftmaxCall }[] = [
  { name: "sdpoLoss", call: (inputs, options) => sdpoLoss(inputs, options), addon: (inputs, options) => native().sdpoLoss(inputs, options) },
  {
    name: "napoLoss",
    call: (inputs, options) => napoLoss(inputs, { gamma: 0.5, ...options } as NapoLossOptions),
    addon: (inputs, options) => native().napoLoss(inputs, { gamma: 0.5, ...options } as NapoLossOptions),
  },
];

describe.each(softmaxLosses)("$name argument errors (TS layer)", ({ name, call: loss }) => {
  test("the good inputs work", () => {
    expect(Number.isFinite(loss(good(), { beta: 1 }).loss)).toBe(true);
  });

  test("non-typed-arrays", () => {
    expectThrows(() => loss({ ...good(), policyChosen: [-1, -2] as unknown as Float64Array }, { beta: 1 }), "TypeError", /inputs\.policyChosen must be a Float32Array or Float64Array, got an Array/);
    expectThrows(() => loss({ ...good(), referenceRejected: Int32Array.from([1, 2, 3, 4, 5, 6]) as unknown as Float64Array }, { beta: 1 }), "TypeError", /inputs\.referenceRejected must be a Float32Array or Float64Array, got Int32Array/);
    expectThrows(() => loss(null as unknown as ReturnType<typeof good>, { beta: 1 }), "TypeError", new RegExp(`${name} inputs must be an object`));
    expectThrows(() => loss({ ...good(), mask: [1, 1, 1, 1, 1, 1] as unknown as Uint8Array }, { beta: 1 }), "TypeError", /inputs\.mask must be a Uint8Array/);
  });

  test("arrays over shared memory get a clear error", () => {
    const shared = new Float64Array(new SharedArrayBuffer(16));
    expectThrows(() => loss({ ...good(), policyChosen: shared }, { beta: 1 }), "TypeError", /inputs\.policyChosen is backed by a SharedArrayBuffer, which the native ops cannot read; pass a copy \(Float64Array\.from\(array\)\)/);
  });

  test("mixed dtypes", () => {
    expectThrows(() => loss({ ...good(), referenceChosen: Float32Array.from([-1, -1]) as unknown as Float64Array }, { beta: 1 }), "TypeError", /inputs\.referenceChosen is a Float32Array but inputs\.policyChosen is a Float64Array/);
  });

  test("wrong lengths", () => {
    expectThrows(() => loss({ ...good(), referenceChosen: f64(-1) }, { beta: 1 }), "RangeError", /inputs\.referenceChosen must have length B = 2, got 1/);
    expectThrows(() => loss({ ...good(), referenceRejected: f64(-4, -4, -4) }, { beta: 1 }), "RangeError", /inputs\.referenceRejected must have length B\*K = 6, got 3/);
    expectThrows(() => loss({ ...good(), mask: new Uint8Array(5).fill(1) }, { beta: 1 }), "RangeError", /inputs\.mask must have length B\*K = 6, got 5/);
    expectThrows(() => loss({ ...good(), policyChosen: f64(), referenceChosen: f64() }, { beta: 1 }), "RangeError", /inputs\.policyChosen is empty/);
  });

  test("K = 0 and B*K not a multiple of B", () => {
    expectThrows(() => loss({ ...good(), policyRejected: f64(), referenceRejected: f64() }, { beta: 1 }), "RangeError", /inputs\.policyRejected is empty: K = 0/);
    expectThrows(() => loss({ ...good(), policyRejected: f64(1, 2, 3), referenceRejected: f64(1, 2, 3) }, { beta: 1 }), "RangeError", /inputs\.policyRejected has length 3, not a multiple of B = 2/);
  });

  test("a mask row with no real negative names the row", () => {
    expectThrows(() => loss({ ...good(), mask: Uint8Array.from([1, 0, 0, 0, 0, 0]) }, { beta: 1 }), "RangeError", /inputs\.mask row 1 has no real negative/);
  });

  test("NaN and Infinity inputs", () => {
    expectThrows(() => loss({ ...good(), policyChosen: f64(-1, NaN) }, { beta: 1 }), "RangeError", /inputs\.policyChosen\[1\] is NaN/);
    expectThrows(() => loss({ ...good(), referenceRejected: f64(-4, -4, Infinity, -4, -4, -4) }, { beta: 1 }), "RangeError", /inputs\.referenceRejected\[2\] is Infinity/);
  });

  test("beta <= 0, non-finite or not a number", () => {
    expectThrows(() => loss(good(), { beta: 0 }), "RangeError", /options\.beta must be a finite number > 0, got 0/);
    expectThrows(() => loss(good(), { beta: -1 }), "RangeError", /options\.beta must be a finite number > 0, got -1/);
    expectThrows(() => loss(good(), { beta: NaN }), "RangeError", /options\.beta must be a finite number > 0, got NaN/);
    expectThrows(() => loss(good(), { beta: "1" as unknown as number }), "TypeError", /options\.beta must be a number, got string/);
  });

  test("bad options", () => {
    expectThrows(() => loss(good(), { beta: 1, implementation: "fast" as "fused" }), "RangeError", /options\.implementation must be "fused" or "plain", got "fast"/);
    expectThrows(() => loss(good(), { beta: 1, device: "tpu" as "cpu" }), "RangeError", /options\.device must be "cpu" or "cuda", got "tpu"/);
    expectThrows(() => loss(good(), { beta: 1, grad: 1 as unknown as boolean }), "TypeError", /options\.grad must be a boolean/);
  });

  test("device cuda without CUDA is an Error saying so", () => {
    if (native().buildInfo().cudaAvailable) return; // covered by cuda.test.ts there
    expectThrows(() => loss(good(), { beta: 1, device: "cuda" }), "Error", /"cuda" but CUDA is not available/);
  });
});

describe.each(softmaxLosses)("$name at finite inputs whose reward gap overflows the dtype", ({ call: loss }) => {
  test("float64: a gap of 2e308 is refused naming the row and negative, not returned as NaN", () => {
    const inputs = { ...good(), policyRejected: f64(-3, -4, -5, -6, 1e308, -8), referenceRejected: f64(-4, -4, -4, -4, -1e308, -4) };
    expectThrows(() => loss(inputs, { beta: 1 }), "RangeError", /row 1, negative 1: the reward gap .* overflows float64 \(policyChosen -2, referenceChosen -1, policyRejected 1e\+308, referenceRejected -1e\+308\)/);
  });
  test("float32: a gap beyond 3.4e38 is refused; the same inputs in float64 are fine", () => {
    const as32 = (x: Float64Array) => Float32Array.from(x);
    const big = { ...good(), policyRejected: f64(3e38, -4, -5, -6, -7, -8), referenceRejected: f64(-3e38, -4, -4, -4, -4, -4) };
    const f32 = { policyChosen: as32(big.policyChosen), policyRejected: as32(big.policyRejected), referenceChosen: as32(big.referenceChosen), referenceRejected: as32(big.referenceRejected) };
    expectThrows(() => loss(f32 as never, { beta: 1 }), "RangeError", /row 0, negative 0: the reward gap .* overflows float32/);
    // A small beta does not help: policyRejected - referenceRejected itself is beyond float32.
    expectThrows(() => loss(f32 as never, { beta: 1e-10 }), "RangeError", /overflows float32/);
    const r = loss(big, { beta: 1, grad: true });
    expect(Number.isFinite(r.loss)).toBe(true);
    for (const g of [r.grad!.policyChosen, r.grad!.policyRejected]) expect(Array.from(g).every(Number.isFinite)).toBe(true);
  });
});

describe("dpoLoss argument errors (TS layer)", () => {
  const pair = () => ({ policyChosen: f64(-1), policyRejected: f64(-2), referenceChosen: f64(-1), referenceRejected: f64(-1) });
  test("one rejected per row, finite inputs, beta", () => {
    expectThrows(() => dpoLoss(good(), { beta: 1 }), "RangeError", /dpoLoss takes one rejected per row: inputs\.policyRejected must have length B = 2, got 6/);
    expectThrows(() => dpoLoss({ ...pair(), policyRejected: f64(-Infinity) }, { beta: 1 }), "RangeError", /inputs\.policyRejected\[0\] is -Infinity/);
    expectThrows(() => dpoLoss(pair(), { beta: Infinity }), "RangeError", /options\.beta .* got Infinity/);
  });
  test("device cuda without CUDA is an Error saying so", () => {
    if (native().buildInfo().cudaAvailable) return; // covered by cuda.test.ts there
    expectThrows(() => tokenLogProbs(tokens(), { device: "cuda" }), "Error", /"cuda" but CUDA is not available/);
  });
});

describe("napoLoss's own argument errors (TS layer)", () => {
  test("the good inputs work in both modes", () => {
    expect(Number.isFinite(napoLoss(good(), { beta: 1, gamma: 0.5 }).loss)).toBe(true);
    expect(Number.isFinite(napoLoss(dynamicInputs(), dynamic).loss)).toBe(true);
  });

  test("gamma, tau and mode", () => {
    expectThrows(() => napoLoss(good(), { beta: 1, gamma: -0.1 }), "RangeError", /options\.gamma must be a finite number >= 0, got -0\.1/);
    expectThrows(() => napoLoss(good(), { beta: 1, gamma: NaN }), "RangeError", /options\.gamma must be a finite number >= 0, got NaN/);
    expectThrows(() => napoLoss(good(), { beta: 1, gamma: Infinity }), "RangeError", /options\.gamma .* got Infinity/);
    expectThrows(() => napoLoss(good(), { beta: 1 } as unknown as { beta: number; gamma: number }), "TypeError", /options\.gamma must be a number, got undefined/);
    expectThrows(() => napoLoss(dynamicInputs(), { ...dynamic, tau: 0 }), "RangeError", /options\.tau must be a finite number > 0, got 0/);
    expectThrows(() => napoLoss(dynamicInputs(), { ...dynamic, tau: -1 }), "RangeError", /options\.tau must be a finite number > 0, got -1/);
    expectThrows(() => napoLoss(dynamicInputs(), { ...dynamic, tau: "1" as unknown as number }), "TypeError", /options\.tau must be a number, got string/);
    expectThrows(() => napoLoss(good(), { beta: 1, gamma: 1, mode: "soft" as "fixed" }), "RangeError", /options\.mode must be "fixed" or "dynamic", got "soft"/);
  });

  test("confidences belong to dynamic mode only, and dynamic mode needs both", () => {
    expectThrows(() => napoLoss(dynamicInputs(), { beta: 1, gamma: 1 }), "TypeError", /inputs\.chosenConfidence is only used with options\.mode "dynamic" \(mode is "fixed"\)/);
    expectThrows(() => napoLoss({ ...good(), rejectedConfidence: f64(1, 2, 3, 4, 5, 6) }, { beta: 1, gamma: 1, mode: "fixed" }), "TypeError", /inputs\.rejectedConfidence is only used with options\.mode "dynamic"/);
    expectThrows(() => napoLoss(good(), dynamic), "TypeError", /inputs\.chosenConfidence is required with options\.mode "dynamic"/);
    expectThrows(() => napoLoss({ ...good(), chosenConfidence: f64(1, 2) }, dynamic), "TypeError", /inputs\.rejectedConfidence is required with options\.mode "dynamic"/);
  });

  test("confidence types, lengths and values", () => {
    expectThrows(() => napoLoss({ ...dynamicInputs(), chosenConfidence: [1, 2] as unknown as Float64Array }, dynamic), "TypeError", /inputs\.chosenConfidence must be a Float32Array or Float64Array, got an Array/);
    expectThrows(() => napoLoss({ ...dynamicInputs(), rejectedConfidence: new Float32Array(6) as unknown as Float64Array }, dynamic), "TypeError", /inputs\.rejectedConfidence is a Float32Array but inputs\.policyChosen is a Float64Array/);
    expectThrows(() => napoLoss({ ...dynamicInputs(), chosenConfidence: f64(1) }, dynamic), "RangeError", /inputs\.chosenConfidence must have length B = 2, got 1/);
    expectThrows(() => napoLoss({ ...dynamicInputs(), rejectedConfidence: f64(1, 2, 3) }, dynamic), "RangeError", /inputs\.rejectedConfidence must have length B\*K = 6, got 3/);
    expectThrows(() => napoLoss({ ...dynamicInputs(), rejectedConfidence: f64(1, 2, NaN, 4, 5, 6) }, dynamic), "RangeError", /inputs\.rejectedConfidence\[2\] is NaN/);
    expectThrows(() => napoLoss({ ...dynamicInputs(), chosenConfidence: f64(-Infinity, 0) }, dynamic), "RangeError", /inputs\.chosenConfidence\[0\] is -Infinity/);
  });
});

describe("tokenLogProbs argument errors (TS layer)", () => {
  test("the good inputs work", () => {
    expect(tokenLogProbs(tokens()).logps).toHaveLength(2);
  });
  test("finite inputs whose logits overflow the dtype: refused naming the row, not NaN", () => {
    const f32 = (...v: number[]) => Float32Array.from(v);
    const inputs = { hidden: f32(0.1, 0.1, 3e38, 1), weight: f32(1, 1, 2, 0), labels: Int32Array.from([0, 1]), n: 2, d: 2, v: 2 };
    expectThrows(() => tokenLogProbs(inputs), "RangeError", /row 1's logits \(hidden @ weight\^T\) overflow float32/);
    // Row 1 ignored: nothing to refuse.
    expect(Number.isFinite(tokenLogProbs({ ...inputs, labels: Int32Array.from([0, -100]) }).logps[0])).toBe(true);
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
  test.each(softmaxLosses)("$name preference inputs", ({ addon: loss }) => {
    expectThrows(() => loss({ ...good(), policyRejected: f64(1, 2, 3), referenceRejected: f64(1, 2, 3) }, { beta: 1 }), "RangeError", /not a multiple of B = 2/);
    expectThrows(() => loss({ ...good(), policyRejected: f64(), referenceRejected: f64() }, { beta: 1 }), "RangeError", /K = 0/);
    expectThrows(() => loss({ ...good(), referenceRejected: f64(1, 2) }, { beta: 1 }), "RangeError", /inputs\.referenceRejected must have length B\*K = 6, got 2/);
    expectThrows(() => loss({ ...good(), mask: Uint8Array.from([0, 0, 0, 1, 0, 0]) }, { beta: 1 }), "RangeError", /mask row 0 has no real negative/);
    expectThrows(() => loss({ ...good(), policyChosen: Float32Array.from([1, 2]) as unknown as Float64Array }, { beta: 1 }), "TypeError", /inputs\.policyRejected is float64 but the other inputs are float32/);
    expectThrows(() => loss({ ...good(), policyChosen: f64(1, NaN) }, { beta: 1 }), "RangeError", /inputs\.policyChosen holds a non-finite value .* at index 1/);
    expectThrows(() => loss({ ...good() }, { beta: -1 }), "RangeError", /beta must be a finite number > 0, got -1/);
    expectThrows(() => loss(good(), { beta: 1, implementation: "x" as "fused" }), "RangeError", /options\.implementation must be "fused" or "plain"/);
  });
  test("dpo inputs", () => {
    expectThrows(() => addon().dpoLoss({ policyChosen: f64(-1), policyRejected: f64(-2), referenceChosen: f64(-1), referenceRejected: f64(-1) }, { beta: -2 }), "RangeError", /beta must be a finite number > 0, got -2/);
  });
  test("napoLoss options", () => {
    expectThrows(() => addon().napoLoss(good(), { beta: 1, gamma: -1 }), "RangeError", /gamma must be a finite number >= 0, got -1/);
    expectThrows(() => addon().napoLoss(good(), { beta: 1, gamma: 1, mode: "x" as "fixed" }), "RangeError", /options\.mode must be "fixed" or "dynamic", got "x"/);
    expectThrows(() => addon().napoLoss(dynamicInputs(), { ...dynamic, tau: 0 }), "RangeError", /tau must be a finite number > 0, got 0/);
    expectThrows(() => addon().napoLoss(dynamicInputs(), { ...dynamic, tau: NaN }), "RangeError", /options\.tau must be finite/);
    // gamma = 0 skips the margin's work, not its checks.
    expectThrows(() => addon().napoLoss(dynamicInputs(), { ...dynamic, gamma: 0, tau: 0 }), "RangeError", /tau must be a finite number > 0, got 0/);
  });
  test("napoLoss confidences", () => {
    expectThrows(() => addon().napoLoss(dynamicInputs(), { beta: 1, gamma: 1 }), "TypeError", /inputs\.chosenConfidence is only used with options\.mode "dynamic"/);
    expectThrows(() => addon().napoLoss(good(), dynamic), "TypeError", /inputs\.chosenConfidence is required/);
    expectThrows(() => addon().napoLoss({ ...dynamicInputs(), rejectedConfidence: f64(1, 2) }, dynamic), "RangeError", /inputs\.rejectedConfidence must have length B\*K = 6, got 2/);
    expectThrows(() => addon().napoLoss({ ...dynamicInputs(), chosenConfidence: Float32Array.from([1, 2]) as unknown as Float64Array }, dynamic), "TypeError", /inputs\.chosenConfidence is float32 but the other inputs are float64/);
    expectThrows(() => addon().napoLoss({ ...dynamicInputs(), chosenConfidence: f64(1, NaN) }, dynamic), "RangeError", /inputs\.chosenConfidence holds a non-finite value .* at index 1/);
  });
  test("token inputs", () => {
    expectThrows(() => addon().tokenLogProbs({ ...tokens(), labels: Int32Array.from([1, 7]) }), "RangeError", /labels\[1\] = 7 is outside \[0, 4\)/);
    expectThrows(() => addon().tokenLogProbs({ ...tokens(), labels: Int32Array.from([-3, 0]) }, { implementation: "plain" }), "RangeError", /labels\[0\] = -3 is outside/);
    expectThrows(() => addon().tokenLogProbs({ ...tokens(), hidden: new Float64Array(7) }), "RangeError", /inputs\.hidden must have length n\*d = 6, got 7/);
    expectThrows(() => addon().tokenLogProbs({ ...tokens(), labels: new Float64Array(2) as unknown as Int32Array }), "TypeError", /inputs\.labels must be int32, got float64/);
    expectThrows(() => addon().tokenLogProbs({ ...tokens(), n: -1 }), "RangeError", /inputs\.n must be a positive integer/);
  });
});
