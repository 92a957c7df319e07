/** Types of the loss ops (native/binding/ops_binding.cpp): inputs, options and results on typed arrays. */

/** Float arrays accepted by the ops; results come back in the dtype of the inputs. */
export type FloatArray = Float32Array | Float64Array;

/** Which implementation an op runs: the fused kernels (default) or the plain composed-ATen version they are held to. */
export type OpImplementation = "fused" | "plain";
export type OpDevice = "cpu" | "cuda";

export interface PreferenceLossInputs<T extends FloatArray = FloatArray> {
  /** [B] policy log-probabilities of the chosen responses. */
  policyChosen: T;
  /** [B*K] row-major [B][K] policy log-probabilities of the rejected responses (K = 1 for DPO). */
  policyRejected: T;
  referenceChosen: T;
  referenceRejected: T;
  /** [B*K], nonzero = real negative (S-DPO only); absent: all K are real. */
  mask?: Uint8Array;
}

export interface OpOptions {
  /** Also return the gradient of the mean loss. Default false. */
  grad?: boolean;
  implementation?: OpImplementation;
  device?: OpDevice;
}

export interface PreferenceLossOptions extends OpOptions {
  beta: number;
}

export interface PreferenceLossResult<T extends FloatArray = FloatArray> {
  /** Mean of `losses`. */
  loss: number;
  /** [B] per-row losses. */
  losses: T;
  /** [B] beta * (policyChosen - referenceChosen). */
  chosenRewards: T;
  /** [B*K] beta * (policyRejected - referenceRejected); NaN where `mask` is 0 (no negative there). */
  rejectedRewards: T;
  /** Gradient of `loss` (the mean) w.r.t. the policy inputs. */
  grad?: { policyChosen: T; policyRejected: T };
}

export interface TokenLogProbsInputs<T extends FloatArray = FloatArray> {
  /** [n*d] row-major [n][d] hidden states. */
  hidden: T;
  /** [v*d] row-major [v][d] LM-head weight. */
  weight: T;
  /** [n] target token ids in [0, v) or ignoreIndex. */
  labels: Int32Array;
  n: number;
  d: number;
  v: number;
}

export interface TokenLogProbsOptions extends OpOptions {
  /** Label value that marks a row as not counted (log-prob 0, no gradient). Default -100. */
  ignoreIndex?: number;
  /** Rows per logits chunk in the fused path; 0 or absent: chosen from v. */
  chunkRows?: number;
}

export interface TokenLogProbsResult<T extends FloatArray = FloatArray> {
  /** [n] log softmax(hidden @ weight^T)[i, labels[i]], 0 for ignored rows. */
  logps: T;
  /** Mean negative log-prob over the non-ignored rows (0 if every row is ignored). */
  sftLoss: number;
  /** Gradient of `sftLoss`. */
  grad?: { hidden: T; weight: T };
}

/** How NAPO sets each negative's reward margin: a constant, or scaled by the confidence on that negative. */
export type NapoMarginMode = "fixed" | "dynamic";

export interface NapoLossInputs<T extends FloatArray = FloatArray> extends PreferenceLossInputs<T> {
  /** [B] confidence score of each chosen response (dynamic mode only), e.g. a log-prob. No gradient. */
  chosenConfidence?: T;
  /** [B*K] confidence score of each negative (dynamic mode only), same scale as chosenConfidence. */
  rejectedConfidence?: T;
}

export interface NapoLossOptions extends PreferenceLossOptions {
  /** Margin scale, finite and >= 0; 0 makes NAPO exactly S-DPO. */
  gamma: number;
  /** "fixed": m_j = gamma; "dynamic": m_j = gamma * sigmoid((s_j - s_w) / tau). Default "fixed". */
  mode?: NapoMarginMode;
  /** Temperature of the dynamic margin's sigmoid, finite and > 0. Default 1. */
  tau?: number;
}

export interface NapoLossResult<T extends FloatArray = FloatArray> extends PreferenceLossResult<T> {
  /** [B*K] the margin added to each negative's reward gap (0 where masked). */
  margins: T;
}

export interface NativeOps {
  sdpoLoss<T extends FloatArray>(inputs: PreferenceLossInputs<T>, options: PreferenceLossOptions): PreferenceLossResult<T>;
  dpoLoss<T extends FloatArray>(inputs: PreferenceLossInputs<T>, options: PreferenceLossOptions): PreferenceLossResult<T>;
  napoLoss<T extends FloatArray>(inputs: NapoLossInputs<T>, options: NapoLossOptions): NapoLossResult<T>;
  tokenLogProbs<T extends FloatArray>(inputs: TokenLogProbsInputs<T>, options?: TokenLogProbsOptions): TokenLogProbsResult<T>;
}
