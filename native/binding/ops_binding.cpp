// ops: the loss functions on typed arrays, synchronous (they are small next to a training step).
//
//   sdpoLoss({policyChosen, policyRejected, referenceChosen, referenceRejected, mask?}, {beta, grad?, implementation?, device?})
//   dpoLoss(same, K = 1)
//   napoLoss(same + chosenConfidence?/rejectedConfidence?, {beta, gamma, mode?, tau?, ...}): S-DPO + margins
//   tokenLogProbs({hidden, weight, labels, n, d, v}, {grad?, ignoreIndex?, implementation?, device?, chunkRows?})
//   tokenChunkRows({device, rows, vocab, freeBytes, elementSize, requested?}): the chunk rule tokenLogProbs uses
//
// On CUDA the ops' device-side input checks are read once per call, after the backward (ops/device_checks.h).
//
// Inputs are viewed in place (no copy on CPU); results come back as typed arrays of the input dtype.
#include <napi.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <limits>
#include <string>

#include "binding/errors.h"
#include "binding/registry.h"
#include "binding/tensor_convert.h"
#include "ops/checks.h"
#include "ops/device_checks.h"
#include "ops/losses.h"

namespace sdpo {
namespace {

struct OpOptions {
  bool grad = false;
  bool plain = false;  // implementation: "plain" (composed ATen ops) instead of "fused"
  torch::Device device = torch::kCPU;
};

Napi::Object optionalObject(const Napi::CallbackInfo& info, size_t index, const std::string& what) {
  if (info.Length() <= index || info[index].IsUndefined()) return Napi::Object::New(info.Env());
  return requireObject(info, index, what);
}

std::string stringOr(const Napi::Object& obj, const char* key, const std::string& fallback, const std::string& where) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsString()) throw TypeError(where + "." + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

OpOptions readOpOptions(const Napi::Object& options, const std::string& where) {
  OpOptions out;
  Napi::Value grad = options.Get("grad");
  if (!grad.IsUndefined() && !grad.IsNull() && !grad.IsBoolean()) throw TypeError(where + ".grad must be a boolean");
  out.grad = getBoolOr(options, "grad", false);
  const std::string implementation = stringOr(options, "implementation", "fused", where);
  if (implementation != "fused" && implementation != "plain") {
    throw RangeError(where + ".implementation must be \"fused\" or \"plain\", got \"" + implementation + "\"");
  }
  out.plain = implementation == "plain";
  const std::string device = stringOr(options, "device", "cpu", where);
  if (device == "cuda") {
    if (!torch::cuda::is_available()) {
      throw Napi::Error::New(options.Env(), where + ".device is \"cuda\" but CUDA is not available in this build " +
                                                "or on this machine (use device \"cpu\")");
    }
    out.device = torch::Device(torch::kCUDA);
  } else if (device != "cpu") {
    throw RangeError(where + ".device must be \"cpu\" or \"cuda\", got \"" + device + "\"");
  }
  return out;
}

// A float typed array viewed as a tensor; `dtype` (if set) is the dtype the first array fixed.
torch::Tensor floatView(const Napi::Object& inputs, const char* key, c10::optional<torch::ScalarType>& dtype) {
  const std::string what = std::string("inputs.") + key;
  Napi::Value value = inputs.Get(key);
  if (!value.IsTypedArray()) throw TypeError(what + " must be a Float32Array or Float64Array");
  const auto kind = value.As<Napi::TypedArray>().TypedArrayType();
  if (kind != napi_float32_array && kind != napi_float64_array) {
    throw TypeError(what + " must be a Float32Array or Float64Array");
  }
  torch::Tensor t = viewTypedArray(value, what);
  if (dtype && *dtype != t.scalar_type()) {
    throw TypeError(what + " is " + dtypeName(t.scalar_type()) + " but the other inputs are " + dtypeName(*dtype) +
                    "; all float inputs must share one dtype");
  }
  dtype = t.scalar_type();
  return t;
}

// Moves a view to the op's device; a leaf that records its gradient when `grad`.
torch::Tensor onDevice(const torch::Tensor& view, const OpOptions& options, bool wantsGrad) {
  torch::Tensor t = options.device.is_cpu() ? view.detach() : view.to(options.device);
  if (wantsGrad && options.grad) t.set_requires_grad(true);
  return t;
}

int64_t sizeValue(const Napi::Object& inputs, const char* key) {
  const std::string where = "inputs";
  double value = getNumber(inputs, key, where);
  if (value < 1 || value != static_cast<double>(static_cast<int64_t>(value))) {
    throw RangeError(where + "." + key + " must be a positive integer, got " + std::to_string(value));
  }
  return static_cast<int64_t>(value);
}

// The four preference arrays of a loss call, checked, on the op's device; the policy ones record gradients.
struct PreferenceTensors {
  torch::Tensor policy_chosen, policy_rejected, reference_chosen, reference_rejected;  // rejected: [B*K]
  torch::Tensor mask;  // [B, K] bool on the op's device, or undefined
  int64_t rows = 0, negatives = 0;
  torch::ScalarType dtype = torch::kFloat;
  torch::Tensor policyRejected2d() const { return policy_rejected.view({rows, negatives}); }
  torch::Tensor referenceRejected2d() const { return reference_rejected.view({rows, negatives}); }
};

PreferenceTensors readPreferenceTensors(const Napi::Object& inputs, const OpOptions& op, const std::string& name,
                                        bool takesMask, bool singleRejected) {
  c10::optional<torch::ScalarType> dtype;
  torch::Tensor pc = floatView(inputs, "policyChosen", dtype);
  torch::Tensor pr = floatView(inputs, "policyRejected", dtype);
  torch::Tensor rc = floatView(inputs, "referenceChosen", dtype);
  torch::Tensor rr = floatView(inputs, "referenceRejected", dtype);
  const int64_t rows = pc.numel();
  if (rows == 0) throw RangeError("inputs.policyChosen is empty; the batch needs at least one row");
  if (pr.numel() == 0) throw RangeError("inputs.policyRejected is empty: K = 0 negatives; K must be >= 1");
  if (pr.numel() % rows != 0) {
    throw RangeError("inputs.policyRejected has length " + std::to_string(pr.numel()) +
                     ", not a multiple of B = " + std::to_string(rows) + " (row-major [B][K])");
  }
  const int64_t negatives = pr.numel() / rows;
  if (singleRejected && negatives != 1) {
    throw RangeError(name + " takes one rejected per row: inputs.policyRejected must have length B = " +
                     std::to_string(rows) + ", got " + std::to_string(pr.numel()));
  }
  if (rc.numel() != rows) {
    throw RangeError("inputs.referenceChosen must have length B = " + std::to_string(rows) + ", got " +
                     std::to_string(rc.numel()));
  }
  if (rr.numel() != rows * negatives) {
    throw RangeError("inputs.referenceRejected must have length B*K = " + std::to_string(rows * negatives) +
                     ", got " + std::to_string(rr.numel()));
  }
  PreferenceTensors out;
  Napi::Value mask_value = inputs.Get("mask");
  if (!mask_value.IsUndefined() && !mask_value.IsNull()) {
    if (!takesMask) throw TypeError(name + " takes no inputs.mask");
    if (!mask_value.IsTypedArray() || mask_value.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw TypeError("inputs.mask must be a Uint8Array");
    }
    auto array = mask_value.As<Napi::Uint8Array>();
    if (static_cast<int64_t>(array.ElementLength()) != rows * negatives) {
      throw RangeError("inputs.mask must have length B*K = " + std::to_string(rows * negatives) + ", got " +
                       std::to_string(array.ElementLength()));
    }
    // Any nonzero byte is a real negative; the != 0 makes a proper bool tensor (a small copy).
    out.mask = torch::from_blob(array.Data(), {rows, negatives}, torch::TensorOptions().dtype(torch::kUInt8)).ne(0);
    out.mask = out.mask.to(op.device);
  }
  requireFinite(pc, "inputs.policyChosen");
  requireFinite(pr, "inputs.policyRejected");
  requireFinite(rc, "inputs.referenceChosen");
  requireFinite(rr, "inputs.referenceRejected");

  out.rows = rows;
  out.negatives = negatives;
  out.dtype = *dtype;
  out.policy_chosen = onDevice(pc, op, true);
  out.policy_rejected = onDevice(pr, op, true);
  out.reference_chosen = onDevice(rc, op, false);
  out.reference_rejected = onDevice(rr, op, false);
  return out;
}

// Runs `loss` (per-row losses) under the op's grad mode, backward of the mean when asked, and builds the
// result object every preference loss returns.
template <typename LossFn>
Napi::Object runPreferenceLoss(Napi::Env env, const PreferenceTensors& in, const OpOptions& op, double beta,
                               LossFn loss) {
  torch::Tensor losses;
  {
    ops::DeviceCheckScope input_checks;  // CUDA: the device-side input checks are read once, here
    torch::AutoGradMode grad_mode(op.grad);
    losses = loss();
    torch::Tensor mean = losses.mean();
    if (op.grad) mean.backward();
    input_checks.flush();
  }
  Napi::Object out = Napi::Object::New(env);
  torch::NoGradGuard no_grad;
  out.Set("loss", losses.mean().item<double>());
  out.Set("losses", toTypedArray(env, losses));
  out.Set("chosenRewards", toTypedArray(env, beta * (in.policy_chosen - in.reference_chosen)));
  torch::Tensor rejected_rewards = beta * (in.policy_rejected - in.reference_rejected);
  if (in.mask.defined()) {  // a masked-out slot holds no negative: NaN, not a reward computed from filler
    rejected_rewards = rejected_rewards.masked_fill(in.mask.reshape({-1}).logical_not(),
                                                    std::numeric_limits<double>::quiet_NaN());
  }
  out.Set("rejectedRewards", toTypedArray(env, rejected_rewards));
  if (op.grad) {
    Napi::Object grad = Napi::Object::New(env);
    grad.Set("policyChosen", toTypedArray(env, in.policy_chosen.grad()));
    grad.Set("policyRejected", toTypedArray(env, in.policy_rejected.grad()));
    out.Set("grad", grad);
  }
  return out;
}

Napi::Value preferenceLoss(const Napi::CallbackInfo& info, bool softmax) {
  const std::string name = softmax ? "sdpoLoss" : "dpoLoss";
  Napi::Object inputs = requireObject(info, 0, name + " inputs");
  Napi::Object options = requireObject(info, 1, name + " options");
  const double beta = getNumber(options, "beta", "options");
  const OpOptions op = readOpOptions(options, "options");
  const PreferenceTensors in = readPreferenceTensors(inputs, op, name, softmax, !softmax);
  return runPreferenceLoss(info.Env(), in, op, beta, [&] {
    if (softmax) {
      return op.plain ? ops::sdpo_loss_plain(in.policy_chosen, in.policyRejected2d(), in.reference_chosen,
                                             in.referenceRejected2d(), beta, in.mask)
                      : ops::sdpo_loss(in.policy_chosen, in.policyRejected2d(), in.reference_chosen,
                                       in.referenceRejected2d(), beta, in.mask);
    }
    return op.plain ? ops::dpo_loss_plain(in.policy_chosen, in.policy_rejected, in.reference_chosen,
                                          in.reference_rejected, beta)
                    : ops::dpo_loss(in.policy_chosen, in.policy_rejected, in.reference_chosen,
                                    in.reference_rejected, beta);
  });
}

// NAPO: the S-DPO inputs plus options.gamma, options.mode ("fixed" | "dynamic", default "fixed"),
// options.tau (dynamic, default 1) and, in dynamic mode, inputs.chosenConfidence [B] and
// inputs.rejectedConfidence [B*K] in the dtype of the other inputs. Adds `margins` [B*K] to the result.
Napi::Value napoLossBinding(const Napi::CallbackInfo& info) {
  Napi::Object inputs = requireObject(info, 0, "napoLoss inputs");
  Napi::Object options = requireObject(info, 1, "napoLoss options");
  const double beta = getNumber(options, "beta", "options");
  const OpOptions op = readOpOptions(options, "options");
  const std::string mode = stringOr(options, "mode", "fixed", "options");
  if (mode != "fixed" && mode != "dynamic") {
    throw RangeError("options.mode must be \"fixed\" or \"dynamic\", got \"" + mode + "\"");
  }
  ops::NapoMargin margin;
  margin.gamma = getNumber(options, "gamma", "options");
  margin.tau = getNumberOr(options, "tau", 1.0, "options");
  const PreferenceTensors in = readPreferenceTensors(inputs, op, "napoLoss", true, false);
  const bool dynamic = mode == "dynamic";
  for (const char* key : {"chosenConfidence", "rejectedConfidence"}) {
    Napi::Value value = inputs.Get(key);
    const bool given = !value.IsUndefined() && !value.IsNull();
    if (!dynamic && given) {
      throw TypeError(std::string("inputs.") + key + " is only used with options.mode \"dynamic\" (mode is \"fixed\")");
    }
    if (dynamic && !given) throw TypeError(std::string("inputs.") + key + " is required with options.mode \"dynamic\"");
  }
  if (dynamic) {
    c10::optional<torch::ScalarType> dtype = in.dtype;
    torch::Tensor chosen = floatView(inputs, "chosenConfidence", dtype);
    torch::Tensor rejected = floatView(inputs, "rejectedConfidence", dtype);
    if (chosen.numel() != in.rows) {
      throw RangeError("inputs.chosenConfidence must have length B = " + std::to_string(in.rows) + ", got " +
                       std::to_string(chosen.numel()));
    }
    if (rejected.numel() != in.rows * in.negatives) {
      throw RangeError("inputs.rejectedConfidence must have length B*K = " + std::to_string(in.rows * in.negatives) +
                       ", got " + std::to_string(rejected.numel()));
    }
    requireFinite(chosen, "inputs.chosenConfidence");
    requireFinite(rejected, "inputs.rejectedConfidence");
    margin.chosen_confidence = onDevice(chosen, op, false);
    margin.rejected_confidence = onDevice(rejected, op, false).view({in.rows, in.negatives});
  }
  Napi::Env env = info.Env();
  Napi::Object out = runPreferenceLoss(env, in, op, beta, [&] {
    return op.plain ? ops::napo_loss_plain(in.policy_chosen, in.policyRejected2d(), in.reference_chosen,
                                           in.referenceRejected2d(), beta, margin, in.mask)
                    : ops::napo_loss(in.policy_chosen, in.policyRejected2d(), in.reference_chosen,
                                     in.referenceRejected2d(), beta, margin, in.mask);
  });
  out.Set("margins", toTypedArray(env, ops::napo_margins(in.policyRejected2d(), margin, in.mask).reshape({-1})));
  return out;
}

Napi::Value sdpoLoss(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return preferenceLoss(info, true); });
}

