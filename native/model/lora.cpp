#include "model/lora.h"

#include <cmath>

namespace sdpo::model {

LoraLinearImpl::LoraLinearImpl(int64_t in_features, int64_t out_features, bool with_bias, const ParamInit& init) {
  weight = register_parameter("weight", init.normal("weight", {out_features, in_features}, 0.02));
  if (with_bias) bias = register_parameter("bias", init.filled("bias", {out_features}, 0.0));
}

torch::Tensor LoraLinearImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = torch::nn::functional::linear(x, weight, bias);
  if (lora_A_ && adapter_enabled_) {
    torch::Tensor h = dropout_ > 0.0 ? torch::dropout(x, dropout_, is_training()) : x;
    y = y + lora_B_->forward(lora_A_->forward(h)) * scaling_;
  }
  return y;
}

void LoraLinearImpl::add_adapter(const LoraConfig& config) {
  TORCH_CHECK(!lora_A_, "this layer already has a LoRA adapter");
  const int64_t out_features = weight.size(0), in_features = weight.size(1);
  auto opts = weight.options();
  lora_A_ = register_module("lora_A", torch::nn::Linear(torch::nn::LinearOptions(in_features, config.rank).bias(false)));
  lora_B_ = register_module("lora_B", torch::nn::Linear(torch::nn::LinearOptions(config.rank, out_features).bias(false)));
  {
    torch::NoGradGuard no_grad;
    const double bound = 1.0 / std::sqrt(double(in_features));
    lora_A_->weight.set_data(torch::empty({config.rank, in_features}).uniform_(-bound, bound).to(opts));
    lora_B_->weight.set_data(torch::zeros({out_features, config.rank}, opts));
  }
  scaling_ = config.alpha / double(config.rank);
  dropout_ = config.dropout;
  weight.set_requires_grad(false);
  if (bias.defined()) bias.set_requires_grad(false);
}

torch::Tensor LoraLinearImpl::merged_weight() const {
  torch::NoGradGuard no_grad;
  if (!lora_A_) return weight.detach().clone();
  return weight.detach() + torch::matmul(lora_B_->weight, lora_A_->weight) * scaling_;
}

}  // namespace sdpo::model
