/**
 * Internal: the addon's test hooks, typed apart from its public surface (not exported from the package). They
 * exist so tests and benches can hold kernels to their plain versions: the fused layers and optimizer update
 * on their own, the rows-per-chunk rule of token log-probs, the plain scoring and generation paths of the
 * model and its parameter gradients.
 */
import type { NativeModel, NativeGenerateOptions, NativeScoreOptions, PackedResponsesInput, ScoreResult } from "./model-types";
import type { FloatArray } from "./ops-types";
import { native } from "./load";

export interface AdamWTensors<T extends FloatArray = FloatArray> {
  param: T;
  grad: T;
  expAvg: T;
  expAvgSq: T;
}

export interface AdamWUpdateOptions {
  learningRate: number;
  /** 1-based update count, this one included (bias correction). */
  step: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Gradient multiplier (the clipping factor), applied in the same pass. Default 1. */
  gradScale?: number;
  /** "fused" (one pass, CPU float32/float64: what the trainer runs) or "plain" (composed ATen ops). */
  implementation?: "fused" | "plain";
}

export interface LayerOptions<T extends FloatArray> {
  /** "fused" (the model's CPU float32/float64 path) or "plain" (composed ATen ops). */
  implementation?: "fused" | "plain";
  /** dL/dy: when given, the result carries the input gradients. */
  gradOutput?: T;
}

export interface RopeInputs<T extends FloatArray> {
  /** B*H*T*d values in `layout` order. */
  x: T;
  /** [B, T, d] or [1, T, d] values. */
  cos: T;
  sin: T;
  batch: number;
  heads: number;
  tokens: number;
  headDim: number;
  /** "bhtd" (default) or "bthd": x laid out as a projection's output, viewed as [B, H, T, d]. */
  layout?: "bhtd" | "bthd";
}

/** The inputs of the rows-per-chunk rule of token log-probs (see tokenChunkRows). */
export interface TokenChunkArguments {
  device: "cpu" | "cuda";
  rows: number;
  vocab: number;
  /** Device memory free for a new chunk (bytes); only read for "cuda". */
  freeBytes: number;
  /** Bytes per logit: 4 (float32) or 8 (float64). */
  elementSize: 4 | 8;
  /** Rows asked for (options.chunkRows); 0 or absent: chosen by the rule. */
  requested?: number;
}

export interface NativeTestHooks {
  /** One AdamW update of one parameter; returns new arrays (the inputs are not changed). */
  adamwUpdate<T extends FloatArray>(tensors: AdamWTensors<T>, options: AdamWUpdateOptions): { param: T; expAvg: T; expAvgSq: T };
  /** RMSNorm over rows of x (length rows * D) with weight [D]; y and, with gradOutput, grad.x / grad.weight. */
  rmsNorm<T extends FloatArray>(
    inputs: { x: T; weight: T },
    options: LayerOptions<T> & { eps: number; frozenWeight?: boolean },
  ): { y: T; grad?: { x: T; weight?: T } };
  /** RoPE on x [B, H, T, d]; y and grad.x in [B, H, T, d] order. */
  applyRope<T extends FloatArray>(inputs: RopeInputs<T>, options: LayerOptions<T>): { y: T; grad?: { x: T } };
  /** Sum of grad^2 accumulated in float64 (the gradient-norm kernel of clipping). */
  gradSumSquares(grad: FloatArray, options?: { implementation?: "fused" | "plain" }): number;
  /** Rows per logits chunk token log-probs uses for these inputs when options.chunkRows is 0 (a pure function). */
  tokenChunkRows(args: TokenChunkArguments): number;
}

/** The model's slow plain paths, next to the fast ones they check. */
export interface NativeModelTestHooks extends NativeModel {
  /** `plainKernels`: each prompt+response run separately, full-vocabulary log_softmax. */
  score(batch: PackedResponsesInput, options?: NativeScoreOptions & { plainKernels?: boolean }): Promise<ScoreResult>;
  /** `plainKernels`: a full forward per token, one prompt at a time. */
  generate(
    promptIds: Int32Array,
    promptOffsets: Int32Array,
    options: NativeGenerateOptions & { plainKernels?: boolean }
  ): Promise<{ ids: Int32Array; offsets: Int32Array }>;
  /**
   * d(sum_r weights[r] * logp_r) / d(parameter) for each named parameter (frozen ones included), as float64
   * arrays laid out like getTensor: a gradient check. `train`: training mode for the call (LoRA dropout active;
   * gradient checkpointing applies); `plainKernels`: differentiate the plain path (score's) instead.
   */
  scoreGradients(
    batch: PackedResponsesInput,
    weights: Float64Array,
    names: string[],
    options?: { adapters?: boolean; train?: boolean; plainKernels?: boolean }
  ): Promise<Float64Array[]>;
}

/** The loaded addon's test hooks. */
export function nativeTestHooks(): NativeTestHooks {
  return native() as unknown as NativeTestHooks;
}

/** A native model's test hooks (every native model has them). */
export function modelTestHooks(model: NativeModel): NativeModelTestHooks {
  return model as NativeModelTestHooks;
}
