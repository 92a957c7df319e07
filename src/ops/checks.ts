/**
 * Argument checks shared by the ops' TS entry points: each failure is a TypeError / RangeError naming
 * the argument (and index) at fault, thrown before the native call.
 */
import type { FloatArray, OpOptions, PreferenceLossInputs, PreferenceLossOptions } from "../native";

/** "[object Float32Array]"-style tag: unlike instanceof, it holds across realms (vm contexts, workers). */
export function tagOf(value: unknown): string {
  return Object.prototype.toString.call(value).slice(8, -1);
}

export function isFloatArray(value: unknown): value is FloatArray {
  const tag = tagOf(value);
  return tag === "Float32Array" || tag === "Float64Array";
}

export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (ArrayBuffer.isView(value)) return tagOf(value);
  if (Array.isArray(value)) return "an Array";
  return typeof value;
}

/** Checks a float typed array; returns its constructor name so callers can compare dtypes. */
export function requireFloatArray(value: unknown, what: string): FloatArray {
  if (!isFloatArray(value)) throw new TypeError(`${what} must be a Float32Array or Float64Array, got ${describeValue(value)}`);
  // N-API cannot hand the addon a view of shared memory (napi_get_typedarray_info fails with "Invalid argument").
  if (typeof SharedArrayBuffer !== "undefined" && value.buffer instanceof SharedArrayBuffer) {
    throw new TypeError(`${what} is backed by a SharedArrayBuffer, which the native ops cannot read; pass a copy (${tagOf(value)}.from(array))`);
  }
  return value;
}

export function requireSameDtype(arrays: Array<[string, FloatArray]>): void {
  const [firstName, first] = arrays[0];
  for (const [name, array] of arrays.slice(1)) {
    if (tagOf(array) !== tagOf(first)) {
      throw new TypeError(
        `${name} is a ${tagOf(array)} but ${firstName} is a ${tagOf(first)}; all float inputs must share one dtype`
      );
    }
  }
}

export function requireFiniteValues(array: FloatArray, what: string): void {
  for (let i = 0; i < array.length; i++) {
    if (!Number.isFinite(array[i])) throw new RangeError(`${what}[${i}] is ${array[i]}; inputs must be finite`);
  }
}

export function requireLength(array: ArrayLike<unknown>, what: string, expected: number, meaning: string): void {
  if (array.length !== expected) throw new RangeError(`${what} must have length ${meaning} = ${expected}, got ${array.length}`);
}

