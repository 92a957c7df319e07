/**
 * NAPO loss (arXiv 2508.09653, "in-batch negative sharing + a dynamic reward margin"), our reading of it:
 * the paper's full formulas are not public. Per row b, over its real negatives j,
 *
 *   m_j = gamma                                   (mode "fixed")
 *   m_j = gamma * sigmoid((s_j - s_w) / tau)      (mode "dynamic"; s = confidence scores, no gradient)
 *   loss_b = softplus(logsumexp_j (r_j - r_w + m_j)),  r = beta * (policy - reference)
 *
 * so a negative the model is already confident about (a hard negative, high s_j) must be beaten by a
 * larger margin. gamma = 0 is S-DPO exactly. The negatives themselves (in-batch sharing) are built by
 * src/negatives/in-batch.ts.
 */
import { native, type FloatArray, type NapoLossInputs, type NapoLossOptions, type NapoLossResult } from "../native";
import { checkPreferenceInputs, describeValue, requireFiniteValues, requireFloatArray, requireLength, requireSameDtype } from "./checks";

export type { NapoLossInputs, NapoLossOptions, NapoLossResult, NapoMarginMode } from "../native";

function checkNapoOptions(options: NapoLossOptions): void {
  if (typeof options.gamma !== "number") throw new TypeError(`options.gamma must be a number, got ${describeValue(options.gamma)}`);
  if (!Number.isFinite(options.gamma) || options.gamma < 0) {
    throw new RangeError(`options.gamma must be a finite number >= 0, got ${options.gamma}`);
  }
  if (options.mode !== undefined && options.mode !== "fixed" && options.mode !== "dynamic") {
    throw new RangeError(`options.mode must be "fixed" or "dynamic", got ${JSON.stringify(options.mode)}`);
  }
  if (options.tau !== undefined) {
    if (typeof options.tau !== "number") throw new TypeError(`options.tau must be a number, got ${describeValue(options.tau)}`);
    if (!Number.isFinite(options.tau) || options.tau <= 0) throw new RangeError(`options.tau must be a finite number > 0, got ${options.tau}`);
  }
}

/**
 * NAPO per-row losses, their mean, rewards, the margins used and (with `grad`) the gradient of the mean
 * w.r.t. the policy inputs. Inputs as sdpoLoss, plus `chosenConfidence` [B] and `rejectedConfidence`
 * [B*K] in mode "dynamic" (and only then).
 */
export function napoLoss<T extends FloatArray>(inputs: NapoLossInputs<T>, options: NapoLossOptions): NapoLossResult<T> {
  const negatives = checkPreferenceInputs(inputs, options, "napoLoss");
  checkNapoOptions(options);
  const dynamic = options.mode === "dynamic";
  for (const key of ["chosenConfidence", "rejectedConfidence"] as const) {
    const given = inputs[key] !== undefined && inputs[key] !== null;
    if (!dynamic && given) throw new TypeError(`inputs.${key} is only used with options.mode "dynamic" (mode is "${options.mode ?? "fixed"}")`);
    if (dynamic && !given) throw new TypeError(`inputs.${key} is required with options.mode "dynamic"`);
  }
  if (dynamic) {
    const rows = inputs.policyChosen.length;
    const chosen = requireFloatArray(inputs.chosenConfidence, "inputs.chosenConfidence");
    const rejected = requireFloatArray(inputs.rejectedConfidence, "inputs.rejectedConfidence");
    requireSameDtype([
      ["inputs.policyChosen", inputs.policyChosen],
      ["inputs.chosenConfidence", chosen],
      ["inputs.rejectedConfidence", rejected],
    ]);
    requireLength(chosen, "inputs.chosenConfidence", rows, "B");
    requireLength(rejected, "inputs.rejectedConfidence", rows * negatives, "B*K");
    requireFiniteValues(chosen, "inputs.chosenConfidence");
    requireFiniteValues(rejected, "inputs.rejectedConfidence");
  }
  return native().napoLoss(inputs, options);
}
