/**
 * Preference and token losses on typed arrays: S-DPO, DPO and token log-probs (fused native kernels,
 * or the composed-ATen reference), with optional gradients. Every argument is checked here, before
 * the native call, and a bad one is a TypeError / RangeError naming it.
 */
import {
  native,
  type FloatArray,
  type OpOptions,
  type PreferenceLossInputs,
  type PreferenceLossOptions,
  type PreferenceLossResult,
  type TokenLogProbsInputs,
  type TokenLogProbsOptions,
  type TokenLogProbsResult,
} from "../native";

export type {
  OpDevice,
  OpImplementation,
  OpOptions,
  PreferenceLossInputs,
  PreferenceLossOptions,
  PreferenceLossResult,
  TokenLogProbsInputs,
  TokenLogProbsOptions,
  TokenLogProbsResult,
} from "../native";

/** "[object Float32Array]"-style tag: unlike instanceof, it holds across realms (vm contexts, workers). */
function tagOf(value: unknown): string {
  return Object.prototype.toString.call(value).slice(8, -1);
}

function isFloatArray(value: unknown): value is FloatArray {
  const tag = tagOf(value);
  return tag === "Float32Array" || tag === "Float64Array";
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (ArrayBuffer.isView(value)) return tagOf(value);
  if (Array.isArray(value)) return "an Array";
  return typeof value;
}

/** Checks a float typed array; returns its constructor name so callers can compare dtypes. */
function requireFloatArray(value: unknown, what: string): FloatArray {
  if (!isFloatArray(value)) throw new TypeError(`${what} must be a Float32Array or Float64Array, got ${describeValue(value)}`);
  return value;
}

function requireSameDtype(arrays: Array<[string, FloatArray]>): void {
  const [firstName, first] = arrays[0];
  for (const [name, array] of arrays.slice(1)) {
    if (tagOf(array) !== tagOf(first)) {
      throw new TypeError(
        `${name} is a ${tagOf(array)} but ${firstName} is a ${tagOf(first)}; all float inputs must share one dtype`
      );
    }
  }
}

function requireFiniteValues(array: FloatArray, what: string): void {
  for (let i = 0; i < array.length; i++) {
    if (!Number.isFinite(array[i])) throw new RangeError(`${what}[${i}] is ${array[i]}; inputs must be finite`);
  }
}

function requireLength(array: ArrayLike<unknown>, what: string, expected: number, meaning: string): void {
  if (array.length !== expected) throw new RangeError(`${what} must have length ${meaning} = ${expected}, got ${array.length}`);
}

function requirePositiveInteger(value: unknown, what: string): number {
  if (typeof value !== "number") throw new TypeError(`${what} must be a number, got ${describeValue(value)}`);
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${what} must be a positive integer, got ${value}`);
  return value;
}

function requireObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object, got ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

function checkOpOptions(options: OpOptions, what: string): void {
  if (options.grad !== undefined && typeof options.grad !== "boolean") {
    throw new TypeError(`${what}.grad must be a boolean, got ${describeValue(options.grad)}`);
  }
  if (options.implementation !== undefined && options.implementation !== "fused" && options.implementation !== "reference") {
    throw new RangeError(`${what}.implementation must be "fused" or "reference", got ${JSON.stringify(options.implementation)}`);
  }
  if (options.device !== undefined && options.device !== "cpu" && options.device !== "cuda") {
    throw new RangeError(`${what}.device must be "cpu" or "cuda", got ${JSON.stringify(options.device)}`);
  }
}

function checkBeta(beta: unknown): void {
  if (typeof beta !== "number") throw new TypeError(`options.beta must be a number, got ${describeValue(beta)}`);
  if (!Number.isFinite(beta) || beta <= 0) throw new RangeError(`options.beta must be a finite number > 0, got ${beta}`);
}

/** Validates preference inputs; returns K (negatives per row). */
function checkPreferenceInputs(inputs: PreferenceLossInputs, options: PreferenceLossOptions, op: "sdpoLoss" | "dpoLoss"): number {
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
  return negatives;
}

/**
 * Softmax-DPO: per row, loss = softplus(logsumexp_j(r_j - r_w)) with r = beta * (policy - reference),
 * over the K rejected (masked ones left out). Max-shifted: finite for any finite reward gap.
 * Returns the mean loss, per-row losses, rewards and (with `grad`) the gradient of the mean loss.
 */
export function sdpoLoss<T extends FloatArray>(inputs: PreferenceLossInputs<T>, options: PreferenceLossOptions): PreferenceLossResult<T> {
  checkPreferenceInputs(inputs, options, "sdpoLoss");
  return native().sdpoLoss(inputs, options);
}

/** DPO (sigmoid): per row, loss = -log sigmoid(r_w - r_l); one rejected per row (K = 1). */
export function dpoLoss<T extends FloatArray>(inputs: PreferenceLossInputs<T>, options: PreferenceLossOptions): PreferenceLossResult<T> {
  checkPreferenceInputs(inputs, options, "dpoLoss");
  return native().dpoLoss(inputs, options);
}

/**
 * Log-probability of each row's label under softmax(hidden @ weight^T), computed in row chunks
 * (no [n, v] logits kept for the backward). `sftLoss` is the mean negative log-prob over the rows
 * whose label is not `ignoreIndex` (default -100).
 */
export function tokenLogProbs<T extends FloatArray>(inputs: TokenLogProbsInputs<T>, options: TokenLogProbsOptions = {}): TokenLogProbsResult<T> {
  requireObject(inputs, "tokenLogProbs inputs");
  requireObject(options, "tokenLogProbs options");
  checkOpOptions(options, "options");
  const ignoreIndex = options.ignoreIndex ?? -100;
  if (typeof ignoreIndex !== "number" || !Number.isInteger(ignoreIndex)) {
    throw new TypeError(`options.ignoreIndex must be an integer, got ${String(options.ignoreIndex)}`);
  }
  if (options.chunkRows !== undefined && (!Number.isInteger(options.chunkRows) || options.chunkRows < 0)) {
    throw new RangeError(`options.chunkRows must be an integer >= 0, got ${options.chunkRows}`);
  }
  const n = requirePositiveInteger(inputs.n, "inputs.n");
  const d = requirePositiveInteger(inputs.d, "inputs.d");
  const v = requirePositiveInteger(inputs.v, "inputs.v");
  const hidden = requireFloatArray(inputs.hidden, "inputs.hidden");
  const weight = requireFloatArray(inputs.weight, "inputs.weight");
  requireSameDtype([
    ["inputs.hidden", hidden],
    ["inputs.weight", weight],
  ]);
  requireLength(hidden, "inputs.hidden", n * d, "n*d");
  requireLength(weight, "inputs.weight", v * d, "v*d");
  if (tagOf(inputs.labels) !== "Int32Array") throw new TypeError(`inputs.labels must be an Int32Array, got ${describeValue(inputs.labels)}`);
  requireLength(inputs.labels, "inputs.labels", n, "n");
  for (let i = 0; i < n; i++) {
    const label = inputs.labels[i];
    if (label !== ignoreIndex && (label < 0 || label >= v)) {
      throw new RangeError(`inputs.labels[${i}] = ${label} is outside [0, ${v}) and is not ignoreIndex (${ignoreIndex})`);
    }
  }
  requireFiniteValues(hidden, "inputs.hidden");
  requireFiniteValues(weight, "inputs.weight");
  return native().tokenLogProbs(inputs, options);
}
