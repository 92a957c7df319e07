// The model's fused CPU layers on their own, to hold them to their plain versions (composed ATen ops):
//   rmsNorm({x, weight}, {eps, implementation?, gradOutput?, frozenWeight?}) -> {y, grad?: {x, weight?}}
//     x: rows * D values, weight: D values.
//   applyRope({x, cos, sin, batch, heads, tokens, headDim, layout?}, {implementation?, gradOutput?}) -> {y, grad?: {x}}
//     x: [B, H, T, d] values ("bhtd", default) or [B, T, H, d] values viewed as [B, H, T, d] ("bthd", as q and k
//     come from their projections); cos/sin: [B, T, d] or [1, T, d]. y and grad.x are in [B, H, T, d] order.
// Float arrays: Float32Array or Float64Array, one dtype. implementation: "fused" (default) or "plain".
#include <napi.h>
#include <torch/torch.h>

#include <string>

#include "binding/errors.h"
#include "binding/registry.h"
#include "binding/tensor_convert.h"
#include "model/rms_norm.h"
#include "model/rope.h"

namespace sdpo {
namespace {

torch::Tensor floatArray(const Napi::Object& in, const char* key, const std::string& where,
                         c10::optional<torch::ScalarType> dtype = c10::nullopt) {
  torch::Tensor t = viewTypedArray(in.Get(key), where + "." + key);
  if (t.scalar_type() != torch::kFloat && t.scalar_type() != torch::kDouble) {
    throw TypeError(where + "." + key + " must be a Float32Array or Float64Array");
  }
  if (dtype && t.scalar_type() != *dtype) throw TypeError(where + "." + key + " must have the dtype of the other arrays");
  return t.clone();  // owned: autograd may keep it past this call
}

int64_t positiveInt(const Napi::Object& in, const char* key, const std::string& where) {
  const double v = getNumber(in, key, where);
  if (v < 1 || v != static_cast<double>(static_cast<int64_t>(v))) {
    throw RangeError(where + "." + key + " must be a positive integer");
  }
  return static_cast<int64_t>(v);
}

Napi::Value rmsNormBinding(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Object in = requireObject(info, 0, "rmsNorm(inputs, options): inputs");
    Napi::Object options = requireObject(info, 1, "rmsNorm(inputs, options): options");
    const std::string where = "rmsNorm: inputs";
    torch::Tensor weight = floatArray(in, "weight", where);
    torch::Tensor x = floatArray(in, "x", where, weight.scalar_type());
    const int64_t D = weight.numel();
    if (D == 0 || x.numel() % D != 0) throw RangeError(where + ".x length must be a multiple of weight's (D)");
    x = x.view({x.numel() / D, D});
    const double eps = getNumber(options, "eps", "rmsNorm: options");
    const bool plain = readPlainImplementation(options, "rmsNorm: options");
    Napi::Value grad_out = options.Get("gradOutput");
    const bool want_grad = !grad_out.IsUndefined();
    const bool frozen_weight = getBoolOr(options, "frozenWeight", false);
    if (want_grad) {
      x.set_requires_grad(true);
      if (!frozen_weight) weight.set_requires_grad(true);
    }
    torch::Tensor y = plain ? model::rms_norm_plain(x, weight, eps) : model::rms_norm_fused_cpu(x, weight, eps);
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("y", toTypedArray(env, y));
    if (want_grad) {
      torch::Tensor g = viewTypedArray(grad_out, "rmsNorm: options.gradOutput", x.scalar_type(), x.numel()).view_as(x);
      y.backward(g.clone());
      Napi::Object grad = Napi::Object::New(env);
      grad.Set("x", toTypedArray(env, x.grad()));
      if (!frozen_weight) grad.Set("weight", toTypedArray(env, weight.grad()));
      out.Set("grad", grad);
    }
    return out;
  });
}

Napi::Value applyRopeBinding(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Object in = requireObject(info, 0, "applyRope(inputs, options): inputs");
    Napi::Object options = requireObject(info, 1, "applyRope(inputs, options): options");
    const std::string where = "applyRope: inputs";
    const int64_t B = positiveInt(in, "batch", where), H = positiveInt(in, "heads", where);
    const int64_t T = positiveInt(in, "tokens", where), d = positiveInt(in, "headDim", where);
    if (d % 2 != 0) throw RangeError(where + ".headDim must be even");
    torch::Tensor x = floatArray(in, "x", where);
    torch::Tensor cos = floatArray(in, "cos", where, x.scalar_type());
    torch::Tensor sin = floatArray(in, "sin", where, x.scalar_type());
    if (x.numel() != B * H * T * d) throw RangeError(where + ".x must have B*H*T*d values");
    const int64_t angle_batch = cos.numel() == T * d ? 1 : B;
    if (cos.numel() != angle_batch * T * d || sin.numel() != cos.numel()) {
      throw RangeError(where + ".cos and .sin must have B*T*d or T*d values each");
    }
    Napi::Value layout_value = in.Get("layout");
    const std::string layout = layout_value.IsString() ? layout_value.As<Napi::String>().Utf8Value() : "bhtd";
    if (layout != "bhtd" && layout != "bthd") throw RangeError(where + ".layout must be \"bhtd\" or \"bthd\"");
    Napi::Value grad_out = options.Get("gradOutput");
    const bool want_grad = !grad_out.IsUndefined();
    torch::Tensor leaf = layout == "bhtd" ? x.view({B, H, T, d}) : x.view({B, T, H, d});
    if (want_grad) leaf.set_requires_grad(true);
    torch::Tensor xv = layout == "bhtd" ? leaf : leaf.transpose(1, 2);  // [B, H, T, d]
    model::RopeAngles angles{cos.view({angle_batch, T, d}), sin.view({angle_batch, T, d})};
    const bool plain = readPlainImplementation(options, "applyRope: options");
    torch::Tensor y = plain ? model::apply_rope_plain(xv, angles) : model::apply_rope_fused_cpu(xv, angles);
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("y", toTypedArray(env, y));
    if (want_grad) {
      torch::Tensor g = viewTypedArray(grad_out, "applyRope: options.gradOutput", x.scalar_type(), x.numel());
      y.backward(g.clone().view({B, H, T, d}));
      torch::Tensor gx = layout == "bhtd" ? leaf.grad() : leaf.grad().transpose(1, 2);
      Napi::Object grad = Napi::Object::New(env);
      grad.Set("x", toTypedArray(env, gx));
      out.Set("grad", grad);
    }
    return out;
  });
}

void initLayers(Napi::Env env, Napi::Object exports) {
  exports.Set("rmsNorm", Napi::Function::New(env, rmsNormBinding, "rmsNorm"));
  exports.Set("applyRope", Napi::Function::New(env, applyRopeBinding, "applyRope"));
}

}  // namespace

SDPO_REGISTER_BINDING(layers, initLayers);

}  // namespace sdpo
