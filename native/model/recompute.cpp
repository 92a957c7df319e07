#include "model/recompute.h"

#include <mutex>
#include <vector>

#include "model/decoder.h"

namespace sdpo::model {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Runs the layer on one-layer views of the attention context: {output} or {output, k, v}.
variable_list run_layer(DecoderLayerImpl& layer, const torch::Tensor& hidden, const torch::Tensor& prefix_k,
                        const torch::Tensor& prefix_v, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, bool want_present) {
  std::vector<LayerKV> prefix, present(1);
  AttentionContext ctx;
  ctx.angles = {cos, sin};
  ctx.mask = mask;
  if (prefix_k.defined()) {
    prefix.push_back({prefix_k, prefix_v});
    ctx.prefix = &prefix;
  }
  if (want_present) ctx.present = &present;
  torch::Tensor out = layer.forward(hidden, ctx, 0);
  if (!want_present) return {out};
  return {out, present[0].k, present[0].v};
}

at::Generator generator_for(const torch::Device& device) { return at::globalContext().defaultGenerator(device); }

struct LayerRecompute : public torch::autograd::Function<LayerRecompute> {
  // Variable inputs, in order: hidden, prefix k, prefix v (absent in a prompt pass), the layer's
  // trainable parameters, cos, sin, mask. Then the layer and whether keys/values are returned.
  static variable_list forward(AutogradContext* ctx, torch::Tensor hidden, c10::optional<torch::Tensor> prefix_k,
                               c10::optional<torch::Tensor> prefix_v, at::TensorList params, torch::Tensor cos,
                               torch::Tensor sin, torch::Tensor mask, DecoderLayerImpl* layer, bool want_present) {
    ctx->set_materialize_grads(false);
    const torch::Tensor pk = prefix_k.value_or(torch::Tensor()), pv = prefix_v.value_or(torch::Tensor());
    ctx->save_for_backward({hidden, pk, pv, cos, sin, mask});
    ctx->saved_data["layer"] = reinterpret_cast<int64_t>(layer);
    ctx->saved_data["want_present"] = want_present;
    ctx->saved_data["has_prefix"] = pk.defined();
    ctx->saved_data["params"] = params.vec();
    at::Generator gen = generator_for(hidden.device());
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      ctx->saved_data["rng"] = gen.get_state();
    }
    return run_layer(*layer, hidden, pk, pv, cos, sin, mask, want_present);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    auto* layer = reinterpret_cast<DecoderLayerImpl*>(ctx->saved_data["layer"].toInt());
    const bool want_present = ctx->saved_data["want_present"].toBool();
    const bool has_prefix = ctx->saved_data["has_prefix"].toBool();
    std::vector<torch::Tensor> params = ctx->saved_data["params"].toTensorVector();

    // Inputs as fresh leaves, so the recomputed graph ends at them.
    torch::Tensor hidden = saved[0].detach().requires_grad_(true);
    torch::Tensor pk = has_prefix ? saved[1].detach().requires_grad_(true) : torch::Tensor();
    torch::Tensor pv = has_prefix ? saved[2].detach().requires_grad_(true) : torch::Tensor();

    // Recompute with the forward's random state (dropout masks), then put the caller's state back.
    at::Generator gen = generator_for(hidden.device());
    torch::Tensor current;
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      current = gen.get_state();
      gen.set_state(ctx->saved_data["rng"].toTensor());
    }
    variable_list outputs;
    {
      torch::AutoGradMode enable(true);
      outputs = run_layer(*layer, hidden, pk, pv, saved[3], saved[4], saved[5], want_present);
    }
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(current);
    }

    variable_list wrt{hidden};
    if (has_prefix) {
      wrt.push_back(pk);
      wrt.push_back(pv);
    }
    wrt.insert(wrt.end(), params.begin(), params.end());
    variable_list outs, grads_in;
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (grad_outputs[i].defined() && outputs[i].requires_grad()) {
        outs.push_back(outputs[i]);
        grads_in.push_back(grad_outputs[i]);
      }
    }
    variable_list grads(wrt.size());
    if (!outs.empty()) grads = torch::autograd::grad(outs, wrt, grads_in, false, false, /*allow_unused=*/true);

    // One entry per forward argument slot: hidden, k, v, params..., cos, sin, mask, layer, want_present.
    variable_list result;
    size_t g = 0;
    result.push_back(grads[g++]);
    result.push_back(has_prefix ? grads[g++] : torch::Tensor());
    result.push_back(has_prefix ? grads[g++] : torch::Tensor());
    for (size_t i = 0; i < params.size(); ++i) result.push_back(grads[g++]);
    result.resize(result.size() + 5);  // cos, sin, mask, layer, want_present: no gradient
    return result;
  }
};

}  // namespace

torch::Tensor checkpointed_layer(DecoderLayerImpl& layer, const torch::Tensor& hidden, AttentionContext& ctx,
                                 size_t index) {
  TORCH_CHECK(!ctx.cache, "gradient checkpointing does not apply to cached generation");
  std::vector<torch::Tensor> params;
  for (auto& p : layer.parameters()) {
    if (p.requires_grad()) params.push_back(p);
  }
  c10::optional<torch::Tensor> pk, pv;
  if (ctx.prefix) {
    pk = (*ctx.prefix)[index].k;
    pv = (*ctx.prefix)[index].v;
  }
  variable_list out = LayerRecompute::apply(hidden, pk, pv, at::TensorList(params), ctx.angles.cos, ctx.angles.sin,
                                            ctx.mask, &layer, ctx.present != nullptr);
  if (ctx.present) (*ctx.present)[index] = LayerKV{out[1], out[2]};
  return out[0];
}

}  // namespace sdpo::model
