/**
 * LoRA adapters in the layout PEFT reads and writes: adapter_config.json + adapter_model.safetensors,
 * tensor names "base_model.model.<module>.lora_A.weight" / ".lora_B.weight" (no adapter name),
 * lora_A [r, in], lora_B [out, r], scaling alpha / r.
 */
import type { NativeLoraConfig } from "../native";
import { readRegularFile } from "../regular-file";

export const ADAPTER_CONFIG_FILE = "adapter_config.json";
export const ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors";
export const PEFT_PREFIX = "base_model.model.";

export const LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] as const;

export interface LoraOptions {
  rank?: number;
  alpha?: number;
  dropout?: number;
  targets?: string[];
}

/** Fills in defaults (rank 8, alpha 16, no dropout, every linear layer) and checks the values. */
export function resolveLoraConfig(options: LoraOptions | true): NativeLoraConfig {
  const o = options === true ? {} : options;
  const config: NativeLoraConfig = {
    rank: o.rank ?? 8,
    alpha: o.alpha ?? 2 * (o.rank ?? 8),
    dropout: o.dropout ?? 0,
    targets: o.targets ? [...o.targets] : [...LORA_TARGETS],
  };
  if (!(Number.isSafeInteger(config.rank) && config.rank > 0)) throw new RangeError(`lora.rank must be a positive integer, got ${config.rank}`);
  if (!(Number.isFinite(config.alpha) && config.alpha > 0)) throw new RangeError(`lora.alpha must be a positive number, got ${config.alpha}`);
  if (!(config.dropout >= 0 && config.dropout < 1)) throw new RangeError(`lora.dropout must be in [0, 1), got ${config.dropout}`);
  if (config.targets.length === 0) throw new RangeError("lora.targets must name at least one layer");
  for (const t of config.targets) {
    if (!(LORA_TARGETS as readonly string[]).includes(t)) {
      throw new RangeError(`lora.targets: unknown layer ${JSON.stringify(t)} (expected some of ${LORA_TARGETS.join(", ")})`);
    }
  }
  return config;
}

/** adapter_config.json as PEFT writes it for a LoRA on a causal LM. */
export function adapterConfigJson(lora: NativeLoraConfig, baseModelNameOrPath: string | null): Record<string, unknown> {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModelNameOrPath,
    bias: "none",
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: lora.alpha,
    lora_dropout: lora.dropout,
    modules_to_save: null,
    peft_type: "LORA",
    r: lora.rank,
    rank_pattern: {},
    revision: null,
    target_modules: [...lora.targets].sort(),
    task_type: "CAUSAL_LM",
    use_dora: false,
    use_rslora: false,
  };
}

/** Reads adapter_config.json, refusing the PEFT features the decoder does not implement. */
export async function readAdapterConfig(file: string): Promise<{ lora: NativeLoraConfig; baseModelNameOrPath: string | null }> {
  const fail = (what: string): never => {
    throw new Error(`${file}: ${what}`);
  };
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await readRegularFile(file));
  } catch (err) {
    return fail(`cannot read as JSON (${(err as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) fail("must be a JSON object");
  if (raw.peft_type !== "LORA") fail(`"peft_type" ${JSON.stringify(raw.peft_type)} is not supported (only "LORA")`);
  if (raw.task_type !== undefined && raw.task_type !== null && raw.task_type !== "CAUSAL_LM") {
    fail(`"task_type" ${JSON.stringify(raw.task_type)} is not supported (only "CAUSAL_LM")`);
  }
  const unsupported: [string, (v: unknown) => boolean][] = [
    ["use_dora", (v) => v === true],
    ["use_rslora", (v) => v === true],
    ["fan_in_fan_out", (v) => v === true],
    ["bias", (v) => v !== undefined && v !== "none"],
    ["modules_to_save", (v) => Array.isArray(v) && v.length > 0],
    ["layers_to_transform", (v) => v !== undefined && v !== null],
    ["rank_pattern", (v) => typeof v === "object" && v !== null && Object.keys(v).length > 0],
    ["alpha_pattern", (v) => typeof v === "object" && v !== null && Object.keys(v).length > 0],
  ];
  for (const [field, isUnsupported] of unsupported) {
    if (isUnsupported(raw[field])) fail(`"${field}": ${JSON.stringify(raw[field])} is not supported`);
  }
  const targets = raw.target_modules;
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === "string")) {
    fail(`"target_modules" must be a list of layer names, got ${JSON.stringify(targets)}`);
  }
  let lora: NativeLoraConfig;
  try {
    lora = resolveLoraConfig({
      rank: raw.r as number,
      alpha: (raw.lora_alpha as number | undefined) ?? 8,
      dropout: (raw.lora_dropout as number | undefined) ?? 0,
      targets: targets as string[],
    });
  } catch (err) {
    return fail((err as Error).message);
  }
  const base = raw.base_model_name_or_path;
  return { lora, baseModelNameOrPath: typeof base === "string" && base.length > 0 ? base : null };
}

/** PEFT file key of a native adapter parameter, and back (null when the key is not an adapter tensor). */
export function toPeftName(nativeName: string): string {
  return PEFT_PREFIX + nativeName;
}

export function fromPeftName(peftName: string): string | null {
  if (!peftName.startsWith(PEFT_PREFIX)) return null;
  // Some PEFT versions keep the adapter name: "...lora_A.default.weight".
  return peftName.slice(PEFT_PREFIX.length).replace(/\.(lora_[AB])\.default\.weight$/, ".$1.weight");
}

/**
 * The adapter file's tensors hold the rank adapter_config.json claims (lora_A [r, in], lora_B [out, r]), checked
 * from the safetensors header before any adapter is allocated: a hostile "r" cannot size the model.
 */
export function checkAdapterRanks(shapes: Map<string, readonly number[]>, rank: number, configFile: string, weightsFile: string): void {
  let seen = 0;
  for (const [name, shape] of shapes) {
    const native = fromPeftName(name);
    const side = native && /\.lora_([AB])\.weight$/.exec(native)?.[1];
    if (!side) continue;
    seen++;
    const r = shape.length === 2 ? (side === "A" ? shape[0] : shape[1]) : undefined;
    if (r !== rank) {
      throw new Error(`${weightsFile}: tensor "${name}" has shape [${shape}], not the rank ${rank} ("r") of ${configFile}`);
    }
  }
  if (seen === 0) throw new Error(`${weightsFile}: holds no LoRA tensors (lora_A / lora_B)`);
}
