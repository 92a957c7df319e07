// Data parallelism's process group (native/distributed/), for the trainers' distributed mode.
//
//   initDistributed({ rank, worldSize, masterAddr, masterPort, backend, timeoutMs, agentStore, deviceIndex })
//       -> Promise<{ rank, worldSize, backend }>    rendezvous, once per process
//   allReduceSum(values: Float64Array, phase) -> Promise<Float64Array>   sums over the ranks
//   destroyDistributed() -> Promise<void>
//   distributedInfo() -> { gloo, nccl, group: { rank, worldSize, backend } | null }
#include <napi.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <string>

#include "binding/async.h"
#include "binding/errors.h"
#include "binding/registry.h"
#include "binding/tensor_convert.h"
#include "distributed/process_group.h"

namespace sdpo {
namespace {

int wholeNumber(const Napi::Object& o, const char* key, double lo, double hi, const std::string& where) {
  const double v = getNumber(o, key, where);
  if (v != std::floor(v) || v < lo || v > hi) {
    throw RangeError(where + "." + key + " must be a whole number in [" + std::to_string(static_cast<int64_t>(lo)) +
                     ", " + std::to_string(static_cast<int64_t>(hi)) + "], got " + std::to_string(v));
  }
  return static_cast<int>(v);
}

Napi::Object groupToJs(Napi::Env env, const dist::GroupOptions& o) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("rank", o.rank);
  out.Set("worldSize", o.world_size);
  out.Set("backend", o.backend);
  return out;
}

Napi::Value initDistributed(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const std::string where = "initDistributed(options)";
    Napi::Object o = requireObject(info, 0, where);
    dist::GroupOptions options;
    options.world_size = wholeNumber(o, "worldSize", 1, 1 << 20, where);
    options.rank = wholeNumber(o, "rank", 0, options.world_size - 1, where);
    options.master_port = wholeNumber(o, "masterPort", 1, 65535, where);
    if (!o.Get("masterAddr").IsString() || o.Get("masterAddr").As<Napi::String>().Utf8Value().empty()) {
      throw TypeError(where + ".masterAddr must be a non-empty string");
    }
    options.master_addr = o.Get("masterAddr").As<Napi::String>().Utf8Value();
    if (!o.Get("backend").IsString()) throw TypeError(where + ".backend must be 'gloo' or 'nccl'");
    options.backend = o.Get("backend").As<Napi::String>().Utf8Value();
    if (options.backend != "gloo" && options.backend != "nccl") {
      throw RangeError(where + ".backend must be 'gloo' or 'nccl', got '" + options.backend + "'");
    }
    options.timeout = std::chrono::milliseconds(wholeNumber(o, "timeoutMs", 1, 24.0 * 3600 * 1000, where));
    options.agent_store = getBoolOr(o, "agentStore", false);
    options.device_index = o.Has("deviceIndex") && !o.Get("deviceIndex").IsUndefined()
                               ? wholeNumber(o, "deviceIndex", 0, 1 << 16, where)
                               : 0;
    return PromiseWorker::run(
        info.Env(), "sdpo.initDistributed", [options] { dist::initProcessGroup(options); },
        [options](Napi::Env env) -> Napi::Value { return groupToJs(env, options); });
  });
}

Napi::Value allReduceSum(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    torch::Tensor view = viewTypedArray(info[0], "allReduceSum(values)", torch::kDouble);
    if (info.Length() < 2 || !info[1].IsString()) throw TypeError("allReduceSum(values, phase): phase must be a string");
    const std::string phase = info[1].As<Napi::String>().Utf8Value();
    auto group = dist::currentProcessGroup();
    if (!group) throw std::runtime_error("allReduceSum(): no process group; call initDistributed() first");
    // A copy: the sum must not be seen by JS until it is whole, and nccl needs it on the GPU.
    auto values = std::make_shared<torch::Tensor>(view.clone());
    return PromiseWorker::run(
        info.Env(), "sdpo.allReduceSum",
        [group, values, phase] {
          torch::Tensor on_device = *values;
          if (group->options().backend == "nccl") on_device = values->to(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(group->options().device_index)));
          std::vector<torch::Tensor> tensors{on_device};
          group->allReduceSum(tensors, phase);
          *values = tensors[0].to(torch::kCPU);
        },
        [values](Napi::Env env) -> Napi::Value { return toTypedArray(env, *values); });
  });
}

Napi::Value destroyDistributed(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    return PromiseWorker::run(
        info.Env(), "sdpo.destroyDistributed", [] { dist::destroyProcessGroup(); },
        [](Napi::Env env) -> Napi::Value { return env.Undefined(); });
  });
}

Napi::Value distributedInfo(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("gloo", dist::glooAvailable());
    out.Set("nccl", dist::ncclAvailable());
    auto group = dist::currentProcessGroup();
    out.Set("group", group ? Napi::Value(groupToJs(env, group->options())) : env.Null());
    return out;
  });
}

void initDist(Napi::Env env, Napi::Object exports) {
  exports.Set("initDistributed", Napi::Function::New(env, initDistributed, "initDistributed"));
  exports.Set("allReduceSum", Napi::Function::New(env, allReduceSum, "allReduceSum"));
  exports.Set("destroyDistributed", Napi::Function::New(env, destroyDistributed, "destroyDistributed"));
  exports.Set("distributedInfo", Napi::Function::New(env, distributedInfo, "distributedInfo"));
}

}  // namespace
}  // namespace sdpo

SDPO_REGISTER_BINDING(dist, sdpo::initDist);
