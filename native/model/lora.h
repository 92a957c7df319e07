// A linear projection that can carry a LoRA adapter:
//   y = x W^T + b + (alpha / rank) * dropout(x) A^T B^T        (adapter term only while enabled)
// Parameter names follow Hugging Face / PEFT: "weight", "bias", "lora_A.weight", "lora_B.weight".
#pragma once
#include <torch/torch.h>

#include "model/config.h"

namespace sdpo::model {

class LoraLinearImpl : public torch::nn::Module {
 public:
  // Weight ~ N(0, 0.02) and zero bias, like Hugging Face's _init_weights.
  LoraLinearImpl(int64_t in_features, int64_t out_features, bool bias, const ParamInit& init = {});

  torch::Tensor forward(const torch::Tensor& x);

  // Adds A [rank, in] (PEFT's kaiming-uniform, a = sqrt(5): U(-1/sqrt(in), 1/sqrt(in))) and B [out, rank] = 0,
  // on the weight's device and dtype; the base weight and bias stop requiring grad.
  void add_adapter(const LoraConfig& config);
  bool has_adapter() const { return static_cast<bool>(lora_A_); }
  void set_adapter_enabled(bool enabled) { adapter_enabled_ = enabled; }

  // W + (alpha / rank) B A (W itself when there is no adapter). Detached.
  torch::Tensor merged_weight() const;

  torch::Tensor weight;
  torch::Tensor bias;  // undefined when the layer has none

 private:
  torch::nn::Linear lora_A_{nullptr};
  torch::nn::Linear lora_B_{nullptr};
  double scaling_ = 0.0;
  double dropout_ = 0.0;
  bool adapter_enabled_ = true;
};
TORCH_MODULE(LoraLinear);

}  // namespace sdpo::model
