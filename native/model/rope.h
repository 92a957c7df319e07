// Rotary position embedding (RoPE), Hugging Face's rotate_half convention:
//   x_rot = x * cos + rotate_half(x) * sin,  rotate_half([x1, x2]) = [-x2, x1]
// with cos/sin of positions * inv_freq duplicated over the two halves of head_dim.
#pragma once
#include <torch/torch.h>

#include "model/config.h"

namespace sdpo::model {

// [head_dim / 2] inverse frequencies (float64), rope_theta and rope_scaling ("llama3", "linear") applied.
torch::Tensor rope_inverse_frequencies(const ModelConfig& config);

struct RopeAngles {
  torch::Tensor cos;  // [B, T, head_dim], model dtype
  torch::Tensor sin;  // [B, T, head_dim]
};

// positions: [B, T] int64 (any device). inv_freq: [head_dim / 2]. Angles are computed in float64 for
// float64 models and in float32 otherwise (as Hugging Face does), then cast to `dtype`.
RopeAngles rope_angles(const torch::Tensor& positions, const torch::Tensor& inv_freq, torch::ScalarType dtype);

// x: [B, H, T, head_dim]; cos/sin [B, T, head_dim] broadcast over heads.
torch::Tensor apply_rope(const torch::Tensor& x, const RopeAngles& angles);

}  // namespace sdpo::model
