// `benchMatmul(n, reps)`: the machine's fp32 matmul rate through libtorch (the same BLAS and thread
// settings the model uses), as the yardstick `sdpo bench` reports model FLOP/s against.
//
//   benchMatmul(n, reps, device = "cpu") -> Promise<{ gflops, seconds, n, reps, threads, device }>
//
// Times `reps` products of two random [n, n] float32 matrices after one untimed warm-up product;
// each counts 2 n^3 FLOPs. Runs off the event loop.
//
//   benchTokenLogprobs({n, d, v, chunkRows, reps, device}) -> Promise<{seconds, chunkRows, n, d, v, reps, device}>
//
// Token log-probs forward + backward (grad for hidden and weight) on random float32 tensors made on the
// device (no host transfer in the timing), one untimed warm-up call, then `reps` timed calls with a
// synchronize around them; `seconds` is per call, `chunkRows` the rows per chunk actually used.
#include <napi.h>

#include <torch/cuda.h>

#include <chrono>
#include <memory>
#include <string>

#include "binding/async.h"
#include "binding/errors.h"
#include "binding/registry.h"
#include "binding/tensor_convert.h"
#include "ops/losses.h"

namespace sdpo {
namespace {

struct MatmulTiming {
  double seconds = 0;
  int threads = 0;
};

Napi::Value benchMatmul(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
      throw TypeError("benchMatmul(n, reps): n and reps must be numbers");
    }
    const double nValue = info[0].As<Napi::Number>().DoubleValue();
    const double repsValue = info[1].As<Napi::Number>().DoubleValue();
    if (!(nValue >= 1 && nValue <= 16384) || nValue != static_cast<int64_t>(nValue)) {
      throw RangeError("benchMatmul(n, reps): n must be an integer in [1, 16384]");
    }
    if (!(repsValue >= 1 && repsValue <= 100000) || repsValue != static_cast<int64_t>(repsValue)) {
      throw RangeError("benchMatmul(n, reps): reps must be an integer in [1, 100000]");
    }
    std::string deviceName = "cpu";
    if (info.Length() >= 3 && !info[2].IsUndefined()) {
      if (!info[2].IsString()) throw TypeError("benchMatmul(n, reps, device): device must be a string");
      deviceName = info[2].As<Napi::String>().Utf8Value();
    }
    c10::optional<torch::Device> parsed;
    try {
      parsed = torch::Device(deviceName);
    } catch (const std::exception&) {
      throw RangeError("benchMatmul(n, reps, device): device must be 'cpu' or 'cuda[:i]' (got '" + deviceName + "')");
    }
    const torch::Device device = *parsed;
    if (device.is_cuda() && !torch::cuda::is_available()) {
      throw RangeError("benchMatmul: device '" + deviceName + "' asked for, but CUDA is not available");
    }
    const int64_t n = static_cast<int64_t>(nValue);
    const int64_t reps = static_cast<int64_t>(repsValue);
    auto timing = std::make_shared<MatmulTiming>();
    return PromiseWorker::run(
        info.Env(), "benchMatmul",
        [n, reps, timing, device] {
          torch::NoGradGuard noGrad;
          auto opts = torch::TensorOptions().device(device).dtype(torch::kFloat);
          auto a = torch::randn({n, n}, opts);
          auto b = torch::randn({n, n}, opts);
          auto c = torch::empty({n, n}, opts);
          // Kernels are queued on CUDA: wait for them around the timed loop.
          auto sync = [&] { if (device.is_cuda()) torch::cuda::synchronize(device.has_index() ? device.index() : -1); };
          at::mm_out(c, a, b);  // warm-up: BLAS thread pool start, page faults, cuBLAS handle
          sync();
          const auto start = std::chrono::steady_clock::now();
          for (int64_t i = 0; i < reps; ++i) at::mm_out(c, a, b);
          sync();
          timing->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          timing->threads = at::get_num_threads();
        },
        [n, reps, timing, deviceName](Napi::Env env) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          const double flops = 2.0 * static_cast<double>(n) * n * n * reps;
          out.Set("gflops", flops / timing->seconds / 1e9);
          out.Set("seconds", timing->seconds);
          out.Set("n", static_cast<double>(n));
          out.Set("reps", static_cast<double>(reps));
          out.Set("threads", static_cast<double>(timing->threads));
          out.Set("device", deviceName);
          return out;
        });
  });
}

