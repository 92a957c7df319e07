/** What the reporters need of a trainer: subscription to its step / eval / checkpoint events. */
import type { CheckpointEvent, EvalEvent, StepEvent } from "../trainers/types";

export interface TrainerEventSource {
  on(event: "step", listener: (e: StepEvent) => void): unknown;
  on(event: "eval", listener: (e: EvalEvent) => void): unknown;
  on(event: "checkpoint", listener: (e: CheckpointEvent) => void): unknown;
  off?(event: "step" | "eval" | "checkpoint", listener: (e: never) => void): unknown;
}

/** Subscribes `listeners`, returning a function that unsubscribes them where the trainer supports `off`. */
export function subscribe(
  trainer: TrainerEventSource,
  listeners: { step?: (e: StepEvent) => void; eval?: (e: EvalEvent) => void; checkpoint?: (e: CheckpointEvent) => void }
): () => void {
  if (listeners.step) trainer.on("step", listeners.step);
  if (listeners.eval) trainer.on("eval", listeners.eval);
  if (listeners.checkpoint) trainer.on("checkpoint", listeners.checkpoint);
  return () => {
    if (!trainer.off) return;
    for (const name of ["step", "eval", "checkpoint"] as const) {
      const fn = listeners[name];
      if (fn) trainer.off(name, fn as (e: never) => void);
    }
  };
}
