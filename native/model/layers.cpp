#include "model/layers.h"

namespace sdpo::model {

RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  const bool upcast = x.scalar_type() == torch::kHalf || x.scalar_type() == torch::kBFloat16;
  torch::Tensor h = upcast ? x.to(torch::kFloat) : x;
  h = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return weight * h.to(x.scalar_type());
}

MLPImpl::MLPImpl(int64_t hidden_size, int64_t intermediate_size) {
  gate_proj = register_module("gate_proj", LoraLinear(hidden_size, intermediate_size, false));
  up_proj = register_module("up_proj", LoraLinear(hidden_size, intermediate_size, false));
  down_proj = register_module("down_proj", LoraLinear(intermediate_size, hidden_size, false));
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x) {
  return down_proj->forward(torch::silu(gate_proj->forward(x)) * up_proj->forward(x));
}

}  // namespace sdpo::model