Napi::Value dpoLoss(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return preferenceLoss(info, false); });
}

Napi::Value napoLoss(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return napoLossBinding(info); });
}

Napi::Value tokenLogProbs(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Object inputs = requireObject(info, 0, "tokenLogProbs inputs");
    Napi::Object options = optionalObject(info, 1, "tokenLogProbs options");
    const OpOptions op = readOpOptions(options, "options");
    const double ignore_value = getNumberOr(options, "ignoreIndex", -100, "options");
    if (ignore_value != static_cast<double>(static_cast<int64_t>(ignore_value))) {
      throw RangeError("options.ignoreIndex must be an integer");
    }
    const auto ignore_index = static_cast<int64_t>(ignore_value);
    const double chunk_value = getNumberOr(options, "chunkRows", 0, "options");
    if (chunk_value < 0 || chunk_value != static_cast<double>(static_cast<int64_t>(chunk_value))) {
      throw RangeError("options.chunkRows must be an integer >= 0 (0: chosen from v)");
    }
    const int64_t n = sizeValue(inputs, "n"), d = sizeValue(inputs, "d"), v = sizeValue(inputs, "v");

    c10::optional<torch::ScalarType> dtype;
    torch::Tensor hidden_view = floatView(inputs, "hidden", dtype);
    torch::Tensor weight_view = floatView(inputs, "weight", dtype);
    if (hidden_view.numel() != n * d) {
      throw RangeError("inputs.hidden must have length n*d = " + std::to_string(n * d) + ", got " +
                       std::to_string(hidden_view.numel()));
    }
    if (weight_view.numel() != v * d) {
      throw RangeError("inputs.weight must have length v*d = " + std::to_string(v * d) + ", got " +
                       std::to_string(weight_view.numel()));
    }
    torch::Tensor labels = viewTypedArray(inputs.Get("labels"), "inputs.labels", torch::kInt, n).to(torch::kLong);
    requireFinite(hidden_view, "inputs.hidden");
    requireFinite(weight_view, "inputs.weight");

    torch::Tensor hidden = onDevice(hidden_view.view({n, d}), op, true);
    torch::Tensor weight = onDevice(weight_view.view({v, d}), op, true);
    labels = labels.to(op.device);

    torch::Tensor logps, sft_loss;
    {
      ops::DeviceCheckScope input_checks;  // CUDA: the label check is read once, after the backward
      torch::AutoGradMode grad_mode(op.grad);
      logps = op.plain ? ops::token_logprobs_plain(hidden, weight, labels, ignore_index)
                       : ops::token_logprobs(hidden, weight, labels, ignore_index, static_cast<int64_t>(chunk_value));
      // Mean negative log-prob over the counted labels (0 when every label is ignored).
      const double counted = static_cast<double>(labels.ne(ignore_index).sum().item<int64_t>());
      sft_loss = -logps.sum() / std::max(counted, 1.0);
      if (op.grad) sft_loss.backward();
      input_checks.flush();
    }

    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("logps", toTypedArray(env, logps));
    out.Set("sftLoss", sft_loss.item<double>() + 0.0);  // + 0.0: -(0 / 1) is -0 when every label is ignored
    if (op.grad) {
      Napi::Object grad = Napi::Object::New(env);
      grad.Set("hidden", toTypedArray(env, hidden.grad()));
      grad.Set("weight", toTypedArray(env, weight.grad()));
      out.Set("grad", grad);
    }
    return out;
  });
}

