#include "model/layers.h"

#include "model/rms_norm.h"

namespace sdpo::model {

RMSNormImpl::RMSNormImpl(int64_t dim, double eps, const ParamInit& init) : eps_(eps) {
  weight = register_parameter("weight", init.filled("weight", {dim}, 1.0));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) { return rms_norm(x, weight, eps_); }

MLPImpl::MLPImpl(int64_t hidden_size, int64_t intermediate_size, const ParamInit& init) {
  gate_proj = register_module("gate_proj", LoraLinear(hidden_size, intermediate_size, false, init.scoped("gate_proj")));
  up_proj = register_module("up_proj", LoraLinear(hidden_size, intermediate_size, false, init.scoped("up_proj")));
  down_proj = register_module("down_proj", LoraLinear(intermediate_size, hidden_size, false, init.scoped("down_proj")));
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x) {
  return down_proj->forward(torch::silu(gate_proj->forward(x)) * up_proj->forward(x));
}

EmbeddingImpl::EmbeddingImpl(int64_t vocab_size, int64_t dim, const ParamInit& init) {
  weight = register_parameter("weight", init.normal("weight", {vocab_size, dim}, 0.02));
}

}  // namespace sdpo::model
