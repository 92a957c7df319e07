#include "train/adamw_update.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <vector>

namespace sdpo::train {
namespace {

// Elements per parallel chunk: the loops are memory bound; smaller chunks only add scheduling.
constexpr int64_t kGrain = 1 << 16;

// T: the storage type; the arithmetic is done in T too, as ATen's float32 kernels do.
template <typename T>
void fused_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t n,
                const AdamWScalars& s) {
  const T decay = static_cast<T>(1.0 - s.lr * s.weight_decay);
  const T b1 = static_cast<T>(s.beta1), one_minus_b1 = static_cast<T>(1.0 - s.beta1);
  const T b2 = static_cast<T>(s.beta2), one_minus_b2 = static_cast<T>(1.0 - s.beta2);
  const T step_size = static_cast<T>(s.lr / (1.0 - std::pow(s.beta1, static_cast<double>(s.step))));
  const T bias2_sqrt = static_cast<T>(std::sqrt(1.0 - std::pow(s.beta2, static_cast<double>(s.step))));
  const T eps = static_cast<T>(s.eps);
  const T scale = static_cast<T>(s.grad_scale);
  const bool scaled = s.grad_scale != 1.0;
  at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const T gi = scaled ? g[i] * scale : g[i];
      const T mi = m[i] * b1 + gi * one_minus_b1;
      const T vi = v[i] * b2 + gi * gi * one_minus_b2;
      const T denom = std::sqrt(vi) / bias2_sqrt + eps;
      m[i] = mi;
      v[i] = vi;
      p[i] = p[i] * decay - step_size * (mi / denom);
    }
  });
}

template <typename T>
double sum_squares_loop(const T* g, int64_t n) {
  // Chunk partial sums in fixed order: the result does not depend on the thread count.
  const int64_t chunks = (n + kGrain - 1) / kGrain;
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t begin = c * kGrain, end = std::min(n, begin + kGrain);
      double acc[4] = {0, 0, 0, 0};  // four lanes: independent adds the compiler can pipeline
      int64_t i = begin;
      for (; i + 4 <= end; i += 4) {
        for (int l = 0; l < 4; ++l) acc[l] += static_cast<double>(g[i + l]) * static_cast<double>(g[i + l]);
      }
      for (; i < end; ++i) acc[0] += static_cast<double>(g[i]) * static_cast<double>(g[i]);
      partial[static_cast<size_t>(c)] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
  });
  double total = 0;
  for (double x : partial) total += x;
  return total;
}

}  // namespace

void adamw_update_plain(torch::Tensor& p, const torch::Tensor& grad, torch::Tensor& m, torch::Tensor& v,
                        const AdamWScalars& s) {
  torch::NoGradGuard no_grad;
  const double bias1 = 1.0 - std::pow(s.beta1, static_cast<double>(s.step));
  const double bias2_sqrt = std::sqrt(1.0 - std::pow(s.beta2, static_cast<double>(s.step)));
  // Work in the moments' dtype (float32 for half parameters), write the result back.
  torch::Tensor g = grad.to(m.scalar_type());
  if (s.grad_scale != 1.0) g = g * s.grad_scale;
  torch::Tensor w = p.scalar_type() == m.scalar_type() ? p : p.to(m.scalar_type());
  if (s.weight_decay != 0) w.mul_(1.0 - s.lr * s.weight_decay);
  m.mul_(s.beta1).add_(g, 1.0 - s.beta1);
  v.mul_(s.beta2).addcmul_(g, g, 1.0 - s.beta2);
  torch::Tensor denom = (v.sqrt() / bias2_sqrt).add_(s.eps);
  w.addcdiv_(m, denom, -s.lr / bias1);
  if (!w.is_same(p)) p.copy_(w);
}

bool adamw_fused_applies(const torch::Tensor& p, const torch::Tensor& grad, const torch::Tensor& m,
                         const torch::Tensor& v) {
  const auto dtype = p.scalar_type();
  if (dtype != torch::kFloat && dtype != torch::kDouble) return false;
  for (const torch::Tensor* t : {&p, &grad, &m, &v}) {
    if (!t->device().is_cpu() || t->scalar_type() != dtype || !t->is_contiguous() || t->numel() != p.numel()) {
      return false;
    }
  }
  return true;
}

void adamw_update_fused_cpu(torch::Tensor& p, const torch::Tensor& grad, torch::Tensor& m, torch::Tensor& v,
                            const AdamWScalars& s) {
  TORCH_CHECK(adamw_fused_applies(p, grad, m, v),
              "adamw_update_fused_cpu: needs CPU, contiguous float32/float64 tensors of one dtype and size");
  const int64_t n = p.numel();
  if (p.scalar_type() == torch::kFloat) {
    fused_loop<float>(p.data_ptr<float>(), grad.data_ptr<float>(), m.data_ptr<float>(), v.data_ptr<float>(), n, s);
  } else {
    fused_loop<double>(p.data_ptr<double>(), grad.data_ptr<double>(), m.data_ptr<double>(), v.data_ptr<double>(), n,
                       s);
  }
}

double grad_sum_squares_plain(const torch::Tensor& grad) {
  torch::NoGradGuard no_grad;
  return grad.to(torch::kDouble).pow(2).sum().item<double>();
}

double grad_sum_squares(const torch::Tensor& grad) {
  if (grad.device().is_cpu() && grad.is_contiguous()) {
    if (grad.scalar_type() == torch::kFloat) return sum_squares_loop(grad.data_ptr<float>(), grad.numel());
    if (grad.scalar_type() == torch::kDouble) return sum_squares_loop(grad.data_ptr<double>(), grad.numel());
  }
  return grad_sum_squares_plain(grad);
}

}  // namespace sdpo::train