// tokenChunkRows({device: "cpu" | "cuda", rows, vocab, freeBytes, elementSize, requested?}): the rows per
// logits chunk token log-probs would use (ops::chooseChunkRows), so the per-device choice is testable anywhere.
Napi::Value tokenChunkRows(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Object args = requireObject(info, 0, "tokenChunkRows arguments");
    const std::string device = stringOr(args, "device", "", "arguments");
    if (device != "cpu" && device != "cuda") {
      throw RangeError("arguments.device must be \"cpu\" or \"cuda\", got \"" + device + "\"");
    }
    auto count = [&](const char* key, double fallback) {
      const double value = getNumberOr(args, key, fallback, "arguments");
      if (!(value >= 0 && value <= 9007199254740991.0) || value != static_cast<double>(static_cast<int64_t>(value))) {
        throw RangeError(std::string("arguments.") + key + " must be an integer >= 0");
      }
      return static_cast<int64_t>(value);
    };
    const int64_t rows = count("rows", -1), vocab = count("vocab", -1), free_bytes = count("freeBytes", -1);
    const int64_t element_size = count("elementSize", -1), requested = count("requested", 0);
    if (vocab < 1) throw RangeError("arguments.vocab must be >= 1");
    if (element_size != 4 && element_size != 8) throw RangeError("arguments.elementSize must be 4 or 8");
    const int64_t chosen = ops::chooseChunkRows(device == "cuda" ? ops::ChunkDevice::Cuda : ops::ChunkDevice::Cpu,
                                                requested, rows, vocab, free_bytes, element_size);
    return Napi::Number::New(info.Env(), static_cast<double>(chosen));
  });
}

void initOps(Napi::Env env, Napi::Object exports) {
  exports.Set("tokenChunkRows", Napi::Function::New(env, tokenChunkRows, "tokenChunkRows"));
  exports.Set("sdpoLoss", Napi::Function::New(env, sdpoLoss, "sdpoLoss"));
  exports.Set("dpoLoss", Napi::Function::New(env, dpoLoss, "dpoLoss"));
  exports.Set("napoLoss", Napi::Function::New(env, napoLoss, "napoLoss"));
  exports.Set("tokenLogProbs", Napi::Function::New(env, tokenLogProbs, "tokenLogProbs"));
}

}  // namespace

SDPO_REGISTER_BINDING(ops, initOps);

}  // namespace sdpo
