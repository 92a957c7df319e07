// JS class `Model` (NativeModel in src/native/model-types.ts): a CausalLMImpl with its parameters by Hugging Face
// name, LoRA, shared-prefix scoring and greedy generation. Long calls run off the event loop and hold
// the model's mutex; every method refuses use after dispose().
#include <napi.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "binding/async.h"
#include "binding/errors.h"
#include "binding/model_args.h"
#include "binding/model_wrap.h"
#include "binding/registry.h"
#include "binding/tensor_convert.h"
#include "model/causal_lm.h"

namespace sdpo {

namespace {

using model::CausalLMImpl;
using ModelPtr = std::shared_ptr<CausalLMImpl>;

// Marks objects made by the Model constructor, so unwrapModel can tell them from look-alikes.
constexpr napi_type_tag kModelTag = {0x5d70a11c0de1b0b5ULL, 0x6d6f64656c000001ULL};

std::string shapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// A rejected promise for errors found before the work is queued.
Napi::Promise rejectedPromise(Napi::Env env, std::exception_ptr error) {
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(makeJsError(env, error).Value());
  return deferred.Promise();
}

// Sets the adapters switch and train/eval mode (eval unless asked) for one call, and restores both after it.
class CallMode {
 public:
  CallMode(CausalLMImpl& model, bool adapters, bool train = false)
      : model_(model), adapters_(model.adapters_enabled()), training_(model.is_training()) {
    model_.set_adapters_enabled(adapters);
    model_.train(train);
  }
  ~CallMode() {
    model_.set_adapters_enabled(adapters_);
    model_.train(training_);
  }

