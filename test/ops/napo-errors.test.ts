/** NAPO bad inputs: a TypeError / RangeError naming the argument, from the TS layer and from the addon itself. */
import { native } from "../../src/native";
import { napoLoss } from "../../src/ops/napo";
import { expectThrows } from "../helpers";

const f64 = (...values: number[]) => Float64Array.from(values);
const good = () => ({
  policyChosen: f64(-1, -2),
  policyRejected: f64(-3, -4, -5, -6, -7, -8), // B = 2, K = 3
  referenceChosen: f64(-1, -1),
  referenceRejected: f64(-4, -4, -4, -4, -4, -4),
});
const dynamicInputs = () => ({ ...good(), chosenConfidence: f64(-1, -2), rejectedConfidence: f64(-1, -2, -3, -4, -5, -6) });
const dynamic = { beta: 1, gamma: 1, mode: "dynamic" as const };

describe("napoLoss argument errors (TS layer)", () => {
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
    expectThrows(() => napoLoss(good(), { beta: 0, gamma: 1 }), "RangeError", /options\.beta must be a finite number > 0, got 0/);
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

  test("the S-DPO input checks apply", () => {
    expectThrows(() => napoLoss({ ...good(), mask: Uint8Array.from([1, 1, 1, 0, 0, 0]) }, { beta: 1, gamma: 1 }), "RangeError", /inputs\.mask row 1 has no real negative/);
    expectThrows(() => napoLoss({ ...good(), referenceRejected: f64(1) }, { beta: 1, gamma: 1 }), "RangeError", /inputs\.referenceRejected must have length B\*K = 6, got 1/);
    expectThrows(() => napoLoss(null as unknown as ReturnType<typeof good>, { beta: 1, gamma: 1 }), "TypeError", /napoLoss inputs must be an object/);
  });
});

// The addon checks again at its own boundary: a caller that skips the TS layer gets errors, not crashes.
describe("the addon's own napoLoss checks", () => {
  const addon = () => native();
  test("options", () => {
    expectThrows(() => addon().napoLoss(good(), { beta: 1, gamma: -1 }), "RangeError", /gamma must be a finite number >= 0, got -1/);
    expectThrows(() => addon().napoLoss(good(), { beta: 1, gamma: 1, mode: "x" as "fixed" }), "RangeError", /options\.mode must be "fixed" or "dynamic", got "x"/);
    expectThrows(() => addon().napoLoss(dynamicInputs(), { ...dynamic, tau: 0 }), "RangeError", /tau must be a finite number > 0, got 0/);
    expectThrows(() => addon().napoLoss(dynamicInputs(), { ...dynamic, tau: NaN }), "RangeError", /options\.tau must be finite/);
    expectThrows(() => addon().napoLoss(good(), { beta: -1, gamma: 1 }), "RangeError", /beta must be a finite number > 0, got -1/);
  });
  test("inputs", () => {
    expectThrows(() => addon().napoLoss(dynamicInputs(), { beta: 1, gamma: 1 }), "TypeError", /inputs\.chosenConfidence is only used with options\.mode "dynamic"/);
    expectThrows(() => addon().napoLoss(good(), dynamic), "TypeError", /inputs\.chosenConfidence is required/);
    expectThrows(() => addon().napoLoss({ ...dynamicInputs(), rejectedConfidence: f64(1, 2) }, dynamic), "RangeError", /inputs\.rejectedConfidence must have length B\*K = 6, got 2/);
    expectThrows(() => addon().napoLoss({ ...dynamicInputs(), chosenConfidence: Float32Array.from([1, 2]) as unknown as Float64Array }, dynamic), "TypeError", /inputs\.chosenConfidence is float32 but the other inputs are float64/);
    expectThrows(() => addon().napoLoss({ ...dynamicInputs(), chosenConfidence: f64(1, NaN) }, dynamic), "RangeError", /inputs\.chosenConfidence holds a non-finite value .* at index 1/);
    expectThrows(() => addon().napoLoss({ ...good(), mask: Uint8Array.from([0, 0, 0, 1, 0, 0]) }, { beta: 1, gamma: 1 }), "RangeError", /mask row 0 has no real negative/);
    expectThrows(() => addon().napoLoss({ ...good(), policyRejected: f64(1, 2, 3), referenceRejected: f64(1, 2, 3) }, { beta: 1, gamma: 1 }), "RangeError", /not a multiple of B = 2/);
  });
});