torch::Device benchDevice(const std::string& name, const std::string& where) {
  c10::optional<torch::Device> parsed;
  try {
    parsed = torch::Device(name);
  } catch (const std::exception&) {
    throw RangeError(where + ": device must be 'cpu' or 'cuda[:i]' (got '" + name + "')");
  }
  if (parsed->is_cuda() && !torch::cuda::is_available()) {
    throw RangeError(where + ": device '" + name + "' asked for, but CUDA is not available");
  }
  return *parsed;
}

struct TokenTiming {
  double seconds = 0;
  int64_t chunk_rows = 0;
};

Napi::Value benchTokenLogprobs(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const std::string where = "benchTokenLogprobs";
    Napi::Object args = requireObject(info, 0, where + " arguments");
    auto integer = [&](const char* key, double low, double high, double fallback) {
      const double value = getNumberOr(args, key, fallback, where);
      if (!(value >= low && value <= high) || value != static_cast<double>(static_cast<int64_t>(value))) {
        throw RangeError(where + ": " + key + " must be an integer in [" + std::to_string(int64_t(low)) + ", " +
                         std::to_string(int64_t(high)) + "]");
      }
      return static_cast<int64_t>(value);
    };
    const int64_t n = integer("n", 1, 1 << 20, -1), d = integer("d", 1, 1 << 16, -1);
    const int64_t v = integer("v", 1, 1 << 22, -1), reps = integer("reps", 1, 10000, 5);
    const int64_t chunk_rows = integer("chunkRows", 0, 1 << 20, 0);
    Napi::Value device_value = args.Get("device");
    const std::string device_name = device_value.IsString() ? device_value.As<Napi::String>().Utf8Value() : "cpu";
    const torch::Device device = benchDevice(device_name, where);
    auto timing = std::make_shared<TokenTiming>();
    return PromiseWorker::run(
        info.Env(), "benchTokenLogprobs",
        [n, d, v, reps, chunk_rows, timing, device] {
          auto opts = torch::TensorOptions().device(device).dtype(torch::kFloat);
          const torch::Tensor hidden = torch::randn({n, d}, opts).requires_grad_(true);
          const torch::Tensor weight = (torch::randn({v, d}, opts) * 0.05).requires_grad_(true);
          const torch::Tensor labels = torch::randint(v, {n}, opts.dtype(torch::kLong));
          auto sync = [&] { if (device.is_cuda()) torch::cuda::synchronize(device.has_index() ? device.index() : -1); };
          auto call = [&] {
            hidden.mutable_grad() = torch::Tensor();
            weight.mutable_grad() = torch::Tensor();
            ops::token_logprobs(hidden, weight, labels, -100, chunk_rows).sum().backward();
          };
          call();  // warm-up: cuBLAS handles, allocator pools
          sync();
          timing->chunk_rows = ops::token_logprobs_chunk_rows(hidden, weight, chunk_rows);
          const auto start = std::chrono::steady_clock::now();
          for (int64_t i = 0; i < reps; ++i) call();
          sync();
          timing->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / reps;
        },
        [n, d, v, reps, timing, device_name](Napi::Env env) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          out.Set("seconds", timing->seconds);
          out.Set("chunkRows", static_cast<double>(timing->chunk_rows));
          out.Set("n", static_cast<double>(n));
          out.Set("d", static_cast<double>(d));
          out.Set("v", static_cast<double>(v));
          out.Set("reps", static_cast<double>(reps));
          out.Set("device", device_name);
          return out;
        });
  });
}

void initBench(Napi::Env env, Napi::Object exports) {
  exports.Set("benchTokenLogprobs", Napi::Function::New(env, benchTokenLogprobs, "benchTokenLogprobs"));
  exports.Set("benchMatmul", Napi::Function::New(env, benchMatmul, "benchMatmul"));
}

}  // namespace

SDPO_REGISTER_BINDING(bench, initBench);

}  // namespace sdpo
