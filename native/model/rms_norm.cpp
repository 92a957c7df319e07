#include "model/rms_norm.h"

#include <ATen/Parallel.h>

#include <cmath>

namespace sdpo::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Rows per parallel chunk: about 64k elements each.
int64_t rowGrain(int64_t dim) { return std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(dim, 1)); }

// y[n, :] = w * x[n, :] * r[n],  r[n] = 1 / sqrt(mean_j x[n, j]^2 + eps)   (accumulated in double)
template <typename T>
void forward_rows(const T* x, const T* w, T* y, T* r, int64_t rows, int64_t dim, double eps) {
  at::parallel_for(0, rows, rowGrain(dim), [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const T* xn = x + n * dim;
      double sum_sq = 0;
      for (int64_t j = 0; j < dim; ++j) sum_sq += static_cast<double>(xn[j]) * static_cast<double>(xn[j]);
      const T rn = static_cast<T>(1.0 / std::sqrt(sum_sq / static_cast<double>(dim) + eps));
      r[n] = rn;
      T* yn = y + n * dim;
      for (int64_t j = 0; j < dim; ++j) yn[j] = w[j] * (xn[j] * rn);
    }
  });
}

// With u = x r:  dx = r (w g) - x r^3 mean(x w g),   dw = sum_n g u.
// dw's partial sums go to one row per thread, added up at the end.
template <typename T>
void backward_rows(const T* x, const T* w, const T* r, const T* g, T* dx, T* dw_partial, int64_t rows, int64_t dim,
                   bool want_dx, bool want_dw) {
  at::parallel_for(0, rows, rowGrain(dim), [&](int64_t begin, int64_t end) {
    T* dw = want_dw ? dw_partial + at::get_thread_num() * dim : nullptr;
    for (int64_t n = begin; n < end; ++n) {
      const T* xn = x + n * dim;
      const T* gn = g + n * dim;
      const T rn = r[n];
      if (want_dx) {
        double dot = 0;  // sum_j x w g
        for (int64_t j = 0; j < dim; ++j) dot += static_cast<double>(xn[j]) * static_cast<double>(w[j] * gn[j]);
        const T coef = static_cast<T>(static_cast<double>(rn) * rn * rn * dot / static_cast<double>(dim));
        T* dxn = dx + n * dim;
        for (int64_t j = 0; j < dim; ++j) dxn[j] = rn * (w[j] * gn[j]) - xn[j] * coef;
      }
      if (want_dw) {
        for (int64_t j = 0; j < dim; ++j) dw[j] += gn[j] * (xn[j] * rn);
      }
    }
  });
}

struct RmsNormFunction : torch::autograd::Function<RmsNormFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x_in, const torch::Tensor& weight,
                               double eps) {
    torch::Tensor x = x_in.contiguous();
    const int64_t dim = x.size(-1), rows = dim == 0 ? 0 : x.numel() / dim;
    torch::Tensor y = torch::empty_like(x, torch::MemoryFormat::Contiguous);
    torch::Tensor r = torch::empty({rows}, x.options());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "rms_norm_fused_cpu", [&] {
      forward_rows<scalar_t>(x.data_ptr<scalar_t>(), weight.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(),
                             r.data_ptr<scalar_t>(), rows, dim, eps);
    });
    ctx->save_for_backward({x, weight, r});
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &weight = saved[1], &r = saved[2];
    torch::Tensor g = grad_outputs[0].contiguous();
    const bool want_dx = ctx->needs_input_grad(0), want_dw = ctx->needs_input_grad(1);
    const int64_t dim = x.size(-1), rows = dim == 0 ? 0 : x.numel() / dim;
    torch::Tensor dx = want_dx ? torch::empty_like(x) : torch::Tensor();
    torch::Tensor dw_partial = want_dw ? torch::zeros({at::get_num_threads(), dim}, x.options()) : torch::Tensor();
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "rms_norm_fused_cpu_backward", [&] {
      backward_rows<scalar_t>(x.data_ptr<scalar_t>(), weight.data_ptr<scalar_t>(), r.data_ptr<scalar_t>(),
                              g.data_ptr<scalar_t>(), want_dx ? dx.data_ptr<scalar_t>() : nullptr,
                              want_dw ? dw_partial.data_ptr<scalar_t>() : nullptr, rows, dim, want_dx, want_dw);
    });
    return {dx, want_dw ? dw_partial.sum(0) : torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor rms_norm_plain(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  const bool upcast = x.scalar_type() == torch::kHalf || x.scalar_type() == torch::kBFloat16;
  torch::Tensor h = upcast ? x.to(torch::kFloat) : x;
  h = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * h.to(x.scalar_type());
}

bool rms_norm_fused_applies(const torch::Tensor& x, const torch::Tensor& weight) {
  const auto dtype = x.scalar_type();
  return x.device().is_cpu() && (dtype == torch::kFloat || dtype == torch::kDouble) && x.dim() >= 1 &&
         weight.device().is_cpu() && weight.scalar_type() == dtype && weight.dim() == 1 &&
         weight.size(0) == x.size(-1) && weight.is_contiguous();
}

torch::Tensor rms_norm_fused_cpu(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  TORCH_CHECK(rms_norm_fused_applies(x, weight),
              "rms_norm_fused_cpu: needs CPU float32/float64 x and a contiguous weight [D] of the same dtype");
  return RmsNormFunction::apply(x, weight, eps);
}

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  return rms_norm_fused_applies(x, weight) ? rms_norm_fused_cpu(x, weight, eps) : rms_norm_plain(x, weight, eps);
}

}  // namespace sdpo::model
