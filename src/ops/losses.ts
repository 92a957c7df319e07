/**
 * Preference and token losses on typed arrays: S-DPO, DPO and token log-probs (fused native kernels,
 * or their plain composed-ATen versions), with optional gradients. Every argument is checked here, before
 * the native call, and a bad one is a TypeError / RangeError naming it.
 */
import {
  native,
  type FloatArray,
  type PreferenceLossInputs,
  type PreferenceLossOptions,
  type PreferenceLossResult,
  type TokenLogProbsInputs,
  type TokenLogProbsOptions,
  type TokenLogProbsResult,
} from "../native";
import {
  checkOpOptions,
  checkPreferenceInputs,
  describeValue,
  requireFiniteValues,
  requireFloatArray,
  requireLength,
  requireObject,
  requirePositiveInteger,
  requireSameDtype,
  tagOf,
} from "./checks";

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
  const result = native().tokenLogProbs(inputs, options);
  // Finite inputs can still give logits beyond the dtype's range (hidden . weight); name the row instead of
  // returning NaN.
  for (let i = 0; i < n; i++) {
    if (inputs.labels[i] !== ignoreIndex && !Number.isFinite(result.logps[i])) {
      const dtype = tagOf(hidden) === "Float32Array" ? "float32" : "float64";
      throw new RangeError(`tokenLogProbs: row ${i}'s logits (hidden @ weight^T) overflow ${dtype}, so its log-prob is ${result.logps[i]}; scale hidden or weight, or use float64`);
    }
  }
  return result;
}
