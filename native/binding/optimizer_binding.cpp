// The AdamW update and gradient norm kernels on their own, to hold the fused ones to their plain versions:
//   adamwUpdate({param, grad, expAvg, expAvgSq}, {learningRate, step, beta1?, beta2?, eps?, weightDecay?,
//               gradScale?, implementation?}) -> {param, expAvg, expAvgSq}   (new arrays; inputs untouched)
//   gradSumSquares(grad, {implementation?}) -> number
// Arrays: Float32Array or Float64Array, one dtype, one length. implementation: "fused" (default) or "plain".
#include <napi.h>
#include <torch/torch.h>

#include <string>

#include "binding/errors.h"
#include "binding/registry.h"
#include "binding/tensor_convert.h"
#include "train/adamw_update.h"

namespace sdpo {
namespace {

Napi::Value adamwUpdate(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Object in = requireObject(info, 0, "adamwUpdate(tensors, options): tensors");
    Napi::Object options = requireObject(info, 1, "adamwUpdate(tensors, options): options");
    torch::Tensor p = viewTypedArray(in.Get("param"), "adamwUpdate: tensors.param");
    if (p.scalar_type() != torch::kFloat && p.scalar_type() != torch::kDouble) {
      throw TypeError("adamwUpdate: tensors.param must be a Float32Array or Float64Array");
    }
    const int64_t n = p.numel();
    torch::Tensor g = viewTypedArray(in.Get("grad"), "adamwUpdate: tensors.grad", p.scalar_type(), n);
    torch::Tensor m = viewTypedArray(in.Get("expAvg"), "adamwUpdate: tensors.expAvg", p.scalar_type(), n);
    torch::Tensor v = viewTypedArray(in.Get("expAvgSq"), "adamwUpdate: tensors.expAvgSq", p.scalar_type(), n);
    const std::string where = "adamwUpdate: options";
    train::AdamWScalars s;
    s.lr = getNumber(options, "learningRate", where);
    const double step = getNumber(options, "step", where);
    if (step < 1 || step != static_cast<double>(static_cast<int64_t>(step))) {
      throw RangeError(where + ".step must be an integer >= 1");
    }
    s.step = static_cast<int64_t>(step);
    s.beta1 = getNumberOr(options, "beta1", s.beta1, where);
    s.beta2 = getNumberOr(options, "beta2", s.beta2, where);
    s.eps = getNumberOr(options, "eps", s.eps, where);
    s.weight_decay = getNumberOr(options, "weightDecay", s.weight_decay, where);
    s.grad_scale = getNumberOr(options, "gradScale", s.grad_scale, where);
    // Copies: the JS arrays stay as they were.
    torch::Tensor p2 = p.clone(), m2 = m.clone(), v2 = v.clone();
    if (readPlainImplementation(options, where)) {
      train::adamw_update_plain(p2, g, m2, v2, s);
    } else {
      train::adamw_update_fused_cpu(p2, g, m2, v2, s);
    }
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("param", toTypedArray(env, p2));
    out.Set("expAvg", toTypedArray(env, m2));
    out.Set("expAvgSq", toTypedArray(env, v2));
    return out;
  });
}

Napi::Value gradSumSquares(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    torch::Tensor g = viewTypedArray(info.Length() > 0 ? info[0] : info.Env().Undefined(), "gradSumSquares: grad");
    if (g.scalar_type() != torch::kFloat && g.scalar_type() != torch::kDouble) {
      throw TypeError("gradSumSquares: grad must be a Float32Array or Float64Array");
    }
    const bool plain = readPlainImplementation(info.Length() > 1 ? info[1] : info.Env().Undefined(), "gradSumSquares: options");
    return Napi::Number::New(info.Env(), plain ? train::grad_sum_squares_plain(g) : train::grad_sum_squares(g));
  });
}

void initOptimizer(Napi::Env env, Napi::Object exports) {
  exports.Set("adamwUpdate", Napi::Function::New(env, adamwUpdate, "adamwUpdate"));
  exports.Set("gradSumSquares", Napi::Function::New(env, gradSumSquares, "gradSumSquares"));
}

}  // namespace

SDPO_REGISTER_BINDING(optimizer, initOptimizer);

}  // namespace sdpo
