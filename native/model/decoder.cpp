#include "model/decoder.h"

#include "model/recompute.h"

namespace sdpo::model {

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c, const ParamInit& init) {
  self_attn = register_module("self_attn", Attention(c, init.scoped("self_attn")));
  mlp = register_module("mlp", MLP(c.hidden_size, c.intermediate_size, init.scoped("mlp")));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, init.scoped("input_layernorm")));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, init.scoped("post_attention_layernorm")));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& h, AttentionContext& ctx, size_t layer) {
  const bool drop = residual_dropout > 0 && is_training();
  torch::Tensor attended = self_attn->forward(input_layernorm->forward(h), ctx, layer);
  torch::Tensor x = h + (drop ? torch::dropout(attended, residual_dropout, true) : attended);
  torch::Tensor mixed = mlp->forward(post_attention_layernorm->forward(x));
  return x + (drop ? torch::dropout(mixed, residual_dropout, true) : mixed);
}

DecoderModelImpl::DecoderModelImpl(const ModelConfig& c, const ParamInit& init) {
  embed_tokens = register_module("embed_tokens", Embedding(c.vocab_size, c.hidden_size, init.scoped("embed_tokens")));
  layer_list = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    layers.push_back(DecoderLayer(c, init.scoped("layers." + std::to_string(i))));
    layer_list->push_back(layers.back());
  }
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps, init.scoped("norm")));
}

torch::Tensor DecoderModelImpl::forward(torch::Tensor hidden, AttentionContext& ctx) {
  const bool recompute = checkpointing_ && is_training() && torch::GradMode::is_enabled() && !ctx.cache;
  for (size_t i = 0; i < layers.size(); ++i) {
    hidden = recompute ? checkpointed_layer(*layers[i], hidden, ctx, i) : layers[i]->forward(hidden, ctx, i);
  }
  return hidden;
}

}  // namespace sdpo::model
