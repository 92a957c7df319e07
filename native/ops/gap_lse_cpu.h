// The CPU passes S-DPO and NAPO share once their shifted gaps z_j - max_j z_j are exponentiated in place:
// the per-row log-sum-exp and softplus loss, and the backward from the kept softmax weights.
#pragma once
#include <ATen/Parallel.h>

#include <cmath>
#include <cstdint>

#include "ops/stable_math.h"

namespace sdpo::ops {

// Row sums, lse = max + log(sum), loss = softplus(lse); the buffer becomes the softmax weights.
template <typename T>
void gapLseFinishForwardCpu(T* softmax, int64_t rows, int64_t negatives, T* lse, T* loss) {
  at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      T* row = softmax + b * negatives;
      T sum = 0;
      for (int64_t j = 0; j < negatives; ++j) sum += row[j];
      const T inverse = T(1) / sum;  // sum >= 1 (the max term is e^0): no log(0), no 1/0
      for (int64_t j = 0; j < negatives; ++j) row[j] *= inverse;
      lse[b] += std::log(sum);  // lse holds the row max on entry
      loss[b] = stableSoftplus(lse[b]);
    }
  });
}

template <typename T>
void gapLseBackwardCpu(const T* grad_loss, const T* softmax, const T* lse, int64_t rows, int64_t negatives, T beta,
                     T* grad_pc, T* grad_pr) {
  at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      // d softplus(lse)/d lse = sigmoid(lse); d lse/d gap_j = softmax_j (0 where masked); d gap_j/d policy = +-beta.
      const T scale = grad_loss[b] * beta * stableSigmoid(lse[b]);
      const T* row = softmax + b * negatives;
      T* row_grad = grad_pr + b * negatives;
      for (int64_t j = 0; j < negatives; ++j) row_grad[j] = scale * row[j];
      grad_pc[b] = -scale;  // the softmax weights sum to 1
    }
  });
}

}  // namespace sdpo::ops
