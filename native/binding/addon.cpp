// Module entry: collects every binding registered with SDPO_REGISTER_BINDING, plus build info.
#include <napi.h>
#include <torch/torch.h>
#include <torch/version.h>

#if defined(__linux__)
#include <dlfcn.h>
#endif

#include <cstdlib>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "binding/blas_threads.h"
#include "binding/errors.h"
#include "binding/registry.h"
#include "binding/torch_thread.h"

#ifdef SDPO_WITH_CUDA
#include <torch/cuda.h>
#endif

namespace sdpo {
namespace {

std::vector<std::pair<const char*, BindingInit>>& registry() {
  static std::vector<std::pair<const char*, BindingInit>> inits;  // function-local: no init-order fiasco
  return inits;
}

Napi::Value buildInfo(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("torchVersion", TORCH_VERSION);
    out.Set("torchSource", SDPO_TORCH_SOURCE);
#ifdef SDPO_WITH_CUDA
    out.Set("cudaCompiled", true);
    out.Set("cudaAvailable", torch::cuda::is_available());
    out.Set("cudaDeviceCount", static_cast<double>(torch::cuda::device_count()));
#else
    out.Set("cudaCompiled", false);
    out.Set("cudaAvailable", false);
    out.Set("cudaDeviceCount", 0.0);
#endif
    out.Set("cxx11Abi", static_cast<bool>(_GLIBCXX_USE_CXX11_ABI));
    out.Set("numThreads", static_cast<double>(at::get_num_threads()));
    out.Set("blasThreading", blasThreading());
    out.Set("napiVersion", static_cast<double>(NAPI_VERSION));
    Napi::Array bindings = Napi::Array::New(env);
    uint32_t i = 0;
    for (auto& entry : registry()) bindings.Set(i++, entry.first);
    out.Set("bindings", bindings);
    return out;
  });
}

Napi::Value setNumThreads(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsNumber()) throw TypeError("setNumThreads(n): n must be a number");
    int n = info[0].As<Napi::Number>().Int32Value();
    if (n < 1) throw RangeError("setNumThreads(n): n must be >= 1");
    setIntraOpThreads(n);
    return info.Env().Undefined();
  });
}

Napi::Value manualSeed(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsNumber()) throw TypeError("manualSeed(seed): seed must be a number");
    torch::manual_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
    return info.Env().Undefined();
  });
}

// Keeps this addon, and with it libtorch and its BLAS, loaded until the process exits. Node unloads an
// addon when the last environment that loaded it ends (a worker thread terminated), but the torch thread
// runs this library's code for the whole process and may still be finishing that environment's call.
void pinLibrary() {
#if defined(__linux__)
  Dl_info self;
  if (dladdr(reinterpret_cast<void*>(&pinLibrary), &self) != 0 && self.dli_fname != nullptr) {
    dlopen(self.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);  // a reference never dropped
  }
#endif
}

// Intra-op (OpenMP) threads: SDPO_NUM_THREADS or OMP_NUM_THREADS if set. Otherwise one when OpenBLAS
// runs matrix products on its own pthread pool, every core if not. Why one: OpenBLAS's idle workers
// spin (sched_yield) for ~0.1 s after each product, so OpenMP workers doing the element-wise ops between
// products fight them for the cores. Measured on 2 cores (`sdpo bench`, K = 3): a step takes 158 ms with
// one intra-op thread, 185 ms with two; the Python reference on the same libtorch runs 2x faster with one.
// Debian's libtorch also starts with a single OpenMP thread unless told, so the choice is always made here.
void chooseThreadCount() {
  for (const char* var : {"SDPO_NUM_THREADS", "OMP_NUM_THREADS"}) {
    const char* value = std::getenv(var);
    if (value && std::atoi(value) > 0) {
      setIntraOpThreads(std::atoi(value));
      return;
    }
  }
  if (blasThreading() == "openblas-pthreads") {
    setIntraOpThreads(1);
    return;
  }
  unsigned cores = std::thread::hardware_concurrency();
  if (cores > 0) setIntraOpThreads(static_cast<int>(cores));
}

}  // namespace

BindingRegistrar::BindingRegistrar(const char* name, BindingInit init) { registry().emplace_back(name, init); }

void initAllBindings(Napi::Env env, Napi::Object exports) {
  for (auto& entry : registry()) entry.second(env, exports);
}

}  // namespace sdpo

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  sdpo::pinLibrary();
  sdpo::chooseThreadCount();
  exports.Set("buildInfo", Napi::Function::New(env, sdpo::buildInfo, "buildInfo"));
  exports.Set("setNumThreads", Napi::Function::New(env, sdpo::setNumThreads, "setNumThreads"));
  exports.Set("manualSeed", Napi::Function::New(env, sdpo::manualSeed, "manualSeed"));
  sdpo::initAllBindings(env, exports);
  return exports;
}

NODE_API_MODULE(softmax_dpo, Init)
