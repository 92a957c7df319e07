// The small building blocks of a LLaMA-family decoder layer: RMSNorm and the SwiGLU MLP.
#pragma once
#include <torch/torch.h>

#include "model/lora.h"

namespace sdpo::model {

// y = weight * x / sqrt(mean(x^2) + eps) over the last dimension, computed in at least float32
// (Hugging Face upcasts half precision the same way). Weight initialised to ones.
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps, const ParamInit& init = {});
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

// down_proj(silu(gate_proj(x)) * up_proj(x)):  [.., hidden] -> [.., intermediate] -> [.., hidden]
class MLPImpl : public torch::nn::Module {
 public:
  MLPImpl(int64_t hidden_size, int64_t intermediate_size, const ParamInit& init = {});
  torch::Tensor forward(const torch::Tensor& x);
  LoraLinear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(MLP);

// Token embedding table: ids [..] -> [.., dim]; weight [vocab, dim] ~ N(0, 0.02).
class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t vocab_size, int64_t dim, const ParamInit& init = {});
  torch::Tensor forward(const torch::Tensor& ids) { return torch::embedding(weight, ids); }
  torch::Tensor weight;
};
TORCH_MODULE(Embedding);

}  // namespace sdpo::model