export function requirePositiveInteger(value: unknown, what: string): number {
  if (typeof value !== "number") throw new TypeError(`${what} must be a number, got ${describeValue(value)}`);
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${what} must be a positive integer, got ${value}`);
  return value;
}

export function requireObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object, got ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

export function checkOpOptions(options: OpOptions, what: string): void {
  if (options.grad !== undefined && typeof options.grad !== "boolean") {
    throw new TypeError(`${what}.grad must be a boolean, got ${describeValue(options.grad)}`);
  }
  if (options.implementation !== undefined && options.implementation !== "fused" && options.implementation !== "plain") {
    throw new RangeError(`${what}.implementation must be "fused" or "plain", got ${JSON.stringify(options.implementation)}`);
  }
  if (options.device !== undefined && options.device !== "cpu" && options.device !== "cuda") {
    throw new RangeError(`${what}.device must be "cpu" or "cuda", got ${JSON.stringify(options.device)}`);
  }
}

export function checkBeta(beta: unknown): void {
  if (typeof beta !== "number") throw new TypeError(`options.beta must be a number, got ${describeValue(beta)}`);
  if (!Number.isFinite(beta) || beta <= 0) throw new RangeError(`options.beta must be a finite number > 0, got ${beta}`);
}

/** Validates preference inputs; returns K (negatives per row). */
export function checkPreferenceInputs(inputs: PreferenceLossInputs, options: PreferenceLossOptions, op: "sdpoLoss" | "dpoLoss" | "napoLoss"): number {
  requireObject(inputs, `${op} inputs`);
  requireObject(options, `${op} options`);
  checkBeta(options.beta);
  checkOpOptions(options, "options");
  const policyChosen = requireFloatArray(inputs.policyChosen, "inputs.policyChosen");
  const policyRejected = requireFloatArray(inputs.policyRejected, "inputs.policyRejected");
  const referenceChosen = requireFloatArray(inputs.referenceChosen, "inputs.referenceChosen");
  const referenceRejected = requireFloatArray(inputs.referenceRejected, "inputs.referenceRejected");
  requireSameDtype([
    ["inputs.policyChosen", policyChosen],
    ["inputs.policyRejected", policyRejected],
    ["inputs.referenceChosen", referenceChosen],
    ["inputs.referenceRejected", referenceRejected],
  ]);
  const rows = policyChosen.length;
  if (rows === 0) throw new RangeError("inputs.policyChosen is empty; the batch needs at least one row (B >= 1)");
  requireLength(referenceChosen, "inputs.referenceChosen", rows, "B");
  if (policyRejected.length === 0) throw new RangeError("inputs.policyRejected is empty: K = 0 negatives per row; K must be >= 1");
  if (policyRejected.length % rows !== 0) {
    throw new RangeError(
      `inputs.policyRejected has length ${policyRejected.length}, not a multiple of B = ${rows} (row-major [B][K])`
    );
  }
  const negatives = policyRejected.length / rows;
  if (op === "dpoLoss" && negatives !== 1) {
    throw new RangeError(`dpoLoss takes one rejected per row: inputs.policyRejected must have length B = ${rows}, got ${policyRejected.length}`);
  }
  requireLength(referenceRejected, "inputs.referenceRejected", rows * negatives, "B*K");
  if (inputs.mask !== undefined) {
    if (op === "dpoLoss") throw new TypeError("dpoLoss takes no inputs.mask (one rejected per row)");
    if (tagOf(inputs.mask) !== "Uint8Array") throw new TypeError(`inputs.mask must be a Uint8Array, got ${describeValue(inputs.mask)}`);
    requireLength(inputs.mask, "inputs.mask", rows * negatives, "B*K");
    for (let b = 0; b < rows; b++) {
      let real = 0;
      for (let j = 0; j < negatives; j++) real += inputs.mask[b * negatives + j] !== 0 ? 1 : 0;
      if (real === 0) throw new RangeError(`inputs.mask row ${b} has no real negative; every row needs at least one`);
    }
  }
  requireFiniteValues(policyChosen, "inputs.policyChosen");
  requireFiniteValues(policyRejected, "inputs.policyRejected");
  requireFiniteValues(referenceChosen, "inputs.referenceChosen");
  requireFiniteValues(referenceRejected, "inputs.referenceRejected");
  if (op !== "dpoLoss") requireRepresentableGaps(policyChosen, referenceChosen, policyRejected, referenceRejected, negatives, options.beta, op);
  return negatives;
}

/** The largest finite value of the arrays' dtype. */
function dtypeMax(array: FloatArray): number {
  return tagOf(array) === "Float32Array" ? 3.4028234663852886e38 : Number.MAX_VALUE;
}

/**
 * The listwise kernels compute each reward gap beta * ((policyRejected - referenceRejected) - (policyChosen -
 * referenceChosen)) in the inputs' dtype; a difference beyond its range is inf, and inf - inf is NaN in the loss and
 * every gradient. Such inputs are refused here (real log-probs are nowhere near), naming the row. DPO's kernel
 * handles +-inf gaps itself (loss inf or 0, no NaN).
 */
function requireRepresentableGaps(pc: FloatArray, rc: FloatArray, pr: FloatArray, rr: FloatArray, negatives: number, beta: number, op: string): void {
  const max = dtypeMax(pc);
  const dtype = tagOf(pc) === "Float32Array" ? "float32" : "float64";
  for (let b = 0; b < pc.length; b++) {
    const chosen = pc[b] - rc[b];
    for (let k = 0; k < negatives; k++) {
      const j = b * negatives + k;
      const rejected = pr[j] - rr[j];
      const gap = beta * (rejected - chosen);
      if (!(Math.abs(chosen) <= max && Math.abs(rejected) <= max && Math.abs(rejected - chosen) <= max && Math.abs(gap) <= max)) {
        throw new RangeError(
          `${op}: row ${b}, negative ${k}: the reward gap beta * ((policyRejected - referenceRejected) - (policyChosen - referenceChosen)) ` +
            `overflows ${dtype} (policyChosen ${pc[b]}, referenceChosen ${rc[b]}, policyRejected ${pr[j]}, referenceRejected ${rr[j]}); log-probs are far smaller`
        );
      }
    }
  }
}
