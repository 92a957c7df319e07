/** A small typed event emitter for the trainers: on('step' | 'eval' | 'checkpoint', listener). */
import type { CheckpointEvent, EvalEvent, StepEvent } from "./types";

export interface TrainerEventMap {
  step: StepEvent;
  eval: EvalEvent;
  checkpoint: CheckpointEvent;
}

export type TrainerEventName = keyof TrainerEventMap;
export type Listener<E extends TrainerEventName> = (event: TrainerEventMap[E]) => void;

export class TrainerEvents {
  private readonly listeners: { [E in TrainerEventName]: Listener<E>[] } = { step: [], eval: [], checkpoint: [] };

  /** Adds a listener; returns a function that removes it. */
  on<E extends TrainerEventName>(event: E, listener: Listener<E>): () => void {
    const list = this.listeners[event] as Listener<E>[] | undefined;
    if (!list) throw new RangeError(`unknown trainer event '${String(event)}' (step, eval, checkpoint)`);
    list.push(listener);
    return () => this.off(event, listener);
  }

  off<E extends TrainerEventName>(event: E, listener: Listener<E>): void {
    const list = this.listeners[event] as Listener<E>[];
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
  }

  /** Calls the listeners in order; a throwing listener stops training (the error propagates from fit()). */
  emit<E extends TrainerEventName>(event: E, payload: TrainerEventMap[E]): void {
    for (const listener of [...(this.listeners[event] as Listener<E>[])]) listener(payload);
  }
}
