/**
 * Native models -> Hugging Face checkpoint folders: config.json + model.safetensors (or shards) with the
 * adapters merged in and the tokenizer files of the folder the model came from, or the LoRA adapters alone as
 * PEFT writes them. The folder is written beside its target and renamed into place (atomic.ts), so a crash
 * never leaves a half-written checkpoint where a complete one is expected.
 */
import { promises as fsp } from "fs";
import * as path from "path";
import type { Tokenizer } from "../data/tokenizer";
import type { ModelDType, NativeLoraConfig, NativeModel, ParameterInfo, SafetensorsDType } from "../native";
import { writeFileAtomic, writeFolderAtomic } from "./atomic";
import { configToJson } from "./config";
import { recordOf, type ModelRecord } from "./model-record";
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, adapterConfigJson, toPeftName } from "./peft";
import { type LazySafetensorsTensor, writeSafetensors } from "./safetensors";
import { writeShardedSafetensors } from "./sharded";
import { TOKENIZER_FILES } from "./tokenizer-file";

/** What saveModel accepts: a Model, or anything holding a native decoder (tests use stand-ins). */
export interface LoadedModel {
  native: NativeModel;
  tokenizer?: Tokenizer | unknown;
  /** The folder it was loaded from. */
  path?: string;
}

/** Anything saveModel accepts. */
export type SavableModel = NativeModel | LoadedModel | { native: NativeModel; path?: string; tokenizer?: unknown };

export interface SaveOptions {
  /** Write only adapter_config.json + adapter_model.safetensors (PEFT layout). */
  adapterOnly?: boolean;
  /** Replace an existing folder (default: refuse). */
  overwrite?: boolean;
  /** Split model.safetensors into shards above this many bytes (default 5 GB as transformers). */
  maxShardBytes?: number;
  /** LoRA settings for adapter_config.json when the adapters were not added through this module. */
  lora?: NativeLoraConfig;
  /** base_model_name_or_path for adapter_config.json (default: the folder the base was loaded from). */
  baseModelNameOrPath?: string;
}

const SAFETENSORS_DTYPE_OF: Record<ModelDType, SafetensorsDType> = { float32: "F32", float64: "F64", bfloat16: "BF16", float16: "F16" };

function safetensorsDType(dtype: ModelDType): SafetensorsDType {
  const tag = SAFETENSORS_DTYPE_OF[dtype];
  if (!tag) throw new TypeError(`unknown model dtype ${JSON.stringify(dtype)}`);
  return tag;
}

async function exists(p: string): Promise<boolean> {
  return fsp.access(p).then(
    () => true,
    () => false
  );
}

/** The native decoder inside what saveModel was given. */
export function nativeOf(model: NativeModel | LoadedModel | { native: NativeModel }): NativeModel {
  const m = model as { parameterInfo?: unknown; native?: NativeModel };
  // A Model wrapper also has parameterInfo(): look for the wrapped decoder first.
  if (m.native && typeof m.native.parameterInfo === "function") return m.native;
  if (typeof m.parameterInfo === "function") return model as NativeModel;
  throw new TypeError("saveModel: expected a model (a NativeModel or an object with .native)");
}

/**
 * Writes a checkpoint folder: config.json + model.safetensors (adapters merged in), tokenizer files of
 * the folder it came from; or, with `adapterOnly`, the PEFT adapter files. Everything is written to a
 * temp folder beside `dir` and renamed into place.
 */
export async function saveModel(model: SavableModel, dir: string, options: SaveOptions = {}): Promise<void> {
  const nativeModel = nativeOf(model);
  if (nativeModel.disposed) throw new Error("saveModel: the model has been disposed");
  const target = path.resolve(dir);
  await writeFolderAtomic(target, { overwrite: options.overwrite === true, caller: "saveModel" }, (temp) => writeModelFolder(model, temp, options));
}

/**
 * saveModel's files written straight into the existing folder `dir`, for a caller that makes the whole folder
 * atomic itself (a trainer checkpoint holds the model files and more).
 */
export async function writeModelFolder(model: SavableModel, dir: string, options: Omit<SaveOptions, "overwrite"> = {}): Promise<void> {
  const nativeModel = nativeOf(model);
  if (nativeModel.disposed) throw new Error("saveModel: the model has been disposed");
  const record = recordOf(nativeModel);
  const wrapperPath = (model as { path?: string }).path;
  const tokenizerDirs = [record.adapterDir, record.sourceDir ?? (wrapperPath ? path.resolve(wrapperPath) : undefined)];
  const params = nativeModel.parameterInfo();
  if (options.adapterOnly) await writeAdapterFiles(nativeModel, params, dir, record, options);
  else await writeModelFiles(nativeModel, params, dir, record, options, (model as { tokenizer?: unknown }).tokenizer);
  await copyTokenizerFiles(tokenizerDirs, dir, (model as { tokenizer?: unknown }).tokenizer, options.adapterOnly === true);
}

