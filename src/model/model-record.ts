/**
 * What this package remembers about a native model beyond its weights (where it was loaded from, its config's
 * extra fields, its LoRA settings), recorded when it is loaded or created and read again when it is saved.
 */
import type { NativeLoraConfig, NativeModel } from "../native";
import type { ConfigExtras } from "./config";

export interface ModelRecord {
  sourceDir?: string;
  /** An adapter folder the model was loaded from (its tokenizer files win over the base's). */
  adapterDir?: string;
  extras?: ConfigExtras;
  lora?: NativeLoraConfig;
  baseModelNameOrPath?: string | null;
}

const records = new WeakMap<NativeModel, ModelRecord>();

/** The record of `model`; a model nothing was recorded for gets an empty one. */
export function recordOf(model: NativeModel): ModelRecord {
  return records.get(model) ?? {};
}

export function setRecord(model: NativeModel, record: ModelRecord): void {
  records.set(model, record);
}

/** Adds LoRA adapters to the native model and records their settings (adapter_config.json needs them). */
export function addLora(model: NativeModel, lora: NativeLoraConfig): void {
  model.addLora(lora);
  records.set(model, { ...recordOf(model), lora });
}
