// Argument readers of the Model binding: the model and LoRA configs (NativeModelConfig,
// NativeLoraConfig in src/native/model-types.ts), device and dtype names, safetensors dtype tags, packed token lists.
#pragma once
#include <napi.h>

#include <string>

#include "model/config.h"

namespace sdpo {

// Reads and checks a NativeModelConfig; TypeError / RangeError name the field ("config.hidden_size ...").
model::ModelConfig readModelConfig(const Napi::Value& v);
Napi::Object writeModelConfig(Napi::Env env, const model::ModelConfig& config);
model::LoraConfig readLoraConfig(const Napi::Value& v);

// "float32" | "float64" | "bfloat16" | "float16" (RangeError otherwise).
torch::ScalarType parseDType(const std::string& name);
// "cpu" | "cuda" | "cuda:N"; an Error when CUDA is asked for and not available.
torch::Device parseDevice(const std::string& name);
// RangeError when this libtorch cannot multiply matrices of `dtype` on `device` (float16 on a 1.13 CPU).
void requireMatmul(const torch::Device& device, torch::ScalarType dtype);
// safetensors tags of the float dtypes: F32, F64, BF16, F16.
const char* safetensorsName(torch::ScalarType t);
torch::ScalarType parseSafetensorsFloat(const std::string& name, const std::string& where);
// obj[key] as an Int32Array, copied into a CPU int64 tensor.
torch::Tensor readInt32List(const Napi::Object& obj, const char* key, const std::string& where);

}  // namespace sdpo
