// Grouped-query self-attention with RoPE, optional q/k/v bias (qwen2) and per-head q/k RMSNorm (qwen3).
//
// The same layer serves three callers, told apart by AttentionContext:
//   full forward        new tokens only, causal mask;
//   shared-prefix score responses attend to their prompt's keys/values (`prefix`) and to themselves;
//   generation          new tokens appended to a preallocated KV cache.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "model/config.h"
#include "model/layers.h"
#include "model/lora.h"
#include "model/rope.h"

namespace sdpo::model {

struct LayerKV {
  torch::Tensor k, v;  // [B, Hkv, S, head_dim], keys already rotated
};

// One layer's preallocated cache for generation: k, v [B, Hkv, capacity, head_dim], the first
// `length` positions filled.
struct KVCache {
  torch::Tensor k, v;
  int64_t length = 0;
};

// A mask as an additive bias [B*Hkv, rep*T, S] (0 or -inf), with the mask it was built from: a caller
// that changes ctx.mask (generation, step by step) gets a new bias.
struct AttentionBias {
  torch::Tensor mask, bias;
};

// What every layer of one forward call shares.
struct AttentionContext {
  RopeAngles angles;    // of the new tokens: [B, T, head_dim]
  torch::Tensor mask;   // [B, 1, T, S] bool, true = query t may attend key s; S = prefix (or cache) + T
  const std::vector<LayerKV>* prefix = nullptr;  // per layer: keys/values placed before the new tokens
  std::vector<LayerKV>* present = nullptr;       // out, per layer: the new tokens' keys/values
  std::vector<KVCache>* cache = nullptr;         // per layer: append the new tokens, attend the whole cache
  // libtorch 1.13 path: `mask` as an additive bias, built by the first layer and reused by the others.
  AttentionBias attention_bias;
};

// softmax(q k^T / sqrt(d) masked) v with grouped-query heads, without repeating k/v per query head.
// q [B, H, T, d], k/v [B, Hkv, S, d], mask [B, 1, T, S] bool -> [B, H, T, d].
// `bias_cache` (may be null): where the 1.13 path keeps the mask as an additive bias between calls
// with the same mask.
torch::Tensor grouped_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                const torch::Tensor& mask, AttentionBias* bias_cache = nullptr);

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const ModelConfig& config, const ParamInit& init);
  // x [B, T, hidden] -> [B, T, hidden]; `layer` indexes ctx.prefix / present / cache.
  torch::Tensor forward(const torch::Tensor& x, AttentionContext& ctx, size_t layer);

  LoraLinear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};  // qwen3 only

 private:
  int64_t heads_, kv_heads_, head_dim_;
};
TORCH_MODULE(Attention);

}  // namespace sdpo::model
