// RMSNorm: y = weight * x / sqrt(mean(x^2) + eps) over the last dimension.
//
// Two implementations: composed ATen ops (the plain version; any device and dtype, half precision computed
// in float32 as Hugging Face does) and a fused CPU one for float32/float64 (one pass forward, one pass
// backward with hand-written gradients, instead of six ops forward and about ten backward).
#pragma once
#include <torch/torch.h>

namespace sdpo::model {

torch::Tensor rms_norm_plain(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// Whether rms_norm_fused_cpu takes these: CPU, float32 or float64, weight [D] of x's dtype.
bool rms_norm_fused_applies(const torch::Tensor& x, const torch::Tensor& weight);
torch::Tensor rms_norm_fused_cpu(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// The fused kernel where it applies, the plain version elsewhere.
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

}  // namespace sdpo::model
