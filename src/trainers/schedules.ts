/**
 * Learning-rate schedules, as Hugging Face transformers defines them (get_*_schedule_with_warmup):
 * a linear warmup from 0 over the first `warmupSteps`, then
 *   constant: lr
 *   linear:   lr * (total - step) / (total - warmup)                 (down to 0 at the end)
 *   cosine:   lr * 0.5 * (1 + cos(pi * (step - warmup) / (total - warmup)))
 * `step` counts optimizer steps already taken: the update number s + 1 uses lrAt(s).
 */
import type { LrSchedulerType } from "./types";

export interface ScheduleOptions {
  type: LrSchedulerType;
  learningRate: number;
  totalSteps: number;
  warmupSteps: number;
}

/** Warmup steps for a ratio of the total, rounded up as transformers does. */
export function warmupStepsFor(warmupRatio: number, totalSteps: number): number {
  if (!(warmupRatio >= 0 && warmupRatio <= 1)) throw new RangeError(`warmupRatio must be in [0, 1], got ${warmupRatio}`);
  return Math.ceil(warmupRatio * totalSteps);
}

export function learningRateAt(step: number, options: ScheduleOptions): number {
  const { type, learningRate, totalSteps, warmupSteps } = options;
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`step must be a whole number >= 0, got ${step}`);
  if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new RangeError(`totalSteps must be a whole number >= 1, got ${totalSteps}`);
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) throw new RangeError(`warmupSteps must be a whole number >= 0, got ${warmupSteps}`);
  if (type !== "constant" && type !== "linear" && type !== "cosine") {
    throw new RangeError(`lrSchedulerType must be cosine, linear or constant, got ${String(type)}`);
  }
  if (step < warmupSteps) return (learningRate * step) / Math.max(1, warmupSteps);
  const decaySteps = Math.max(1, totalSteps - warmupSteps);
  const progress = Math.min(1, (step - warmupSteps) / decaySteps);
  switch (type) {
    case "constant":
      return learningRate;
    case "linear":
      return learningRate * Math.max(0, 1 - progress);
    case "cosine":
      return learningRate * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
  }
}
