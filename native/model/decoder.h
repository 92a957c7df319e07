// The decoder stack, named exactly like Hugging Face's LlamaModel / Qwen2Model / Qwen3Model so that
// named_parameters() yields the checkpoint's names ("model.layers.0.self_attn.q_proj.weight", ...).
//
//   ids [B, T] -> embed_tokens -> [B, T, hidden]
//   each layer:  h = h + self_attn(input_layernorm(h));  h = h + mlp(post_attention_layernorm(h))
//   norm (applied by the caller, only to the rows it needs)
#pragma once
#include <torch/torch.h>

#include "model/attention.h"
#include "model/config.h"
#include "model/layers.h"

namespace sdpo::model {

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const ModelConfig& config, const ParamInit& init);
  torch::Tensor forward(const torch::Tensor& h, AttentionContext& ctx, size_t layer);  // [B, T, hidden]

  RMSNorm input_layernorm{nullptr};
  Attention self_attn{nullptr};
  RMSNorm post_attention_layernorm{nullptr};
  MLP mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

class DecoderModelImpl : public torch::nn::Module {
 public:
  DecoderModelImpl(const ModelConfig& config, const ParamInit& init);
  // hidden [B, T, hidden] -> [B, T, hidden] after every layer, before the final norm.
  torch::Tensor forward(torch::Tensor hidden, AttentionContext& ctx);
  // Gradient checkpointing: in training mode with grad enabled, layers keep only their inputs and are
  // recomputed in backward (recompute.h).
  void set_gradient_checkpointing(bool enabled) { checkpointing_ = enabled; }
  bool gradient_checkpointing() const { return checkpointing_; }

  Embedding embed_tokens{nullptr};
  std::vector<DecoderLayer> layers;  // registered as "layers.{i}" through layer_list
  RMSNorm norm{nullptr};

 private:
  torch::nn::ModuleList layer_list{nullptr};
  bool checkpointing_ = false;
};
TORCH_MODULE(DecoderModel);

}  // namespace sdpo::model
