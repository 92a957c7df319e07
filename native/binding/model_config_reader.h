// JS <-> C++ conversion of the model and LoRA configs (NativeModelConfig, NativeLoraConfig in src/native.ts).
#pragma once
#include <napi.h>

#include "model/config.h"

namespace sdpo {

// Reads and checks a NativeModelConfig; TypeError / RangeError name the field ("config.hidden_size ...").
model::ModelConfig readModelConfig(const Napi::Value& v);
Napi::Object writeModelConfig(Napi::Env env, const model::ModelConfig& config);
model::LoraConfig readLoraConfig(const Napi::Value& v);

}  // namespace sdpo
