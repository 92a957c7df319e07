#include "model/rope.h"

#include <cmath>

namespace {
constexpr double kPi = 3.14159265358979323846;
}

namespace sdpo::model {

torch::Tensor rope_inverse_frequencies(const ModelConfig& config) {
  const int64_t dim = config.head_dim;
  auto opts = torch::TensorOptions().dtype(torch::kDouble);
  // inv_freq[i] = 1 / theta^(2i / dim)
  torch::Tensor inv_freq = 1.0 / torch::pow(config.rope_theta, torch::arange(0, dim, 2, opts) / double(dim));
  const RopeScaling& s = config.rope_scaling;
  if (s.type == "linear") {
    // Positions divided by factor == frequencies divided by factor.
    return inv_freq / s.factor;
  }
  if (s.type == "llama3") {
    // transformers' _compute_llama3_parameters: long wavelengths slowed by `factor`, short ones
    // kept, and the band between the two smoothly interpolated.
    const double old_len = double(s.original_max_position_embeddings);
    const double low_freq_wavelen = old_len / s.low_freq_factor;
    const double high_freq_wavelen = old_len / s.high_freq_factor;
    torch::Tensor wavelen = 2.0 * kPi / inv_freq;
    torch::Tensor scaled = torch::where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq);
    torch::Tensor smooth = (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    torch::Tensor smoothed = (1.0 - smooth) * scaled / s.factor + smooth * scaled;
    torch::Tensor is_medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
    return torch::where(is_medium, smoothed, scaled);
  }
  return inv_freq;
}

RopeAngles rope_angles(const torch::Tensor& positions, const torch::Tensor& inv_freq, torch::ScalarType dtype) {
  const auto compute = dtype == torch::kDouble ? torch::kDouble : torch::kFloat;
  torch::Tensor freq = inv_freq.to(positions.device(), compute);
  torch::Tensor angles = positions.to(compute).unsqueeze(-1) * freq;  // [B, T, dim/2]
  torch::Tensor emb = torch::cat({angles, angles}, -1);                // [B, T, dim]
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

static torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

torch::Tensor apply_rope(const torch::Tensor& x, const RopeAngles& angles) {
  torch::Tensor cos = angles.cos.unsqueeze(1);  // [B, 1, T, dim]
  torch::Tensor sin = angles.sin.unsqueeze(1);
  return x * cos + rotate_half(x) * sin;
}

}  // namespace sdpo::model
