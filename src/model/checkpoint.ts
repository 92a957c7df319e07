/**
 * Hugging Face checkpoint folders <-> native models.
 *
 * loadModel:   config.json + model.safetensors (or shards + index) [+ tokenizer.json], or a PEFT adapter folder.
 * createModel: a randomly initialised model from a config (training from scratch).
 * saveModel:   the same layout back (merged weights), or the LoRA adapters alone as PEFT writes them (save.ts;
 *              re-exported here, the module callers know).
 *
 * Loading checks names and shapes both ways (every parameter present, nothing unexpected) before trusting
 * a checkpoint.
 */
import { promises as fsp } from "fs";
import * as path from "path";
import type { Tokenizer } from "../data/tokenizer";
import { Model } from "./model";
import { DeviceName, ModelDType, native, NativeLoraConfig, NativeModel, NativeModelConfig, NativeModelConstructor, ParameterInfo, SafetensorsDType } from "../native";
import { readConfigFile } from "./config";
import { addLora, recordOf, setRecord } from "./model-record";
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, checkAdapterRanks, fromPeftName, LoraOptions, readAdapterConfig, resolveLoraConfig } from "./peft";
import { nativeOf, type LoadedModel } from "./save";
import { openSafetensors, SafetensorsFile } from "./safetensors";
import { openCheckpointTensors } from "./sharded";
import { loadTokenizerFile } from "./tokenizer-file";
import { firstNonFinite } from "./finite";
import { checkConfigAgainstCheckpoint } from "./parameter-shapes";

export { saveModel } from "./save";
export type { LoadedModel, SaveOptions } from "./save";


export interface ModelOptions {
  device?: DeviceName;
  /** Parameter dtype; checkpoints in f32/f16/bf16 are converted on load. Default float32. */
  dtype?: ModelDType;
  /** Add fresh LoRA adapters (B = 0, so the model starts equal to the base). */
  lora?: LoraOptions | true;
  /** The native class to build; defaults to the addon's Model (tests pass a stand-in). */
  modelClass?: NativeModelConstructor;
}

export interface LoadOptions extends ModelOptions {
  /** Load weights holding NaN or infinities (refused by default: every score would be NaN). */
  allowNonFinite?: boolean;
  /** For an adapter folder: the base checkpoint, instead of adapter_config.json's base_model_name_or_path. */
  baseModel?: string;
  /** Load tokenizer.json when present (default true). */
  tokenizer?: boolean;
}



/** Tensors a checkpoint may hold that are not parameters (buffers older transformers saved). */
const IGNORABLE_TENSORS = [/(^|\.)rotary_emb\.inv_freq$/];

const FLOAT_DTYPES: readonly SafetensorsDType[] = ["F32", "F16", "BF16", "F64"];

const DTYPE_BYTES: Record<ModelDType, number> = { float32: 4, float64: 8, bfloat16: 2, float16: 2 };


async function exists(p: string): Promise<boolean> {
  return fsp.access(p).then(
    () => true,
    () => false
  );
}

function construct(config: NativeModelConfig, options: ModelOptions & { seed?: number }): NativeModel {
  const ModelClass = options.modelClass ?? native().Model;
  return new ModelClass(config, { device: options.device ?? "cpu", dtype: options.dtype ?? "float32", seed: options.seed });
}


/** Names for an error message: all of them up to a screenful, then a count. */
function listNames(names: string[], limit = 40): string {
  return names.length <= limit ? names.join(", ") : `${names.slice(0, limit).join(", ")}, ... and ${names.length - limit} more`;
}

