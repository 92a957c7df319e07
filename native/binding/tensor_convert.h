// JS typed arrays <-> CPU tensors, with the checks done before any memory is touched.
#pragma once
#include <napi.h>
#include <torch/torch.h>

#include <string>

namespace sdpo {

// Views a Float32Array / Float64Array / Int32Array / BigInt64Array as a 1-D CPU tensor
// without copying. `what` names the argument in error messages. The tensor aliases JS memory:
// keep the typed array alive (PromiseWorker keepAlive) while the tensor is used, and clone()
// before the JS call returns if it must outlive it.
torch::Tensor viewTypedArray(const Napi::Value& value, const std::string& what);

// Same, but requires one dtype (kFloat, kDouble, kInt, kLong) and, if expectedLength >= 0,
// an exact length.
torch::Tensor viewTypedArray(const Napi::Value& value, const std::string& what,
                             torch::ScalarType dtype, int64_t expectedLength = -1);

// Copies any tensor (any device, any layout) into a new JS typed array of its dtype
// (float32 -> Float32Array, float64 -> Float64Array, int32 -> Int32Array, int64 -> BigInt64Array;
// other floating dtypes are widened to Float32Array).
Napi::Value toTypedArray(Napi::Env env, const torch::Tensor& tensor);

// info[index] as a plain object (not an array), else a TypeError "<what> must be an object".
Napi::Object requireObject(const Napi::CallbackInfo& info, size_t index, const std::string& what);

// Reads a required finite number / optional number from an options object.
double getNumber(const Napi::Object& obj, const char* key, const std::string& where);
double getNumberOr(const Napi::Object& obj, const char* key, double fallback, const std::string& where);
bool getBoolOr(const Napi::Object& obj, const char* key, bool fallback);

// options.implementation of a kernel binding: "fused" (default, also when options is undefined) -> false,
// "plain" -> true; anything else a RangeError naming `where`.
bool readPlainImplementation(const Napi::Value& options, const std::string& where);

// Throws sdpo::RangeError naming `what` if `t` (floating) holds NaN or infinity.
void requireFinite(const torch::Tensor& t, const std::string& what);

const char* dtypeName(torch::ScalarType t);

}  // namespace sdpo