 private:
  CausalLMImpl& model_;
  bool adapters_, training_;
};

Napi::Value packedLists(Napi::Env env, const std::vector<std::vector<int64_t>>& lists) {
  size_t total = 0;
  for (const auto& l : lists) total += l.size();
  auto ids = Napi::Int32Array::New(env, total);
  auto offsets = Napi::Int32Array::New(env, lists.size() + 1);
  size_t k = 0;
  offsets[0] = 0;
  for (size_t i = 0; i < lists.size(); ++i) {
    for (int64_t t : lists[i]) ids[k++] = static_cast<int32_t>(t);
    offsets[i + 1] = static_cast<int32_t>(k);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("ids", ids);
  out.Set("offsets", offsets);
  return out;
}

}  // namespace

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Model",
                       {InstanceAccessor<&ModelWrap::getConfig>("config"),
                        InstanceAccessor<&ModelWrap::getDevice>("device"),
                        InstanceAccessor<&ModelWrap::getDType>("dtype"),
                        InstanceAccessor<&ModelWrap::getDisposed>("disposed"),
                        InstanceMethod<&ModelWrap::parameterInfo>("parameterInfo"),
                        InstanceMethod<&ModelWrap::getTensor>("getTensor"),
                        InstanceMethod<&ModelWrap::setTensor>("setTensor"),
                        InstanceMethod<&ModelWrap::addLora>("addLora"),
                        InstanceMethod<&ModelWrap::setAdaptersEnabled>("setAdaptersEnabled"),
                        InstanceMethod<&ModelWrap::score>("score"),
                        InstanceMethod<&ModelWrap::scoreGradients>("scoreGradients"),
                        InstanceMethod<&ModelWrap::generate>("generate"),
                        InstanceMethod<&ModelWrap::cloneFrozen>("cloneFrozen"),
                        InstanceMethod<&ModelWrap::setGradientCheckpointing>("setGradientCheckpointing"),
                        InstanceMethod<&ModelWrap::dispose>("dispose")});
  }

  explicit ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
    guardVoid(info.Env(), [&] {
      if (!info.IsConstructCall()) throw TypeError("Model must be called with new");
      if (info[0].IsExternal()) {  // cloneFrozen(): adopt a model built natively
        model_ = *info[0].As<Napi::External<ModelPtr>>().Data();
        info.This().As<Napi::Object>().TypeTag(&kModelTag);
        return;
      }
      model::ModelConfig config = readModelConfig(info[0]);
      if (!info[1].IsObject()) throw TypeError("Model(config, options): options must be an object {device, dtype, seed?}");
      Napi::Object options = info[1].As<Napi::Object>();
      Napi::Value dev = options.Get("device"), dt = options.Get("dtype");
      const torch::Device device = parseDevice(dev.IsUndefined() ? "cpu" : dev.ToString().Utf8Value());
      if (!dt.IsUndefined() && !dt.IsString()) throw TypeError("options.dtype must be a string");
      const torch::ScalarType dtype = parseDType(dt.IsUndefined() ? "float32" : dt.As<Napi::String>().Utf8Value());
      Napi::Value seed = options.Get("seed");
      if (!seed.IsUndefined()) {
        const double s = getNumber(options, "seed", "options");
        if (s < 0 || s != std::floor(s)) throw RangeError("options.seed must be a non-negative integer");
        torch::manual_seed(static_cast<uint64_t>(s));
      }
      requireMatmul(device, dtype);
      model::ParamInit init;
      init.options = torch::TensorOptions().device(device).dtype(dtype);
      init.random = getBoolOr(options, "randomInit", true);
      model_ = std::make_shared<CausalLMImpl>(std::move(config), init);
      model_->eval();  // dropout only inside a training step, which switches train() on itself
      info.This().As<Napi::Object>().TypeTag(&kModelTag);
    });
  }

  // The model, or an Error naming `where` once disposed.
  ModelPtr model(const std::string& where) const {
    if (!model_) throw std::runtime_error(where + ": the model was disposed");
    return model_;
  }

 private:
  Napi::Value getConfig(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value { return writeModelConfig(info.Env(), model("Model.config")->config()); });
  }
  Napi::Value getDevice(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value { return Napi::String::New(info.Env(), model("Model.device")->device().str()); });
  }
  Napi::Value getDType(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      return Napi::String::New(info.Env(), dtypeName(model("Model.dtype")->dtype()));
    });
  }
  Napi::Value getDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !model_); }

  Napi::Value parameterInfo(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      ModelPtr m = model("Model.parameterInfo");
      std::lock_guard<std::mutex> lock(m->mutex());
      auto params = m->named_parameters();
      Napi::Array out = Napi::Array::New(env, params.size());
      uint32_t i = 0;
      for (const auto& item : params) {
        Napi::Object p = Napi::Object::New(env);
        p.Set("name", item.key());
        Napi::Array shape = Napi::Array::New(env, item.value().dim());
        for (int64_t d = 0; d < item.value().dim(); ++d) shape.Set(uint32_t(d), double(item.value().size(d)));
        p.Set("shape", shape);
        p.Set("dtype", dtypeName(item.value().scalar_type()));
        p.Set("trainable", item.value().requires_grad());
        p.Set("isAdapter", CausalLMImpl::is_adapter_name(item.key()));
        out.Set(i++, p);
      }
      return out;
    });
  }

  Napi::Value getTensor(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      ModelPtr m = model("Model.getTensor");
      if (!info[0].IsString()) throw TypeError("getTensor(name): name must be a string");
      const std::string name = info[0].As<Napi::String>().Utf8Value();
      const bool merged = info[1].IsObject() && getBoolOr(info[1].As<Napi::Object>(), "merged", false);
      torch::Tensor t;
      {
        std::lock_guard<std::mutex> lock(m->mutex());
        t = (merged ? m->merged_parameter(name) : m->parameter(name)).detach().to(torch::kCPU).contiguous();
      }
      const size_t bytes = t.numel() * t.element_size();
      auto data = Napi::Uint8Array::New(env, bytes);
      if (bytes) std::memcpy(data.Data(), t.data_ptr(), bytes);
      Napi::Array shape = Napi::Array::New(env, t.dim());
      for (int64_t d = 0; d < t.dim(); ++d) shape.Set(uint32_t(d), double(t.size(d)));
      Napi::Object out = Napi::Object::New(env);
      out.Set("dtype", safetensorsName(t.scalar_type()));
      out.Set("shape", shape);
      out.Set("data", data);
      return out;
    });
  }

  Napi::Value setTensor(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      ModelPtr m = model("Model.setTensor");
      if (!info[0].IsString()) throw TypeError("setTensor(name, dtype, shape, data): name must be a string");
      const std::string name = info[0].As<Napi::String>().Utf8Value();
      const std::string where = "setTensor('" + name + "')";
      if (!info[1].IsString()) throw TypeError(where + ": dtype must be a string");
      const torch::ScalarType dtype = parseSafetensorsFloat(info[1].As<Napi::String>().Utf8Value(), where);
      if (!info[2].IsArray()) throw TypeError(where + ": shape must be an array of integers");
      Napi::Array shape_arr = info[2].As<Napi::Array>();
      std::vector<int64_t> shape;
      int64_t numel = 1;
      for (uint32_t i = 0; i < shape_arr.Length(); ++i) {
        Napi::Value d = shape_arr.Get(i);
        double x = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
        if (x < 0 || x != std::floor(x)) throw RangeError(where + ": shape[" + std::to_string(i) + "] must be a non-negative integer");
        shape.push_back(int64_t(x));
        numel *= int64_t(x);
      }
      if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
        throw TypeError(where + ": data must be a Uint8Array");
      }
      auto data = info[3].As<Napi::Uint8Array>();
      std::lock_guard<std::mutex> lock(m->mutex());
      torch::Tensor param = m->parameter(name);
      if (param.sizes().vec() != shape) {
        throw RangeError(where + ": shape " + shapeString(shape) + " does not match the parameter's " +
                         shapeString(param.sizes().vec()));
      }
      const size_t bytes = size_t(numel) * c10::elementSize(dtype);
      if (data.ByteLength() != bytes) {
        throw RangeError(where + ": data holds " + std::to_string(data.ByteLength()) + " bytes, " + shapeString(shape) +
                         " " + info[1].As<Napi::String>().Utf8Value() + " needs " + std::to_string(bytes));
      }
      // Copied into aligned memory first: a safetensors payload may start at any byte offset.
      torch::Tensor source = torch::empty(shape, torch::TensorOptions().dtype(dtype));
      if (bytes) std::memcpy(source.data_ptr(), data.Data(), bytes);
      torch::NoGradGuard no_grad;
      param.copy_(source.to(param.device(), param.scalar_type()));
      return info.Env().Undefined();
    });
  }

  Napi::Value addLora(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      ModelPtr m = model("Model.addLora");
      model::LoraConfig config = readLoraConfig(info[0]);
      std::lock_guard<std::mutex> lock(m->mutex());
      m->add_lora(config);
      return info.Env().Undefined();
    });
  }

  Napi::Value setAdaptersEnabled(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      ModelPtr m = model("Model.setAdaptersEnabled");
      if (!info[0].IsBoolean()) throw TypeError("setAdaptersEnabled(enabled): enabled must be a boolean");
      std::lock_guard<std::mutex> lock(m->mutex());
      m->set_adapters_enabled(info[0].As<Napi::Boolean>().Value());
      return info.Env().Undefined();
    });
  }

  // score(batch, {adapters?, tokenLogps?, plainKernels?}) -> Promise<{logps, tokenLogps?}>
  Napi::Value score(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    try {
      ModelPtr m = model("Model.score");
      model::PackedResponses batch = readPackedResponses(info[0], "batch");
      Napi::Object options = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
      const bool want_tokens = getBoolOr(options, "tokenLogps", false);
      const bool plain = getBoolOr(options, "plainKernels", false);
      const bool adapters = getBoolOr(options, "adapters", m->adapters_enabled());
      auto logps = std::make_shared<torch::Tensor>();
      auto tokens = std::make_shared<torch::Tensor>();
      auto work = [m, batch, want_tokens, plain, adapters, logps, tokens] {
        std::lock_guard<std::mutex> lock(m->mutex());
        CallMode mode(*m, adapters);
        torch::NoGradGuard no_grad;
        torch::Tensor per_token;
        torch::Tensor summed = plain ? m->score_plain(batch, &per_token) : m->score(batch, &per_token);
        *logps = summed.to(torch::kCPU, torch::kDouble);
        if (want_tokens) *tokens = per_token.to(torch::kCPU, torch::kDouble);
      };
      auto finish = [logps, tokens, want_tokens](Napi::Env env) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("logps", toTypedArray(env, *logps));
        if (want_tokens) out.Set("tokenLogps", toTypedArray(env, *tokens));
        return out;
      };
      return PromiseWorker::run(env, "sdpo.Model.score", work, finish, {info.This()});
    } catch (...) {
      return rejectedPromise(env, std::current_exception());
    }
  }

  // scoreGradients(batch, weights: Float64Array [R], names: string[], {adapters?}) ->
  //   Promise<Float64Array[]>: d(sum_r weights[r] * logp_r) / d(parameter) for each name, as float64.
  // A diagnostic and test hook (gradient checks); training uses the native training step.
  Napi::Value scoreGradients(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    try {
      ModelPtr m = model("Model.scoreGradients");
      model::PackedResponses batch = readPackedResponses(info[0], "batch");
      torch::Tensor weights = viewTypedArray(info[1], "weights", torch::kDouble).clone();
      if (!info[2].IsArray()) throw TypeError("scoreGradients: names must be an array of parameter names");
      std::vector<std::string> names;
      Napi::Array arr = info[2].As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        if (!arr.Get(i).IsString()) throw TypeError("scoreGradients: names[" + std::to_string(i) + "] must be a string");
        names.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
      }
      Napi::Object options = info[3].IsObject() ? info[3].As<Napi::Object>() : Napi::Object::New(env);
      const bool adapters = getBoolOr(options, "adapters", m->adapters_enabled());
      const bool train = getBoolOr(options, "train", false);
      const bool plain = getBoolOr(options, "plainKernels", false);
      auto grads = std::make_shared<std::vector<torch::Tensor>>();
      auto work = [m, batch, weights, names, adapters, train, plain, grads] {
        std::lock_guard<std::mutex> lock(m->mutex());
        CallMode mode(*m, adapters, train);
        std::vector<torch::Tensor> params;
        std::vector<bool> required;
        for (const auto& name : names) {
          params.push_back(m->parameter(name));
          required.push_back(params.back().requires_grad());
        }
        // Gradients w.r.t. frozen base weights too: switch requires_grad on for this call only.
        for (auto& p : params) p.set_requires_grad(true);
        try {
          torch::Tensor logps = plain ? m->score_plain(batch) : m->score(batch);
          if (weights.numel() != logps.numel()) {
            throw RangeError("scoreGradients: weights must have one entry per response (" +
                             std::to_string(logps.numel()) + "), got " + std::to_string(weights.numel()));
          }
          torch::Tensor objective = (logps * weights.to(logps.device(), logps.scalar_type())).sum();
          // Nothing requested takes part (e.g. adapters switched off): every gradient is zero.
          std::vector<torch::Tensor> g(params.size());
          if (objective.requires_grad()) g = torch::autograd::grad({objective}, params, {}, false, false, /*allow_unused=*/true);
          for (size_t i = 0; i < params.size(); ++i) {
            grads->push_back(g[i].defined() ? g[i].to(torch::kCPU, torch::kDouble) : torch::zeros(params[i].sizes(), torch::kDouble));
          }
        } catch (...) {
          for (size_t i = 0; i < params.size(); ++i) params[i].set_requires_grad(required[i]);
          throw;
        }
        for (size_t i = 0; i < params.size(); ++i) params[i].set_requires_grad(required[i]);
      };
      auto finish = [grads](Napi::Env env) -> Napi::Value {
        Napi::Array out = Napi::Array::New(env, grads->size());
        for (size_t i = 0; i < grads->size(); ++i) out.Set(uint32_t(i), toTypedArray(env, (*grads)[i]));
        return out;
      };
      return PromiseWorker::run(env, "sdpo.Model.scoreGradients", work, finish, {info.This()});
    } catch (...) {
      return rejectedPromise(env, std::current_exception());
    }
  }

  // generate(promptIds, promptOffsets, {maxNewTokens, eosTokenId, adapters?, plainKernels?, allowed?})
  Napi::Value generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    try {
      ModelPtr m = model("Model.generate");
      torch::Tensor ids = viewTypedArray(info[0], "promptIds", torch::kInt).to(torch::kLong);
      torch::Tensor offsets = viewTypedArray(info[1], "promptOffsets", torch::kInt).to(torch::kLong);
      if (!info[2].IsObject()) throw TypeError("generate: options must be an object {maxNewTokens, eosTokenId}");
      Napi::Object options = info[2].As<Napi::Object>();
      model::GenerateOptions g;
      const double max_new = getNumber(options, "maxNewTokens", "options");
      const double eos = getNumber(options, "eosTokenId", "options");
      if (max_new != std::floor(max_new)) throw RangeError("options.maxNewTokens must be an integer");
      if (eos != std::floor(eos)) throw RangeError("options.eosTokenId must be an integer");
      g.max_new_tokens = int64_t(max_new);
      g.eos_token_id = int64_t(eos);
      Napi::Value allowed = options.Get("allowed");
      if (!allowed.IsUndefined() && !allowed.IsNull()) {
        if (!allowed.IsObject()) throw TypeError("options.allowed must be an object {ids, offsets, promptOffsets}");
        Napi::Object a = allowed.As<Napi::Object>();
        g.allowed_ids = readInt32List(a, "ids", "options.allowed");
        g.allowed_offsets = readInt32List(a, "offsets", "options.allowed");
        g.allowed_prompt_offsets = readInt32List(a, "promptOffsets", "options.allowed");
      }
      const bool adapters = getBoolOr(options, "adapters", m->adapters_enabled());
      const bool plain = getBoolOr(options, "plainKernels", false);
      auto result = std::make_shared<std::vector<std::vector<int64_t>>>();
      auto work = [m, ids, offsets, g, adapters, plain, result] {
        std::lock_guard<std::mutex> lock(m->mutex());
        CallMode mode(*m, adapters);
        *result = plain ? m->generate_plain(ids, offsets, g) : m->generate(ids, offsets, g);
      };
      auto finish = [result](Napi::Env env) -> Napi::Value { return packedLists(env, *result); };
      return PromiseWorker::run(env, "sdpo.Model.generate", work, finish, {info.This()});
    } catch (...) {
      return rejectedPromise(env, std::current_exception());
    }
  }

  Napi::Value setGradientCheckpointing(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      ModelPtr m = model("Model.setGradientCheckpointing");
      if (!info[0].IsBoolean()) throw TypeError("setGradientCheckpointing(enabled): enabled must be a boolean");
      std::lock_guard<std::mutex> lock(m->mutex());
      m->set_gradient_checkpointing(info[0].As<Napi::Boolean>().Value());
      return info.Env().Undefined();
    });
  }

  // A deep copy with every parameter frozen (the reference policy of full fine-tuning).
  Napi::Value cloneFrozen(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      ModelPtr m = model("Model.cloneFrozen");
      ModelPtr copy;
      {
        std::lock_guard<std::mutex> lock(m->mutex());
        copy = m->clone_frozen();
      }
      Napi::Function ctor = info.This().As<Napi::Object>().Get("constructor").As<Napi::Function>();
      return ctor.New({Napi::External<ModelPtr>::New(info.Env(), &copy)});
    });
  }

  Napi::Value dispose(const Napi::CallbackInfo& info) {
    // In-flight calls hold their own reference; the model is freed when the last one settles.
    model_.reset();
    return info.Env().Undefined();
  }

  ModelPtr model_;
};

static void initModel(Napi::Env env, Napi::Object exports) { exports.Set("Model", ModelWrap::define(env)); }

std::shared_ptr<model::CausalLMImpl> unwrapModel(const Napi::Value& v, const std::string& what) {
  if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kModelTag)) {
    throw TypeError(what + " must be a Model");
  }
  ModelWrap* wrap = ModelWrap::Unwrap(v.As<Napi::Object>());
  if (wrap == nullptr) throw TypeError(what + " must be a Model");
  return wrap->model("Model.use");
}

}  // namespace sdpo

SDPO_REGISTER_BINDING(model, sdpo::initModel);
