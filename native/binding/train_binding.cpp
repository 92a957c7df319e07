// `Trainer`: the native half of a training run over a Model (see native/train/).
//
//   new Trainer(model, { loss, beta, weightDecay, weightDecayAllParameters, adamBeta1, adamBeta2, adamEpsilon,
//                        maxGradNorm, referenceMode })
//   step(batch, { learningRate, optimizerStep, weight }) -> Promise<stats>
//   evaluate(batch) -> Promise<stats>
//   optimizerState() / loadOptimizerState(state), rngState() / setRngState(bytes), dispose()
//   attachProcessGroup({ bucketBytes }): data parallelism, gradients summed over the process group's ranks
//   applyUpdate({ learningRate }) -> Promise<stats>: the optimizer step of a rank with no examples in it
//   zeroGrad() -> Promise<void>: drops the accumulated gradients (in order with the steps)
#include <napi.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "binding/async.h"
#include "binding/errors.h"
#include "binding/model_wrap.h"
#include "binding/registry.h"
#include "binding/tensor_convert.h"
#include "binding/train_batch.h"
#include "distributed/gradient_allreduce.h"
#include "distributed/process_group.h"
#include "train/reference_policy.h"
#include "train/train_step.h"

namespace sdpo {
namespace {

using model::CausalLMImpl;
using model::PackedResponses;

// Names of the trainable parameters, whatever container trainable_parameters() hands back:
// named pairs / an OrderedDict directly, bare tensors by looking them up in named_parameters().
template <class Model>
std::vector<train::NamedTensor> namedTrainable(Model& m) {
  auto trainable = m.trainable_parameters();
  std::vector<train::NamedTensor> out;
  using Elem = std::decay_t<decltype(*std::begin(trainable))>;
  if constexpr (std::is_same_v<Elem, torch::Tensor>) {
    std::unordered_map<const void*, std::string> names;
    for (const auto& item : m.named_parameters(/*recurse=*/true)) {
      names.emplace(item.value().unsafeGetTensorImpl(), item.key());
    }
    size_t i = 0;
    for (const auto& t : trainable) {
      auto it = names.find(t.unsafeGetTensorImpl());
      out.push_back({it != names.end() ? it->second : "param." + std::to_string(i), t});
      ++i;
    }
  } else if constexpr (std::is_same_v<Elem, std::pair<std::string, torch::Tensor>>) {
    for (const auto& p : trainable) out.push_back({p.first, p.second});
  } else {
    for (const auto& item : trainable) out.push_back({item.key(), item.value()});
  }
  return out;
}

const char* safetensorsTag(torch::ScalarType t) {
  switch (t) {
    case torch::kDouble: return "F64";
    case torch::kFloat: return "F32";
    case torch::kHalf: return "F16";
    case torch::kBFloat16: return "BF16";
    default: throw RangeError(std::string("optimizer state: unsupported dtype ") + dtypeName(t));
  }
}

torch::ScalarType dtypeFromTag(const std::string& tag, const std::string& what) {
  if (tag == "F64") return torch::kDouble;
  if (tag == "F32") return torch::kFloat;
  if (tag == "F16") return torch::kHalf;
  if (tag == "BF16") return torch::kBFloat16;
  throw RangeError(what + ": dtype must be F64, F32, F16 or BF16 (got '" + tag + "')");
}

Napi::Object statsToJs(Napi::Env env, const train::StepStats& s, int64_t optimizerSteps) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", s.loss);
  out.Set("chosenReward", s.chosen_reward);
  out.Set("rejectedReward", s.rejected_reward);
  out.Set("rewardAccuracy", s.reward_accuracy);
  out.Set("rewardMargin", s.reward_margin);
  out.Set("gradNorm", s.grad_norm);
  out.Set("examples", static_cast<double>(s.examples));
  out.Set("responses", static_cast<double>(s.responses));
  out.Set("tokens", static_cast<double>(s.tokens));
  out.Set("lossTokens", static_cast<double>(s.loss_tokens));
  out.Set("optimizerStep", s.optimizer_step);
  out.Set("gradSyncSeconds", s.grad_sync_seconds);
  out.Set("optimizerSteps", static_cast<double>(optimizerSteps));
  return out;
}

// Sets the model's training mode (dropout) and residual dropout rate for one call and restores the previous ones.
class ModeScope {
 public:
  ModeScope(CausalLMImpl& m, bool training, double residual_dropout = 0.0)
      : m_(m), was_(m.is_training()), was_dropout_(m.residual_dropout()) {
    m_.train(training);
    m_.set_residual_dropout(residual_dropout);
  }
  ~ModeScope() {
    m_.train(was_);
    m_.set_residual_dropout(was_dropout_);
  }
  ModeScope(const ModeScope&) = delete;
  ModeScope& operator=(const ModeScope&) = delete;

