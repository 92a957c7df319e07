#include "model/attention.h"

#include <cmath>
#include <limits>

#include "torch_compat.h"

namespace sdpo::model {

torch::Tensor grouped_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                const torch::Tensor& mask, AttentionBias* bias_cache) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), d = q.size(3);
  const int64_t Hkv = k.size(1), S = k.size(2), rep = H / Hkv;
  // Query head h uses kv head h / rep (Hugging Face's repeat_kv): fold the rep query heads of each
  // kv head into the row dimension, so one batched matmul serves them all.
  torch::Tensor qg = q.reshape({B, Hkv, rep * T, d});                    // [B, Hkv, rep*T, d]
#if SDPO_TORCH2
  torch::Tensor mask_g = mask.unsqueeze(2).expand({B, 1, rep, T, S}).reshape({B, 1, rep * T, S});
  torch::Tensor out = at::scaled_dot_product_attention(qg, k, v, mask_g);  // [B, Hkv, rep*T, d]
#else
  // The mask as an additive bias, so scaling and masking happen inside one baddbmm (beta * bias +
  // alpha * q k^T) instead of a matmul, a multiply and a masked_fill pass over the scores each.
  torch::Tensor bias;
  if (bias_cache && bias_cache->mask.is_same(mask) && bias_cache->bias.scalar_type() == q.scalar_type()) {
    bias = bias_cache->bias;
  } else {
    torch::Tensor mask_g = mask.unsqueeze(2).expand({B, 1, rep, T, S}).reshape({B, 1, rep * T, S});
    bias = torch::zeros({B, 1, rep * T, S}, q.options().requires_grad(false))
               .masked_fill_(mask_g.logical_not(), -std::numeric_limits<double>::infinity())
               .expand({B, Hkv, rep * T, S})
               .reshape({B * Hkv, rep * T, S});                        // [B*Hkv, rep*T, S]
    if (bias_cache) *bias_cache = AttentionBias{mask, bias};
  }
  torch::Tensor scores = at::baddbmm(bias, qg.reshape({B * Hkv, rep * T, d}), k.reshape({B * Hkv, S, d}).transpose(1, 2),
                                     1.0, 1.0 / std::sqrt(double(d)));  // [B*Hkv, rep*T, S]
  torch::Tensor out = at::bmm(torch::softmax(scores, -1), v.reshape({B * Hkv, S, d}));  // [B*Hkv, rep*T, d]
#endif
  return out.reshape({B, H, T, d});
}

AttentionImpl::AttentionImpl(const ModelConfig& c, const ParamInit& init)
    : heads_(c.num_attention_heads), kv_heads_(c.num_key_value_heads), head_dim_(c.head_dim) {
  q_proj = register_module("q_proj", LoraLinear(c.hidden_size, heads_ * head_dim_, c.attention_bias, init.scoped("q_proj")));
  k_proj = register_module("k_proj", LoraLinear(c.hidden_size, kv_heads_ * head_dim_, c.attention_bias, init.scoped("k_proj")));
  v_proj = register_module("v_proj", LoraLinear(c.hidden_size, kv_heads_ * head_dim_, c.attention_bias, init.scoped("v_proj")));
  o_proj = register_module("o_proj", LoraLinear(heads_ * head_dim_, c.hidden_size, false, init.scoped("o_proj")));
  if (c.qk_norm) {
    q_norm = register_module("q_norm", RMSNorm(head_dim_, c.rms_norm_eps, init.scoped("q_norm")));
    k_norm = register_module("k_norm", RMSNorm(head_dim_, c.rms_norm_eps, init.scoped("k_norm")));
  }
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, AttentionContext& ctx, size_t layer) {
  const int64_t B = x.size(0), T = x.size(1);
  torch::Tensor q = q_proj->forward(x).view({B, T, heads_, head_dim_});     // [B, T, H, d]
  torch::Tensor k = k_proj->forward(x).view({B, T, kv_heads_, head_dim_});  // [B, T, Hkv, d]
  torch::Tensor v = v_proj->forward(x).view({B, T, kv_heads_, head_dim_});
  if (q_norm) {
    q = q_norm->forward(q);
    k = k_norm->forward(k);
  }
  q = apply_rope(q.transpose(1, 2), ctx.angles);  // [B, H, T, d]
  k = apply_rope(k.transpose(1, 2), ctx.angles);  // [B, Hkv, T, d]
  v = v.transpose(1, 2);                          // [B, Hkv, T, d]

  torch::Tensor keys = k, values = v;
  if (ctx.cache) {
    KVCache& cache = (*ctx.cache)[layer];
    cache.k.narrow(2, cache.length, T).copy_(k);
    cache.v.narrow(2, cache.length, T).copy_(v);
    cache.length += T;
    keys = cache.k.narrow(2, 0, cache.length);
    values = cache.v.narrow(2, 0, cache.length);
  } else if (ctx.prefix) {
    const LayerKV& prefix = (*ctx.prefix)[layer];
    keys = torch::cat({prefix.k, k}, 2);
    values = torch::cat({prefix.v, v}, 2);
  }
  if (ctx.present) (*ctx.present)[layer] = LayerKV{k, v};

  torch::Tensor out = grouped_attention(q, keys, values, ctx.mask, &ctx.attention_bias);  // [B, H, T, d]
  return o_proj->forward(out.transpose(1, 2).reshape({B, T, heads_ * head_dim_}));
}

}  // namespace sdpo::model