async function writeModelFiles(
  model: NativeModel,
  params: ParameterInfo[],
  dir: string,
  record: ModelRecord,
  options: Omit<SaveOptions, "overwrite">,
  tokenizer: unknown
): Promise<void> {
  const config = model.config;
  const extras = { ...(record.extras ?? {}) };
  if (extras.raw) {
    // Carry through the fields this package does not interpret, but not stale dtype or quantisation notes.
    const raw = { ...extras.raw };
    for (const stale of ["torch_dtype", "dtype", "quantization_config", "_name_or_path", "transformers_version"]) delete raw[stale];
    extras.raw = raw;
  }
  // A model created from scratch knows its EOS only through its tokenizer (src/data's wrapper: eosId).
  const eosId = (tokenizer as { eosId?: unknown } | undefined)?.eosId;
  if (extras.eosTokenId === undefined && typeof eosId === "number") extras.eosTokenId = eosId;
  const configJson = configToJson(config, { ...extras, dtype: model.dtype });
  await writeFileAtomic(path.join(dir, "config.json"), JSON.stringify(configJson, null, 2) + "\n");
  // Copied out of the model one at a time as the writer reaches them.
  const tensors: LazySafetensorsTensor[] = params
    .filter((p) => !p.isAdapter && !(config.tie_word_embeddings && p.name === "lm_head.weight")) // tied: HF stores the embedding only
    .map((p) => ({
      name: p.name,
      dtype: safetensorsDType(p.dtype),
      shape: p.shape,
      load: () => {
        const t = model.getTensor(p.name, { merged: true });
        if (t.dtype !== safetensorsDType(p.dtype)) throw new Error(`saveModel: getTensor("${p.name}") returned ${t.dtype}, parameterInfo says ${p.dtype}`);
        return t.data;
      },
    }));
  await writeShardedSafetensors(dir, tensors, { maxShardBytes: options.maxShardBytes, metadata: { format: "pt" } });
}

async function writeAdapterFiles(
  model: NativeModel,
  params: ParameterInfo[],
  dir: string,
  record: ModelRecord,
  options: Omit<SaveOptions, "overwrite">
): Promise<void> {
  const adapters = params.filter((p) => p.isAdapter);
  if (adapters.length === 0) throw new Error("saveModel: adapterOnly, but the model has no LoRA adapters");
  const lora = options.lora ?? record.lora;
  if (!lora) throw new Error("saveModel: the adapters' settings are unknown (added outside loadModel/createModel/addLoraAdapters); pass { lora }");
  const base = options.baseModelNameOrPath ?? record.baseModelNameOrPath ?? null;
  const config = adapterConfigJson(lora, base);
  await writeFileAtomic(path.join(dir, ADAPTER_CONFIG_FILE), JSON.stringify(config, null, 2) + "\n");
  const tensors = adapters.map((p) => {
    const t = model.getTensor(p.name);
    return { name: toPeftName(p.name), dtype: t.dtype, shape: t.shape, data: t.data };
  });
  await writeSafetensors(path.join(dir, ADAPTER_WEIGHTS_FILE), tensors, { format: "pt" });
}

/** Copies each tokenizer file from the first of `sourceDirs` that has it (an adapter's own, then its base's). */
async function copyTokenizerFiles(sourceDirs: (string | undefined)[], dir: string, tokenizer: unknown, adapterOnly: boolean): Promise<void> {
  let copiedTokenizer = false;
  for (const name of TOKENIZER_FILES) {
    if (adapterOnly && name === "generation_config.json") continue;
    for (const sourceDir of sourceDirs) {
      if (!sourceDir) continue;
      const from = path.join(sourceDir, name);
      if (!(await exists(from))) continue;
      await fsp.copyFile(from, path.join(dir, name));
      const handle = await fsp.open(path.join(dir, name), "r+");
      await handle.sync().finally(() => handle.close());
      if (name === "tokenizer.json") copiedTokenizer = true;
      break;
    }
  }
  if (copiedTokenizer || !tokenizer) return;
  // A tokenizer not loaded from the source folder: copy the file it came from (src/data's wrapper keeps
  // it as `source`), or serialise an in-memory one (the tokenizers package's `save`).
  const { source, save } = tokenizer as { source?: unknown; save?: (file: string, pretty?: boolean) => void };
  if (typeof source === "string" && source.endsWith(".json") && (await exists(source))) {
    await fsp.copyFile(source, path.join(dir, "tokenizer.json"));
  } else if (typeof save === "function") {
    save.call(tokenizer, path.join(dir, "tokenizer.json"), false);
  }
}