/** Copies tensors from files into the model's parameters, after checking names, shapes and dtypes both ways. */
async function loadTensors(
  model: NativeModel,
  expected: ParameterInfo[],
  sources: Map<string, SafetensorsFile>,
  where: string,
  nameOf: (fileName: string) => string | null,
  ignorable: (fileName: string) => boolean,
  allowNonFinite: boolean
): Promise<void> {
  const wanted = new Map(expected.map((p) => [p.name, p]));
  const found = new Map<string, string>(); // parameter name -> file tensor name
  const unexpected: string[] = [];
  for (const fileName of sources.keys()) {
    const name = nameOf(fileName);
    if (name !== null && wanted.has(name)) {
      if (found.has(name)) throw new Error(`${where}: tensors "${found.get(name)}" and "${fileName}" both hold parameter "${name}"`);
      found.set(name, fileName);
    } else if (!ignorable(fileName)) unexpected.push(fileName);
  }
  const missing = [...wanted.keys()].filter((n) => !found.has(n));
  if (missing.length > 0) {
    throw new Error(`${where}: ${missing.length} parameter(s) missing from the checkpoint: ${listNames(missing)}`);
  }
  if (unexpected.length > 0) {
    throw new Error(`${where}: ${unexpected.length} unexpected tensor(s) the model has no parameter for: ${listNames(unexpected.sort())}`);
  }
  for (const [name, fileName] of found) {
    const file = sources.get(fileName)!;
    const info = file.info(fileName);
    const param = wanted.get(name)!;
    if (!FLOAT_DTYPES.includes(info.dtype)) {
      throw new Error(`${file.path}: tensor "${fileName}" has dtype ${info.dtype}; parameters need F32, F16, BF16 or F64`);
    }
    if (info.shape.length !== param.shape.length || info.shape.some((d, i) => d !== param.shape[i])) {
      throw new Error(`${file.path}: tensor "${fileName}" has shape [${info.shape}] but the model expects [${param.shape}]`);
    }
    const tensor = await file.read(fileName);
    if (!allowNonFinite) {
      const at = firstNonFinite(tensor.dtype, tensor.data as Uint8Array);
      if (at >= 0) {
        throw new Error(
          `${file.path}: tensor "${fileName}" holds a non-finite value (NaN or infinity) at element ${at}; ` +
            "a model with it scores NaN. Pass allowNonFinite: true (sdpo train --allow-non-finite-weights) to load it anyway"
        );
      }
    }
    model.setTensor(name, tensor.dtype, tensor.shape, tensor.data as Uint8Array);
  }
}

/**
 * Loads a Hugging Face checkpoint folder. A folder holding adapter_config.json is a PEFT adapter: its
 * base (config.json in the same folder, `options.baseModel`, or base_model_name_or_path) is loaded first
 * and the adapters are added on top.
 */
