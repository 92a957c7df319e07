/** What the reporters need of a trainer: subscription to its step / eval / checkpoint events. */
import type { CheckpointEvent, EvalEvent, StepEvent } from "../trainers/types";

/** The trainers' `on` (which returns an unsubscribe function) or a Node EventEmitter's. */
export interface TrainerEventSource {
  on(event: "step", listener: (e: StepEvent) => void): unknown;
  on(event: "eval", listener: (e: EvalEvent) => void): unknown;
  on(event: "checkpoint", listener: (e: CheckpointEvent) => void): unknown;
}

type Listeners = { step?: (e: StepEvent) => void; eval?: (e: EvalEvent) => void; checkpoint?: (e: CheckpointEvent) => void };

/** Subscribes `listeners`; returns a function that unsubscribes them (via the returned unsubscribers or `off`). */
export function subscribe(trainer: TrainerEventSource, listeners: Listeners): () => void {
  const undo: (() => void)[] = [];
  const add = (name: "step" | "eval" | "checkpoint", fn: ((e: never) => void) | undefined): void => {
    if (!fn) return;
    const result = (trainer.on as (n: string, f: (e: never) => void) => unknown).call(trainer, name, fn);
    const off = (trainer as { off?: (n: string, f: (e: never) => void) => unknown }).off;
    if (typeof result === "function") undo.push(result as () => void);
    else if (typeof off === "function") undo.push(() => off.call(trainer, name, fn));
  };
  add("step", listeners.step);
  add("eval", listeners.eval);
  add("checkpoint", listeners.checkpoint);
  return () => {
    for (const fn of undo.splice(0)) fn();
  };
}
