/** softmax-dpo: preference training (SFT, DPO, Softmax-DPO) for LM recommenders on libtorch. */
export { native, nativePath } from "./native";
export type { BuildInfo, FloatArray } from "./native";

// model: Hugging Face checkpoints (safetensors, config.json, PEFT adapters)
export { loadModel, createModel, saveModel, addLoraAdapters } from "./model/checkpoint";
export type { LoadedModel, ModelOptions, LoadOptions, SaveOptions } from "./model/checkpoint";
export { parseConfig, presetConfig, configToJson, readConfigFile } from "./model/config";
export type { ConfigExtras } from "./model/config";
export { openSafetensors, readSafetensors, writeSafetensors, SafetensorsFile, MAX_HEADER_BYTES } from "./model/safetensors";
export type { SafetensorsTensor, SafetensorsTensorInfo } from "./model/safetensors";
export { openCheckpointTensors, readSafetensorsIndex, writeShardedSafetensors } from "./model/sharded";
export type { LoraOptions } from "./model/peft";
export type { NativeModelConfig, NativeLoraConfig, SafetensorsDType, ModelDType, DeviceName } from "./native";