export async function loadModel(dir: string, options: LoadOptions = {}): Promise<Model> {
  const folder = path.resolve(dir);
  if (await exists(path.join(folder, ADAPTER_CONFIG_FILE))) return loadAdapterFolder(folder, options);
  const model = await loadBaseWeights(folder, options);
  try {
    if (options.lora) addLora(model, resolveLoraConfig(options.lora));
    const tokenizer = options.tokenizer === false ? undefined : await maybeTokenizer(folder);
    return new Model(model, { tokenizer, path: folder });
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/** config.json + model weights of `folder` into a new native model (adapter files, if any, are left alone). */
async function loadBaseWeights(folder: string, options: LoadOptions): Promise<NativeModel> {
  const configPath = path.join(folder, "config.json");
  if (!(await exists(configPath))) throw new Error(`loadModel: ${folder} has no config.json (nor ${ADAPTER_CONFIG_FILE})`);
  const { config, extras } = await readConfigFile(configPath);
  const checkpoint = await openCheckpointTensors(folder);
  // A tied head has no parameter of its own; some exports still store a copy, which is ignored.
  const tiedHead = (name: string) => config.tie_word_embeddings && name === "lm_head.weight";
  const ignorable = (name: string) => IGNORABLE_TENSORS.some((re) => re.test(name)) || tiedHead(name);
  const dtype = options.dtype ?? "float32";
  const shapes = new Map([...checkpoint.sources].map(([name, file]) => [name, file.info(name).shape]));
  checkConfigAgainstCheckpoint(config, configPath, { shapes, ignorable, fileOf: (name) => checkpoint.sources.get(name)?.path ?? folder }, DTYPE_BYTES[dtype] ?? 4, `loadModel ${folder}`);
  const model = construct(config, { ...options, dtype });
  try {
    setRecord(model, { sourceDir: folder, extras, baseModelNameOrPath: folder });
    await loadTensors(
      model,
      model.parameterInfo().filter((p) => !p.isAdapter),
      checkpoint.sources,
      `loadModel ${folder}`,
      (name) => name,
      ignorable,
      options.allowNonFinite === true
    );
    return model;
  } catch (err) {
    model.dispose();
    throw err;
  }
}

async function maybeTokenizer(folder: string): Promise<Tokenizer | undefined> {
  const file = path.join(folder, "tokenizer.json");
  return (await exists(file)) ? loadTokenizerFile(file) : undefined;
}

async function loadAdapterFolder(folder: string, options: LoadOptions): Promise<Model> {
  if (options.lora) throw new Error(`loadModel ${folder}: is an adapter folder; do not pass \`lora\` as well`);
  const { lora, baseModelNameOrPath } = await readAdapterConfig(path.join(folder, ADAPTER_CONFIG_FILE));
  const weightsPath = path.join(folder, ADAPTER_WEIGHTS_FILE);
  if (!(await exists(weightsPath))) throw new Error(`loadModel ${folder}: ${ADAPTER_WEIGHTS_FILE} is missing`);
  const adapterFile = await openSafetensors(weightsPath);
  const adapterShapes = new Map(adapterFile.names().map((n) => [n, adapterFile.info(n).shape]));
  checkAdapterRanks(adapterShapes, lora.rank, path.join(folder, ADAPTER_CONFIG_FILE), weightsPath);
  const baseDir = await findBaseFolder(folder, options.baseModel, baseModelNameOrPath);
  const model = await loadBaseWeights(baseDir, options);
  try {
    addLora(model, lora);
    setRecord(model, { ...recordOf(model), baseModelNameOrPath: baseModelNameOrPath ?? baseDir, adapterDir: folder });
    const sources = new Map(adapterFile.names().map((n) => [n, adapterFile]));
    const adapters = model.parameterInfo().filter((p) => p.isAdapter);
    await loadTensors(model, adapters, sources, `loadModel ${weightsPath}`, fromPeftName, () => false, options.allowNonFinite === true);
    const tokenizer = options.tokenizer === false ? undefined : (await maybeTokenizer(folder)) ?? (await maybeTokenizer(baseDir));
    return new Model(model, { tokenizer, path: folder });
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/** The base of an adapter: an explicit folder, config.json beside the adapter, or base_model_name_or_path if local. */
async function findBaseFolder(folder: string, explicit: string | undefined, named: string | null): Promise<string> {
  if (explicit) return path.resolve(explicit);
  if (await exists(path.join(folder, "config.json"))) return folder;
  if (!named) throw new Error(`loadModel ${folder}: ${ADAPTER_CONFIG_FILE} names no base model; pass { baseModel: "<folder>" }`);
  const candidates = path.isAbsolute(named) ? [named] : [path.resolve(folder, named), path.resolve(named)];
  for (const c of candidates) if (await exists(path.join(c, "config.json"))) return c;
  throw new Error(
    `loadModel ${folder}: base model ${JSON.stringify(named)} from ${ADAPTER_CONFIG_FILE} is not a local folder with config.json; pass { baseModel: "<folder>" }`
  );
}

/** A randomly initialised model (seeded) for training from scratch. */
export function createModel(config: NativeModelConfig, options: ModelOptions & { seed?: number } = {}): Model {
  const model = construct(config, options);
  setRecord(model, { baseModelNameOrPath: null });
  try {
    if (options.lora) addLora(model, resolveLoraConfig(options.lora));
  } catch (err) {
    model.dispose();
    throw err;
  }
  return new Model(model);
}

/** Adds LoRA adapters to a model and remembers their settings for saving (prefer this to native addLora). */
export function addLoraAdapters(model: NativeModel | LoadedModel, options: LoraOptions | true = true): NativeLoraConfig {
  const nativeModel = nativeOf(model);
  const lora = resolveLoraConfig(options);
  addLora(nativeModel, lora);
  return lora;
}


