#include "binding/model_args.h"

#include <cmath>
#include <string>

#include "binding/errors.h"
#include "binding/model_wrap.h"
#include "binding/tensor_convert.h"
#include "model/causal_lm.h"

namespace sdpo {

namespace {

Napi::Value field(const Napi::Object& obj, const char* key, const std::string& where) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined()) throw TypeError(where + "." + key + " is missing");
  return v;
}

int64_t readInt(const Napi::Object& obj, const char* key, const std::string& where) {
  Napi::Value v = field(obj, key, where);
  if (!v.IsNumber()) throw TypeError(where + "." + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9007199254740991.0) {
    throw RangeError(where + "." + key + " must be an integer, got " + std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

double readDouble(const Napi::Object& obj, const char* key, const std::string& where) {
  Napi::Value v = field(obj, key, where);
  if (!v.IsNumber()) throw TypeError(where + "." + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw RangeError(where + "." + key + " must be finite");
  return d;
}

bool readBool(const Napi::Object& obj, const char* key, const std::string& where) {
  Napi::Value v = field(obj, key, where);
  if (!v.IsBoolean()) throw TypeError(where + "." + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string readString(const Napi::Object& obj, const char* key, const std::string& where) {
  Napi::Value v = field(obj, key, where);
  if (!v.IsString()) throw TypeError(where + "." + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

}  // namespace

model::ModelConfig readModelConfig(const Napi::Value& value) {
  const std::string w = "config";
  if (!value.IsObject()) throw TypeError("config must be an object (NativeModelConfig)");
  Napi::Object o = value.As<Napi::Object>();
  model::ModelConfig c;
  c.model_type = readString(o, "model_type", w);
  c.vocab_size = readInt(o, "vocab_size", w);
  c.hidden_size = readInt(o, "hidden_size", w);
  c.intermediate_size = readInt(o, "intermediate_size", w);
  c.num_hidden_layers = readInt(o, "num_hidden_layers", w);
  c.num_attention_heads = readInt(o, "num_attention_heads", w);
  c.num_key_value_heads = readInt(o, "num_key_value_heads", w);
  c.head_dim = readInt(o, "head_dim", w);
  c.max_position_embeddings = readInt(o, "max_position_embeddings", w);
  if (!o.Get("sliding_window").IsUndefined() && !o.Get("sliding_window").IsNull()) {
    c.sliding_window = readInt(o, "sliding_window", w);
  }
  c.rms_norm_eps = readDouble(o, "rms_norm_eps", w);
  c.rope_theta = readDouble(o, "rope_theta", w);
  c.tie_word_embeddings = readBool(o, "tie_word_embeddings", w);
  c.attention_bias = readBool(o, "attention_bias", w);
  c.qk_norm = readBool(o, "qk_norm", w);
  Napi::Value rs = o.Get("rope_scaling");
  if (!rs.IsUndefined() && !rs.IsNull()) {
    const std::string ws = "config.rope_scaling";
    if (!rs.IsObject()) throw TypeError(ws + " must be an object or null");
    Napi::Object s = rs.As<Napi::Object>();
    // Hugging Face configs say "rope_type"; older ones "type".
    c.rope_scaling.type = s.Get("rope_type").IsUndefined() ? readString(s, "type", ws) : readString(s, "rope_type", ws);
    c.rope_scaling.factor = readDouble(s, "factor", ws);
    if (!s.Get("low_freq_factor").IsUndefined()) c.rope_scaling.low_freq_factor = readDouble(s, "low_freq_factor", ws);
    if (!s.Get("high_freq_factor").IsUndefined()) c.rope_scaling.high_freq_factor = readDouble(s, "high_freq_factor", ws);
    if (!s.Get("original_max_position_embeddings").IsUndefined()) {
      c.rope_scaling.original_max_position_embeddings = readInt(s, "original_max_position_embeddings", ws);
    }
  }
  model::validate_config(c);
  return c;
}

Napi::Object writeModelConfig(Napi::Env env, const model::ModelConfig& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("model_type", c.model_type);
  o.Set("vocab_size", double(c.vocab_size));
  o.Set("hidden_size", double(c.hidden_size));
  o.Set("intermediate_size", double(c.intermediate_size));
  o.Set("num_hidden_layers", double(c.num_hidden_layers));
  o.Set("num_attention_heads", double(c.num_attention_heads));
  o.Set("num_key_value_heads", double(c.num_key_value_heads));
  o.Set("head_dim", double(c.head_dim));
  o.Set("max_position_embeddings", double(c.max_position_embeddings));
  if (c.sliding_window > 0) o.Set("sliding_window", double(c.sliding_window));  // absent: no window
  o.Set("rms_norm_eps", c.rms_norm_eps);
  o.Set("rope_theta", c.rope_theta);
  if (c.rope_scaling.type.empty()) {
    o.Set("rope_scaling", env.Null());
  } else {
    Napi::Object s = Napi::Object::New(env);
    s.Set("rope_type", c.rope_scaling.type);
    s.Set("factor", c.rope_scaling.factor);
    s.Set("low_freq_factor", c.rope_scaling.low_freq_factor);
    s.Set("high_freq_factor", c.rope_scaling.high_freq_factor);
    s.Set("original_max_position_embeddings", double(c.rope_scaling.original_max_position_embeddings));
    o.Set("rope_scaling", s);
  }
  o.Set("tie_word_embeddings", c.tie_word_embeddings);
  o.Set("attention_bias", c.attention_bias);
  o.Set("qk_norm", c.qk_norm);
  return o;
}

model::LoraConfig readLoraConfig(const Napi::Value& value) {
  const std::string w = "lora";
  if (!value.IsObject()) throw TypeError("lora config must be an object {rank, alpha, dropout, targets}");
  Napi::Object o = value.As<Napi::Object>();
  model::LoraConfig c;
  c.rank = readInt(o, "rank", w);
  c.alpha = readDouble(o, "alpha", w);
  c.dropout = readDouble(o, "dropout", w);
  Napi::Value t = field(o, "targets", w);
  if (!t.IsArray()) throw TypeError("lora.targets must be an array of layer names");
  Napi::Array arr = t.As<Napi::Array>();
  c.targets.clear();
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value name = arr.Get(i);
    if (!name.IsString()) throw TypeError("lora.targets[" + std::to_string(i) + "] must be a string");
    c.targets.push_back(name.As<Napi::String>().Utf8Value());
  }
  return c;
}

torch::ScalarType parseDType(const std::string& name) {
  if (name == "float32") return torch::kFloat;
  if (name == "float64") return torch::kDouble;
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float16") return torch::kHalf;
  throw RangeError("options.dtype must be float32, float64, bfloat16 or float16, got '" + name + "'");
}

const char* safetensorsName(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat: return "F32";
    case torch::kDouble: return "F64";
    case torch::kBFloat16: return "BF16";
    case torch::kHalf: return "F16";
    default: throw std::runtime_error(std::string("parameter dtype ") + dtypeName(t) + " has no safetensors name");
  }
}

torch::ScalarType parseSafetensorsFloat(const std::string& name, const std::string& where) {
  if (name == "F32") return torch::kFloat;
  if (name == "F64") return torch::kDouble;
  if (name == "BF16") return torch::kBFloat16;
  if (name == "F16") return torch::kHalf;
  throw TypeError(where + ": dtype must be one of F32, F64, BF16, F16 (a float safetensors dtype), got '" + name + "'");
}

torch::Device parseDevice(const std::string& name) {
  if (name != "cpu" && name != "cuda" && name.rfind("cuda:", 0) != 0) {
    throw RangeError("options.device must be 'cpu', 'cuda' or 'cuda:N', got '" + name + "'");
  }
  torch::Device device("cpu");
  try {
    device = torch::Device(name);
  } catch (const std::exception&) {
    throw RangeError("options.device '" + name + "' is not a device name");
  }
  if (device.is_cuda() && !torch::cuda::is_available()) {
    throw std::runtime_error("options.device is '" + name + "' but CUDA is not available to this build of libtorch");
  }
  return device;
}

// libtorch 1.13's CPU kernels have no float16 matmul: say so up front rather than at the first score.
void requireMatmul(const torch::Device& device, torch::ScalarType dtype) {
  try {
    torch::Tensor probe = torch::ones({2, 2}, torch::TensorOptions().device(device).dtype(dtype));
    torch::matmul(probe, probe);
  } catch (const std::exception&) {
    throw RangeError(std::string("options.dtype ") + dtypeName(dtype) + " is not supported on " + device.str() +
                     " by this libtorch (no matrix multiply in that dtype); use bfloat16 or float32");
  }
}

torch::Tensor readInt32List(const Napi::Object& obj, const char* key, const std::string& where) {
  return viewTypedArray(obj.Get(key), where + "." + key, torch::kInt).to(torch::kLong);  // a copy
}

model::PackedResponses readPackedResponses(const Napi::Value& v, const std::string& what) {
  if (!v.IsObject()) throw TypeError(what + " must be an object {promptIds, promptOffsets, responseIds, responseOffsets, responsePrompt}");
  Napi::Object o = v.As<Napi::Object>();
  model::PackedResponses b;
  b.prompt_ids = readInt32List(o, "promptIds", what);
  b.prompt_offsets = readInt32List(o, "promptOffsets", what);
  b.response_ids = readInt32List(o, "responseIds", what);
  b.response_offsets = readInt32List(o, "responseOffsets", what);
  b.response_prompt = readInt32List(o, "responsePrompt", what);
  return b;
}

}  // namespace sdpo
