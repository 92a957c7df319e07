#include "binding/tensor_convert.h"

#include <cmath>
#include <cstring>

#include "binding/errors.h"

namespace sdpo {

const char* dtypeName(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat: return "float32";
    case torch::kDouble: return "float64";
    case torch::kInt: return "int32";
    case torch::kLong: return "int64";
    case torch::kHalf: return "float16";
    case torch::kBFloat16: return "bfloat16";
    default: return "unsupported dtype";
  }
}

torch::Tensor viewTypedArray(const Napi::Value& value, const std::string& what) {
  if (!value.IsTypedArray()) {
    throw TypeError(what + " must be a Float32Array, Float64Array, Int32Array or BigInt64Array");
  }
  auto array = value.As<Napi::TypedArray>();
  torch::ScalarType dtype;
  switch (array.TypedArrayType()) {
    case napi_float32_array: dtype = torch::kFloat; break;
    case napi_float64_array: dtype = torch::kDouble; break;
    case napi_int32_array: dtype = torch::kInt; break;
    case napi_bigint64_array: dtype = torch::kLong; break;
    default:
      throw TypeError(what + " must be a Float32Array, Float64Array, Int32Array or BigInt64Array");
  }
  const int64_t length = static_cast<int64_t>(array.ElementLength());
  auto* base = static_cast<uint8_t*>(array.ArrayBuffer().Data());
  if (length == 0) return torch::empty({0}, torch::TensorOptions().dtype(dtype));
  if (base == nullptr) throw RangeError(what + " has a detached buffer");
  void* data = base + array.ByteOffset();
  return torch::from_blob(data, {length}, torch::TensorOptions().dtype(dtype));
}

torch::Tensor viewTypedArray(const Napi::Value& value, const std::string& what,
                             torch::ScalarType dtype, int64_t expectedLength) {
  torch::Tensor t = viewTypedArray(value, what);
  if (t.scalar_type() != dtype) {
    throw TypeError(what + " must be " + dtypeName(dtype) + ", got " + dtypeName(t.scalar_type()));
  }
  if (expectedLength >= 0 && t.numel() != expectedLength) {
    throw RangeError(what + " must have length " + std::to_string(expectedLength) + ", got " +
                     std::to_string(t.numel()));
  }
  return t;
}

Napi::Value toTypedArray(Napi::Env env, const torch::Tensor& tensor) {
  torch::Tensor t = tensor.detach();
  if (t.is_floating_point() && t.scalar_type() != torch::kFloat && t.scalar_type() != torch::kDouble) {
    t = t.to(torch::kFloat);
  }
  t = t.to(torch::kCPU).contiguous().reshape({-1});
  const size_t n = static_cast<size_t>(t.numel());
  switch (t.scalar_type()) {
    case torch::kFloat: {
      auto out = Napi::Float32Array::New(env, n);
      if (n) std::memcpy(out.Data(), t.data_ptr<float>(), n * sizeof(float));
      return out;
    }
    case torch::kDouble: {
      auto out = Napi::Float64Array::New(env, n);
      if (n) std::memcpy(out.Data(), t.data_ptr<double>(), n * sizeof(double));
      return out;
    }
    case torch::kInt: {
      auto out = Napi::Int32Array::New(env, n);
      if (n) std::memcpy(out.Data(), t.data_ptr<int32_t>(), n * sizeof(int32_t));
      return out;
    }
    case torch::kLong: {
      auto out = Napi::BigInt64Array::New(env, n);
      if (n) std::memcpy(out.Data(), t.data_ptr<int64_t>(), n * sizeof(int64_t));
      return out;
    }
    default:
      throw TypeError(std::string("cannot convert a tensor of dtype ") + dtypeName(t.scalar_type()) +
                      " to a typed array");
  }
}

double getNumber(const Napi::Object& obj, const char* key, const std::string& where) {
  Napi::Value v = obj.Get(key);
  if (!v.IsNumber()) throw TypeError(where + "." + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw RangeError(where + "." + key + " must be finite");
  return d;
}

double getNumberOr(const Napi::Object& obj, const char* key, double fallback, const std::string& where) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  return getNumber(obj, key, where);
}

Napi::Object requireObject(const Napi::CallbackInfo& info, size_t index, const std::string& what) {
  if (info.Length() <= index || !info[index].IsObject() || info[index].IsArray()) {
    throw TypeError(what + " must be an object");
  }
  return info[index].As<Napi::Object>();
}

bool getBoolOr(const Napi::Object& obj, const char* key, bool fallback) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  return v.ToBoolean().Value();
}

bool readPlainImplementation(const Napi::Value& options, const std::string& where) {
  if (options.IsUndefined()) return false;
  if (!options.IsObject()) throw TypeError(where + " must be an object");
  Napi::Value impl = options.As<Napi::Object>().Get("implementation");
  if (impl.IsUndefined()) return false;
  const std::string name = impl.IsString() ? impl.As<Napi::String>().Utf8Value() : "";
  if (name != "fused" && name != "plain") {
    throw RangeError(where + ".implementation must be \"fused\" or \"plain\"");
  }
  return name == "plain";
}

void requireFinite(const torch::Tensor& t, const std::string& what) {
  if (!t.is_floating_point() || t.numel() == 0) return;
  if (!torch::isfinite(t).all().item<bool>()) {
    auto bad = torch::nonzero(~torch::isfinite(t.reshape({-1})));
    int64_t index = bad[0][0].item<int64_t>();
    throw RangeError(what + " holds a non-finite value (NaN or infinity) at index " + std::to_string(index));
  }
}

}  // namespace sdpo
