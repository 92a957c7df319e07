// AdamW (decoupled weight decay, bias correction) over an explicit list of parameters.
//
// Written out instead of torch::optim::AdamW so its whole state (step count, exp_avg and
// exp_avg_sq per parameter) is plain tensors that checkpoints can save and restore bit for bit.
// Same update as torch.optim.AdamW (amsgrad off):
//   p   <- p * (1 - lr * weight_decay)      (matrices only unless decay_all_parameters)
//   m   <- beta1 * m + (1 - beta1) * g
//   v   <- beta2 * v + (1 - beta2) * g^2
//   p   <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace sdpo::train {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  // false: only matrices (dim >= 2: projections, embeddings, LoRA factors) decay, not RMSNorm weights or
  // biases, as the Hugging Face Trainer and nanoGPT do; shrinking a norm's gain towards 0 is not regularisation.
  bool decay_all_parameters = false;
};

struct NamedTensor {
  std::string name;
  torch::Tensor tensor;
};

class AdamW {
 public:
  AdamW(std::vector<NamedTensor> params, AdamWOptions options);

  // One update from the parameters' .grad() * grad_scale (parameters without a gradient are left
  // alone, their moments untouched, as in torch.optim). CPU float32/float64 parameters take the fused
  // pass of adamw_update.h, others its plain composed version.
  void step(double lr, double grad_scale = 1.0);
  void zero_grad();

  const std::vector<NamedTensor>& params() const { return params_; }
  int64_t step_count() const { return step_count_; }

  // State as named tensors: "<param>.exp_avg", "<param>.exp_avg_sq" (CPU copies, moment dtype).
  std::vector<NamedTensor> state() const;
  // Restores a state written by state(); every moment must be present with the right shape.
  void load_state(int64_t step_count, const std::vector<NamedTensor>& state);

 private:
  std::vector<NamedTensor> params_;
  std::vector<torch::Tensor> exp_avg_;
  std::vector<torch::Tensor> exp_avg_sq_;
  AdamWOptions options_;
  int64_t step_count_ = 0;
};

struct GradClip {
  double norm = 0;   // L2 norm of all gradients together (float64), before clipping
  double scale = 1;  // min(1, max_norm / (norm + 1e-6)) as torch.nn.utils.clip_grad_norm_; 1 when off
};

// The gradients' norm and the clipping factor, for AdamW::step's grad_scale (the gradients themselves
// are not touched: the optimizer applies the factor in the same pass as the update).
GradClip gradient_clipping(const std::vector<NamedTensor>& params, double max_norm);

}  // namespace sdpo::train
