// One AdamW update of one parameter, two ways: composed ATen ops (the plain version, any device and
// dtype) and one fused pass over the four arrays (CPU, float32/float64, contiguous). The fused pass
// reads p, g, m, v once and writes p, m, v once; the composed ops make eight passes and two
// temporaries, and the gradient clipping coefficient costs a ninth (here folded in as grad_scale).
#pragma once
#include <torch/torch.h>

namespace sdpo::train {

struct AdamWScalars {
  double lr = 0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  int64_t step = 1;        // 1-based count of updates, this one included (bias correction)
  double grad_scale = 1;   // the gradient is used as grad * grad_scale (gradient clipping)
};

// p <- p (1 - lr wd); m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2;
// p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), with g = grad * grad_scale.
// p, m, v are updated in place; m and v have p's shape in the moment dtype.
void adamw_update_plain(torch::Tensor& p, const torch::Tensor& grad, torch::Tensor& m, torch::Tensor& v,
                        const AdamWScalars& s);

// Whether adamw_update_fused_cpu takes these tensors: CPU, contiguous, one floating dtype (float32 or
// float64) for all four, same number of elements.
bool adamw_fused_applies(const torch::Tensor& p, const torch::Tensor& grad, const torch::Tensor& m,
                         const torch::Tensor& v);
void adamw_update_fused_cpu(torch::Tensor& p, const torch::Tensor& grad, torch::Tensor& m, torch::Tensor& v,
                            const AdamWScalars& s);

// Sum of grad^2, accumulated in float64. Fused on CPU float32/float64 contiguous tensors (no float64
// copy of the gradient); elsewhere grad.to(float64).pow(2).sum(), read back.
double grad_sum_squares(const torch::Tensor& grad);
double grad_sum_squares_plain(const torch::Tensor& grad);

}  // namespace sdpo::train
