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

// x: [B, H, T, head_dim]; cos/sin [B, T, head_dim] broadcast over heads. The fused CPU kernel where
// it applies, the plain version elsewhere.
torch::Tensor apply_rope(const torch::Tensor& x, const RopeAngles& angles);

// Composed ATen ops: any device and dtype.
torch::Tensor apply_rope_plain(const torch::Tensor& x, const RopeAngles& angles);

// One pass forward and backward (float32/float64 on CPU; x may be a transposed view, as q and k are
// straight from their projections: the output is contiguous [B, H, T, head_dim], ready for attention's
// batched products, and the input gradient takes x's layout, ready for the projection's backward).
bool apply_rope_fused_applies(const torch::Tensor& x, const RopeAngles& angles);
torch::Tensor apply_rope_fused_cpu(const torch::Tensor& x, const RopeAngles& angles);

}  // namespace sdpo::model
