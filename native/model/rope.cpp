#include "model/rope.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

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

torch::Tensor apply_rope_plain(const torch::Tensor& x, const RopeAngles& angles) {
  torch::Tensor cos = angles.cos.unsqueeze(1);  // [B, 1, T, dim]
  torch::Tensor sin = angles.sin.unsqueeze(1);
  return x * cos + rotate_half(x) * sin;
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// For each (b, h, t) row, with i < half and c, s the angles of (b, t):
//   forward   y[i] = x[i] c[i] - x[i+half] s[i]          y[i+half] = x[i+half] c[i+half] + x[i] s[i+half]
//   backward gx[i] = g[i] c[i] + g[i+half] s[i+half]     gx[i+half] = g[i+half] c[i+half] - g[i] s[i]
// The backward is the forward with sin negated and swapped across halves; `transpose` selects it.
// in/out rows are addressed through strides (the last dimension contiguous); cos/sin are [B or 1, T, d].
template <typename T>
void rope_rows(const T* in, at::IntArrayRef in_strides, T* out, at::IntArrayRef out_strides, const T* cos,
               const T* sin, int64_t angle_batch_stride, int64_t B, int64_t H, int64_t Tn, int64_t d, bool transpose) {
  const int64_t half = d / 2;
  at::parallel_for(0, B * H * Tn, std::max<int64_t>(1, (int64_t{1} << 15) / d), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / (H * Tn), h = (row / Tn) % H, t = row % Tn;
      const T* xi = in + b * in_strides[0] + h * in_strides[1] + t * in_strides[2];
      T* yi = out + b * out_strides[0] + h * out_strides[1] + t * out_strides[2];
      const T* c = cos + b * angle_batch_stride + t * d;
      const T* s = sin + b * angle_batch_stride + t * d;
      for (int64_t i = 0; i < half; ++i) {
        const T x1 = xi[i], x2 = xi[i + half];
        if (!transpose) {
          yi[i] = x1 * c[i] - x2 * s[i];
          yi[i + half] = x2 * c[i + half] + x1 * s[i + half];
        } else {
          yi[i] = x1 * c[i] + x2 * s[i + half];
          yi[i + half] = x2 * c[i + half] - x1 * s[i];
        }
      }
    }
  });
}

void run_rope(const torch::Tensor& in, torch::Tensor& out, const torch::Tensor& cos, const torch::Tensor& sin,
              bool transpose) {
  const int64_t B = in.size(0), H = in.size(1), Tn = in.size(2), d = in.size(3);
  const int64_t angle_batch_stride = cos.size(0) == 1 ? 0 : cos.stride(0);
  AT_DISPATCH_FLOATING_TYPES(in.scalar_type(), "apply_rope_fused_cpu", [&] {
    rope_rows<scalar_t>(in.data_ptr<scalar_t>(), in.strides(), out.data_ptr<scalar_t>(), out.strides(),
                        cos.data_ptr<scalar_t>(), sin.data_ptr<scalar_t>(), angle_batch_stride, B, H, Tn, d, transpose);
  });
}

struct RopeFunction : torch::autograd::Function<RopeFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& cos,
                               const torch::Tensor& sin) {
    torch::Tensor y = torch::empty(x.sizes(), x.options());  // contiguous [B, H, T, d]
    run_rope(x, y, cos, sin, false);
    ctx->save_for_backward({cos, sin});
    ctx->saved_data["x_strides"] = x.strides().vec();
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    torch::Tensor g = grad_outputs[0];
    if (g.stride(-1) != 1) g = g.contiguous();
    // The input gradient in the input's layout (a transposed view of the projection output's buffer).
    torch::Tensor gx = torch::empty_strided(g.sizes(), ctx->saved_data["x_strides"].toIntVector(), g.options());
    run_rope(g, gx, saved[0], saved[1], true);
    return {gx, torch::Tensor(), torch::Tensor()};
  }
};

// Whether `strides` lay out `sizes` densely, with no overlap (a permutation of a contiguous layout).
bool dense_non_overlapping(at::IntArrayRef sizes, at::IntArrayRef strides) {
  std::vector<int64_t> order(sizes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return strides[a] < strides[b]; });
  int64_t expected = 1;
  for (int64_t i : order) {
    if (sizes[i] == 1) continue;
    if (strides[i] != expected) return false;
    expected *= sizes[i];
  }
  return true;
}

}  // namespace

bool apply_rope_fused_applies(const torch::Tensor& x, const RopeAngles& angles) {
  const auto dtype = x.scalar_type();
  if (!x.device().is_cpu() || (dtype != torch::kFloat && dtype != torch::kDouble) || x.dim() != 4) return false;
  const int64_t B = x.size(0), Tn = x.size(2), d = x.size(3);
  if (d % 2 != 0 || x.stride(3) != 1 || !dense_non_overlapping(x.sizes(), x.strides())) return false;
  for (const torch::Tensor* a : {&angles.cos, &angles.sin}) {
    if (!a->device().is_cpu() || a->scalar_type() != dtype || a->dim() != 3 || !a->is_contiguous()) return false;
    if ((a->size(0) != B && a->size(0) != 1) || a->size(1) != Tn || a->size(2) != d) return false;
  }
  return angles.cos.sizes() == angles.sin.sizes();
}

torch::Tensor apply_rope_fused_cpu(const torch::Tensor& x, const RopeAngles& angles) {
  TORCH_CHECK(apply_rope_fused_applies(x, angles),
              "apply_rope_fused_cpu: needs CPU float32/float64 x [B, H, T, d] (last dim contiguous, even d) and "
              "contiguous cos/sin [B or 1, T, d] of x's dtype");
  return RopeFunction::apply(x, angles.cos, angles.sin);
}

torch::Tensor apply_rope(const torch::Tensor& x, const RopeAngles& angles) {
  return apply_rope_fused_applies(x, angles) ? apply_rope_fused_cpu(x, angles) : apply_rope_plain(x, angles);
}

}  // namespace sdpo::model
