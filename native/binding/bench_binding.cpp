// `benchMatmul(n, reps)`: the machine's fp32 matmul rate through libtorch (the same BLAS and thread
// settings the model uses), as the yardstick `sdpo bench` reports model FLOP/s against.
//
//   benchMatmul(n, reps, device = "cpu") -> Promise<{ gflops, seconds, n, reps, threads, device }>
//
// Times `reps` products of two random [n, n] float32 matrices after one untimed warm-up product;
// each counts 2 n^3 FLOPs. Runs off the event loop.
#include <napi.h>

#include <torch/cuda.h>

#include <chrono>
#include <memory>
#include <string>

#include "binding/async.h"
#include "binding/errors.h"
#include "binding/registry.h"

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

void initBench(Napi::Env env, Napi::Object exports) {
  exports.Set("benchMatmul", Napi::Function::New(env, benchMatmul, "benchMatmul"));
}

}  // namespace

SDPO_REGISTER_BINDING(bench, initBench);

}  // namespace sdpo
