// The decoder stack, named exactly like Hugging Face's LlamaModel / Qwen2Model / Qwen3Model so that
// named_parameters() yields the checkpoint's names ("model.layers.0.self_attn.q_proj.weight", ...).
//
//   ids [B, T] -> embed_tokens -> [B, T, hidden]
//   each layer:  h = h + dropout(self_attn(input_layernorm(h)));  h = h + dropout(mlp(post_attention_layernorm(h)))
//                (residual dropout: training mode only, 0 unless a trainer sets it)
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
  // Dropout on the attention and MLP outputs before they join the residual stream (GPT-2's resid_pdrop), in
  // training mode only. A training hyperparameter, not part of the checkpoint's config.
  double residual_dropout = 0.0;
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
  void set_residual_dropout(double p) {
    for (auto& layer : layers) layer->residual_dropout = p;
  }
  double residual_dropout() const { return layers.empty() ? 0.0 : layers.front()->residual_dropout; }

  Embedding embed_tokens{nullptr};
  std::vector<DecoderLayer> layers;  // registered as "layers.{i}" through layer_list
  RMSNorm norm{nullptr};

 private:
  torch::nn::ModuleList layer_list{nullptr};
  bool checkpointing_ = false;
};
TORCH_MODULE(DecoderModel);

}  // namespace sdpo::model