 private:
  CausalLMImpl& m_;
  bool was_;
  double was_dropout_;
};

class TrainerWrap : public Napi::ObjectWrap<TrainerWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Trainer",
                       {InstanceMethod("step", &TrainerWrap::step),
                        InstanceMethod("evaluate", &TrainerWrap::evaluate),
                        InstanceMethod("attachProcessGroup", &TrainerWrap::attachProcessGroup),
                        InstanceMethod("applyUpdate", &TrainerWrap::applyUpdate),
                        InstanceMethod("zeroGrad", &TrainerWrap::zeroGrad),
                        InstanceMethod("optimizerState", &TrainerWrap::optimizerState),
                        InstanceMethod("loadOptimizerState", &TrainerWrap::loadOptimizerState),
                        InstanceMethod("rngState", &TrainerWrap::rngState),
                        InstanceMethod("setRngState", &TrainerWrap::setRngState),
                        InstanceMethod("dispose", &TrainerWrap::dispose),
                        InstanceAccessor("disposed", &TrainerWrap::disposed, nullptr),
                        InstanceAccessor("loss", &TrainerWrap::lossName, nullptr),
                        InstanceAccessor("referenceMode", &TrainerWrap::referenceMode, nullptr)});
  }

  explicit TrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainerWrap>(info) {
    guardVoid(info.Env(), [&] {
      if (info.Length() < 2 || !info[1].IsObject()) {
        throw TypeError("new Trainer(model, options): options must be an object");
      }
      model_ = unwrapModel(info[0], "Trainer(model)");
      Napi::Object o = info[1].As<Napi::Object>();
      const std::string where = "Trainer options";
      if (!o.Has("loss") || !o.Get("loss").IsString()) throw TypeError("Trainer options.loss must be a string");
      train::TrainStepOptions options;
      options.loss = train::parseLossKind(o.Get("loss").As<Napi::String>().Utf8Value());
      options.beta = getNumberOr(o, "beta", 1.0, where);
      options.max_grad_norm = getNumberOr(o, "maxGradNorm", 1.0, where);
      options.list_weight = getNumberOr(o, "listWeight", 0.0, where);
      options.list_smoothing = getNumberOr(o, "listSmoothing", 0.0, where);
      options.history_unlikelihood = getNumberOr(o, "historyUnlikelihood", 0.0, where);
      options.residual_dropout = getNumberOr(o, "residualDropout", 0.0, where);
      options.chosen_nll_weight = getNumberOr(o, "chosenNllWeight", 0.0, where);
      options.adam.beta1 = getNumberOr(o, "adamBeta1", 0.9, where);
      options.adam.beta2 = getNumberOr(o, "adamBeta2", 0.999, where);
      options.adam.eps = getNumberOr(o, "adamEpsilon", 1e-8, where);
      options.adam.weight_decay = getNumberOr(o, "weightDecay", 0.0, where);
      options.adam.decay_all_parameters = getBoolOr(o, "weightDecayAllParameters", false);
      if (o.Has("rewardMargin") && !o.Get("rewardMargin").IsUndefined()) {
        if (options.loss != train::LossKind::NAPO) {
          throw RangeError("Trainer options.rewardMargin is a napo option (loss is '" +
                           std::string(train::lossKindName(options.loss)) + "')");
        }
        if (!o.Get("rewardMargin").IsObject()) {
          throw TypeError("Trainer options.rewardMargin must be { mode, gamma, tau, confidence }");
        }
        Napi::Object rm = o.Get("rewardMargin").As<Napi::Object>();
        const std::string at = "Trainer options.rewardMargin";
        if (rm.Has("mode") && !rm.Get("mode").IsUndefined()) {
          if (!rm.Get("mode").IsString()) throw TypeError(at + ".mode must be a string");
          options.margin.mode = train::parseMarginMode(rm.Get("mode").As<Napi::String>().Utf8Value());
        }
        options.margin.gamma = getNumberOr(rm, "gamma", options.margin.gamma, at);
        options.margin.tau = getNumberOr(rm, "tau", options.margin.tau, at);
        if (rm.Has("confidence") && !rm.Get("confidence").IsUndefined()) {
          const Napi::Value c = rm.Get("confidence");
          const std::string name = c.IsString() ? c.As<Napi::String>().Utf8Value() : std::string("?");
          if (name != "reference" && name != "policy") {
            throw RangeError(at + ".confidence must be 'reference' or 'policy'");
          }
          options.margin.policy_confidence = name == "policy";
        }
      }
      train::ReferenceMode reference = train::ReferenceMode::AdaptersOff;
      if (o.Has("referenceMode") && !o.Get("referenceMode").IsUndefined()) {
        if (!o.Get("referenceMode").IsString()) throw TypeError("Trainer options.referenceMode must be a string");
        reference = train::parseReferenceMode(o.Get("referenceMode").As<Napi::String>().Utf8Value());
      }
      referenceMode_ = train::referenceModeName(reference);
      std::shared_ptr<CausalLMImpl> m = model_;
      std::unique_lock lock(m->mutex());
      train::Scorers scorers = train::makeScorers(m, options.loss, reference);
      step_ = std::make_shared<train::TrainStep>(std::move(scorers), namedTrainable(*m), options);
    });
  }

 private:
  void requireLive(const char* method) const {
    if (!step_) throw std::runtime_error(std::string("Trainer.") + method + "(): the trainer was disposed");
  }

  Napi::Value step(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      requireLive("step");
      train::StepBatch batch = stepBatchFromJs(info[0], "step(batch)");
      if (info.Length() < 2 || !info[1].IsObject()) {
        throw TypeError("step(batch, options): options must be { learningRate, optimizerStep, weight }");
      }
      Napi::Object o = info[1].As<Napi::Object>();
      const bool optimizerStep = getBoolOr(o, "optimizerStep", true);
      const double lr = optimizerStep ? getNumber(o, "learningRate", "step options") : 0.0;
      const double weight = getNumberOr(o, "weight", 1.0, "step options");
      if (!(weight > 0) || !std::isfinite(weight)) {
        throw RangeError("step options.weight must be a finite number > 0 (the micro-batch's share of the step)");
      }
      if (optimizerStep && !(lr >= 0)) throw RangeError("step options.learningRate must be a finite number >= 0");
      auto stepper = step_;
      auto m = model_;
      auto stats = std::make_shared<train::StepStats>();
      auto steps = std::make_shared<int64_t>(0);
      return PromiseWorker::run(
          info.Env(), "sdpo.Trainer.step",
          [stepper, m, batch, lr, optimizerStep, weight, stats, steps] {
            std::unique_lock lock(m->mutex());
            // The model rests in eval mode; LoRA and residual dropout are on only inside a training step.
            ModeScope mode(*m, true, stepper->options().residual_dropout);
            *stats = stepper->step(batch, lr, optimizerStep, weight);
            *steps = stepper->optimizer().step_count();
          },
          [stats, steps](Napi::Env env) -> Napi::Value { return statsToJs(env, *stats, *steps); },
          {info.This()});
    });
  }

  Napi::Value attachProcessGroup(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      requireLive("attachProcessGroup");
      const std::string where = "attachProcessGroup(options)";
      Napi::Object o = requireObject(info, 0, where);
      const double bucketBytes = getNumberOr(o, "bucketBytes", static_cast<double>(dist::kDefaultBucketBytes), where);
      if (!(bucketBytes >= 0) || bucketBytes != std::floor(bucketBytes) || bucketBytes > 1e15) {
        throw RangeError(where + ".bucketBytes must be a whole number >= 0 (0: one bucket per tensor)");
      }
      auto group = dist::currentProcessGroup();
      if (!group) throw std::runtime_error("Trainer.attachProcessGroup(): no process group; call initDistributed() first");
      std::unique_lock lock(model_->mutex(), std::try_to_lock);
      if (!lock.owns_lock()) throw std::runtime_error("Trainer.attachProcessGroup(): a step is in flight; await it first");
      const auto bytes = static_cast<int64_t>(bucketBytes);
      auto stepper = step_.get();
      step_->set_gradient_sync([group, bytes, stepper](const std::vector<train::NamedTensor>& params) {
        dist::allReduceGradients(*group, params, bytes,
                                 "gradients of optimizer step " + std::to_string(stepper->optimizer().step_count() + 1));
      });
      return info.Env().Undefined();
    });
  }

  Napi::Value applyUpdate(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      requireLive("applyUpdate");
      Napi::Object o = requireObject(info, 0, "applyUpdate(options)");
      const double lr = getNumber(o, "learningRate", "applyUpdate options");
      if (!(lr >= 0)) throw RangeError("applyUpdate options.learningRate must be a finite number >= 0");
      if (!step_->has_gradient_sync()) {
        throw std::runtime_error("Trainer.applyUpdate(): only a data-parallel trainer (attachProcessGroup) takes a step without examples");
      }
      auto stepper = step_;
      auto m = model_;
      auto stats = std::make_shared<train::StepStats>();
      auto steps = std::make_shared<int64_t>(0);
      return PromiseWorker::run(
          info.Env(), "sdpo.Trainer.applyUpdate",
          [stepper, m, lr, stats, steps] {
            std::unique_lock lock(m->mutex());
            *stats = stepper->apply_update(lr);
            *steps = stepper->optimizer().step_count();
          },
          [stats, steps](Napi::Env env) -> Napi::Value { return statsToJs(env, *stats, *steps); },
          {info.This()});
    });
  }

  // Asynchronous like step(): it waits for the model's lock in line with the calls before it instead of
  // failing while one is in flight.
  Napi::Value zeroGrad(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      requireLive("zeroGrad");
      auto stepper = step_;
      auto m = model_;
      return PromiseWorker::run(
          info.Env(), "sdpo.Trainer.zeroGrad",
          [stepper, m] {
            std::unique_lock lock(m->mutex());
            stepper->zero_grad();
          },
          [](Napi::Env env) -> Napi::Value { return env.Undefined(); }, {info.This()});
    });
  }

  Napi::Value evaluate(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      requireLive("evaluate");
      train::StepBatch batch = stepBatchFromJs(info[0], "evaluate(batch)");
      auto stepper = step_;
      auto m = model_;
      auto stats = std::make_shared<train::StepStats>();
      auto steps = std::make_shared<int64_t>(0);
      return PromiseWorker::run(
          info.Env(), "sdpo.Trainer.evaluate",
          [stepper, m, batch, stats, steps] {
            std::unique_lock lock(m->mutex());
            // Evaluation must not move the training random stream (LoRA dropout), or a run that
            // evaluates would differ from one that does not, and resume would not be exact.
            at::Generator gen = at::globalContext().defaultGenerator(m->device());
            torch::Tensor saved;
            {
              std::lock_guard<std::mutex> g(gen.mutex());
              saved = gen.get_state();
            }
            struct RestoreRng {
              at::Generator& gen;
              torch::Tensor& saved;
              ~RestoreRng() {
                std::lock_guard<std::mutex> g(gen.mutex());
                gen.set_state(saved);
              }
            } restore{gen, saved};
            ModeScope mode(*m, false);  // no dropout while evaluating
            *stats = stepper->evaluate(batch);
            *steps = stepper->optimizer().step_count();
          },
          [stats, steps](Napi::Env env) -> Napi::Value { return statsToJs(env, *stats, *steps); },
          {info.This()});
    });
  }

  // { step, tensors: [{ name, dtype, shape, data }] } — a synchronous copy; refuses while a step runs.
  Napi::Value optimizerState(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      requireLive("optimizerState");
      std::unique_lock lock(model_->mutex(), std::try_to_lock);
      if (!lock.owns_lock()) throw std::runtime_error("Trainer.optimizerState(): a step is in flight; await it first");
      Napi::Env env = info.Env();
      auto& opt = step_->optimizer();
      Napi::Array tensors = Napi::Array::New(env);
      uint32_t i = 0;
      for (const auto& entry : opt.state()) {
        torch::Tensor t = entry.tensor.contiguous();
        Napi::Object item = Napi::Object::New(env);
        item.Set("name", entry.name);
        item.Set("dtype", safetensorsTag(t.scalar_type()));
        Napi::Array shape = Napi::Array::New(env, t.dim());
        for (int64_t d = 0; d < t.dim(); ++d) shape.Set(static_cast<uint32_t>(d), static_cast<double>(t.size(d)));
        item.Set("shape", shape);
        const size_t bytes = t.numel() * t.element_size();
        auto data = Napi::Uint8Array::New(env, bytes);
        if (bytes) std::memcpy(data.Data(), t.data_ptr(), bytes);
        item.Set("data", data);
        tensors.Set(i++, item);
      }
      Napi::Object out = Napi::Object::New(env);
      out.Set("step", static_cast<double>(opt.step_count()));
      out.Set("tensors", tensors);
      return out;
    });
  }

  Napi::Value loadOptimizerState(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      requireLive("loadOptimizerState");
      const std::string what = "loadOptimizerState(state)";
      if (info.Length() < 1 || !info[0].IsObject()) throw TypeError(what + ": state must be { step, tensors }");
      Napi::Object o = info[0].As<Napi::Object>();
      const double stepCount = getNumber(o, "step", what);
      if (stepCount < 0 || stepCount != static_cast<double>(static_cast<int64_t>(stepCount))) {
        throw RangeError(what + ": step must be a whole number >= 0");
      }
      if (!o.Has("tensors") || !o.Get("tensors").IsArray()) throw TypeError(what + ": tensors must be an array");
      Napi::Array list = o.Get("tensors").As<Napi::Array>();
      std::vector<train::NamedTensor> state;
      for (uint32_t i = 0; i < list.Length(); ++i) {
        const std::string at = what + ".tensors[" + std::to_string(i) + "]";
        if (!list.Get(i).IsObject()) throw TypeError(at + " must be an object");
        Napi::Object item = list.Get(i).As<Napi::Object>();
        if (!item.Get("name").IsString() || !item.Get("dtype").IsString() || !item.Get("shape").IsArray() ||
            !item.Get("data").IsTypedArray()) {
          throw TypeError(at + " must be { name: string, dtype: string, shape: number[], data: Uint8Array }");
        }
        const std::string name = item.Get("name").As<Napi::String>().Utf8Value();
        torch::ScalarType dtype = dtypeFromTag(item.Get("dtype").As<Napi::String>().Utf8Value(), at);
        Napi::Array shapeJs = item.Get("shape").As<Napi::Array>();
        std::vector<int64_t> shape;
        int64_t numel = 1;
        for (uint32_t d = 0; d < shapeJs.Length(); ++d) {
          double v = shapeJs.Get(d).ToNumber().DoubleValue();
          if (!(v >= 0) || v != static_cast<double>(static_cast<int64_t>(v))) {
            throw RangeError(at + ".shape must hold whole numbers >= 0");
          }
          shape.push_back(static_cast<int64_t>(v));
          numel *= shape.back();
        }
        auto data = item.Get("data").As<Napi::TypedArray>();
        const size_t expected = static_cast<size_t>(numel) * c10::elementSize(dtype);
        if (data.ByteLength() != expected) {
          throw RangeError(at + " ('" + name + "'): data holds " + std::to_string(data.ByteLength()) +
                           " bytes, shape and dtype need " + std::to_string(expected));
        }
        torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(dtype));
        if (expected) {
          auto* base = static_cast<uint8_t*>(data.ArrayBuffer().Data()) + data.ByteOffset();
          std::memcpy(t.data_ptr(), base, expected);
        }
        state.push_back({name, t});
      }
      std::unique_lock lock(model_->mutex(), std::try_to_lock);
      if (!lock.owns_lock()) throw std::runtime_error(what + ": a step is in flight; await it first");
      step_->optimizer().load_state(static_cast<int64_t>(stepCount), state);
      return info.Env().Undefined();
    });
  }

  // State of the default random generator of the model's device (LoRA dropout draws from it).
  at::Generator generator() const { return at::globalContext().defaultGenerator(model_->device()); }

  Napi::Value rngState(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      requireLive("rngState");
      at::Generator gen = generator();
      torch::Tensor state;
      {
        std::lock_guard<std::mutex> lock(gen.mutex());
        state = gen.get_state().contiguous();
      }
      auto out = Napi::Uint8Array::New(info.Env(), state.numel());
      if (state.numel()) std::memcpy(out.Data(), state.data_ptr(), state.numel());
      return out;
    });
  }

  Napi::Value setRngState(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      requireLive("setRngState");
      if (info.Length() < 1 || !info[0].IsTypedArray() ||
          info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
        throw TypeError("setRngState(state): state must be a Uint8Array from rngState()");
      }
      auto bytes = info[0].As<Napi::Uint8Array>();
      at::Generator gen = generator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      const size_t expected = static_cast<size_t>(gen.get_state().numel());
      if (bytes.ByteLength() != expected) {
        throw RangeError("setRngState(state): state holds " + std::to_string(bytes.ByteLength()) +
                         " bytes, this generator's state is " + std::to_string(expected));
      }
      torch::Tensor t = torch::empty({static_cast<int64_t>(expected)}, torch::kByte);
      std::memcpy(t.data_ptr(), bytes.Data(), expected);
      gen.set_state(t);
      return info.Env().Undefined();
    });
  }

  Napi::Value dispose(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      // A step in flight keeps its own references; dropping ours frees the state after it settles.
      step_.reset();
      model_.reset();
      return info.Env().Undefined();
    });
  }

  Napi::Value disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !step_); }
  Napi::Value lossName(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      requireLive("loss");
      return Napi::String::New(info.Env(), train::lossKindName(step_->options().loss));
    });
  }
  Napi::Value referenceMode(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), referenceMode_);
  }

  std::shared_ptr<CausalLMImpl> model_;
  std::shared_ptr<train::TrainStep> step_;
  std::string referenceMode_;
};

void initTrain(Napi::Env env, Napi::Object exports) { exports.Set("Trainer", TrainerWrap::define(env)); }

}  // namespace
}  // namespace sdpo

SDPO_REGISTER_BINDING(train, sdpo::initTrain);
