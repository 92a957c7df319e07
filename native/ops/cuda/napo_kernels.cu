// S-DPO and NAPO on CUDA: one block per row, a max-shifted log-sum-exp over the row's real negatives of the
// reward gaps plus a margin computed in the kernel from gamma (fixed) or the two confidence arrays (dynamic).
// S-DPO is gamma = 0: the kernels are instantiated per margin kind, and the no-margin instance reads no
// confidences and adds nothing. Forward and backward are one launch each; the backward recomputes gaps and
// margins instead of keeping a [B, K] buffer.
#include "ops/cuda/block_reduce.cuh"
#include "ops/cuda/napo_kernels.h"

namespace sdpo::ops::cuda {
namespace {

enum class MarginKind { None, Fixed, Dynamic };

// Kernel-side copy of NapoMarginArgs with the scalars in T.
template <typename T>
struct Margin {
  const T* chosen_confidence;
  const T* rejected_confidence;
  T gamma;
  T inverse_tau;
};

// z_j = r_j - r_w + m_j for the entry `index` = row * K + j; m_j = 0 (no work at all) for MarginKind::None.
template <MarginKind kind, typename T>
__device__ __forceinline__ T marginGap(const T* policy_rejected, const T* reference_rejected, T chosen_reward,
                                       const Margin<T>& margin, int64_t row, int64_t index, T beta) {
  const T gap = beta * (policy_rejected[index] - reference_rejected[index]) - chosen_reward;
  if constexpr (kind == MarginKind::None) {
    return gap;
  } else if constexpr (kind == MarginKind::Fixed) {
    return gap + margin.gamma;
  } else {
    return gap + margin.gamma * stableSigmoid((margin.rejected_confidence[index] - margin.chosen_confidence[row]) *
                                              margin.inverse_tau);
  }
}

template <MarginKind kind, typename T>
__global__ void napoForwardKernel(const T* __restrict__ policy_chosen, const T* __restrict__ policy_rejected,
                                  const T* __restrict__ reference_chosen, const T* __restrict__ reference_rejected,
                                  Margin<T> margin, const bool* __restrict__ mask, int64_t negatives, T beta,
                                  T* __restrict__ loss, T* __restrict__ lse) {
  __shared__ T scratch[32];
  const int64_t row = blockIdx.x;
  const int64_t base = row * negatives;
  const T chosen_reward = beta * (policy_chosen[row] - reference_chosen[row]);

  T local_max = -INFINITY;
  for (int64_t j = threadIdx.x; j < negatives; j += blockDim.x) {
    if (mask && !mask[base + j]) continue;
    local_max =
        fmax(local_max, marginGap<kind>(policy_rejected, reference_rejected, chosen_reward, margin, row, base + j, beta));
  }
  const T row_max = blockMax(local_max, scratch);

  T local_sum = 0;
  for (int64_t j = threadIdx.x; j < negatives; j += blockDim.x) {
    if (mask && !mask[base + j]) continue;
    local_sum +=
        exp(marginGap<kind>(policy_rejected, reference_rejected, chosen_reward, margin, row, base + j, beta) - row_max);
  }
  const T row_sum = blockSum(local_sum, scratch);

  if (threadIdx.x == 0) {
    const T row_lse = row_max + log(row_sum);  // row_sum >= 1: the max term contributes exp(0)
    lse[row] = row_lse;
    loss[row] = stableSoftplus(row_lse);
  }
}

template <MarginKind kind, typename T>
__global__ void napoBackwardKernel(const T* __restrict__ grad_loss, const T* __restrict__ policy_chosen,
                                   const T* __restrict__ policy_rejected, const T* __restrict__ reference_chosen,
                                   const T* __restrict__ reference_rejected, Margin<T> margin,
                                   const bool* __restrict__ mask, const T* __restrict__ lse, int64_t negatives, T beta,
                                   T* __restrict__ grad_policy_chosen, T* __restrict__ grad_policy_rejected) {
  const int64_t row = blockIdx.x;
  const int64_t base = row * negatives;
  const T chosen_reward = beta * (policy_chosen[row] - reference_chosen[row]);
  const T row_lse = lse[row];
  // d softplus(lse)/d lse = sigmoid(lse); d lse/d z_j = softmax_j; d z_j/d policy_rejected = beta (margin: constant).
  const T scale = grad_loss[row] * beta * stableSigmoid(row_lse);
  for (int64_t j = threadIdx.x; j < negatives; j += blockDim.x) {
    T grad = 0;
    if (!mask || mask[base + j]) {
      grad = scale *
             exp(marginGap<kind>(policy_rejected, reference_rejected, chosen_reward, margin, row, base + j, beta) -
                 row_lse);
    }
    grad_policy_rejected[base + j] = grad;
  }
  if (threadIdx.x == 0) grad_policy_chosen[row] = -scale;  // the softmax weights sum to 1
}

int threadsFor(int64_t negatives) {
  int threads = 32;
  while (threads < kBlockThreads && threads < negatives) threads <<= 1;
  return threads;
}

template <typename T>
Margin<T> kernelMargin(const NapoMarginArgs<T>& args) {
  return {args.chosen_confidence, args.rejected_confidence, static_cast<T>(args.gamma), static_cast<T>(1.0 / args.tau)};
}

// gamma = 0 is no margin whatever the confidences; dynamic only when both confidences are given (the entry
// point checks that they come together).
template <typename T>
MarginKind marginKind(const NapoMarginArgs<T>& args) {
  if (args.gamma == 0) return MarginKind::None;
  return args.chosen_confidence && args.rejected_confidence ? MarginKind::Dynamic : MarginKind::Fixed;
}

template <typename T>
void forward(const T* pc, const T* pr, const T* rc, const T* rr, const NapoMarginArgs<T>& margin, const bool* mask,
             int64_t rows, int64_t negatives, double beta, T* loss, T* lse, void* stream) {
  if (rows == 0) return;
  const int threads = threadsFor(negatives);
  requireWholeWarps(threads, "napoForwardKernel");
  const dim3 grid(static_cast<unsigned>(rows));
  const auto s = static_cast<cudaStream_t>(stream);
  const Margin<T> m = kernelMargin(margin);
  const T b = static_cast<T>(beta);
  switch (marginKind(margin)) {
    case MarginKind::None:
      napoForwardKernel<MarginKind::None, T><<<grid, threads, 0, s>>>(pc, pr, rc, rr, m, mask, negatives, b, loss, lse);
      break;
    case MarginKind::Fixed:
      napoForwardKernel<MarginKind::Fixed, T><<<grid, threads, 0, s>>>(pc, pr, rc, rr, m, mask, negatives, b, loss, lse);
      break;
    case MarginKind::Dynamic:
      napoForwardKernel<MarginKind::Dynamic, T><<<grid, threads, 0, s>>>(pc, pr, rc, rr, m, mask, negatives, b, loss,
                                                                         lse);
      break;
  }
  checkLaunch("napoForwardKernel");
}

template <typename T>
void backward(const T* grad_loss, const T* pc, const T* pr, const T* rc, const T* rr, const NapoMarginArgs<T>& margin,
              const bool* mask, const T* lse, int64_t rows, int64_t negatives, double beta, T* grad_pc, T* grad_pr,
              void* stream) {
  if (rows == 0) return;
  const dim3 grid(static_cast<unsigned>(rows));
  const int threads = threadsFor(negatives);
  const auto s = static_cast<cudaStream_t>(stream);
  const Margin<T> m = kernelMargin(margin);
  const T b = static_cast<T>(beta);
  switch (marginKind(margin)) {
    case MarginKind::None:
      napoBackwardKernel<MarginKind::None, T><<<grid, threads, 0, s>>>(grad_loss, pc, pr, rc, rr, m, mask, lse,
                                                                       negatives, b, grad_pc, grad_pr);
      break;
    case MarginKind::Fixed:
      napoBackwardKernel<MarginKind::Fixed, T><<<grid, threads, 0, s>>>(grad_loss, pc, pr, rc, rr, m, mask, lse,
                                                                        negatives, b, grad_pc, grad_pr);
      break;
    case MarginKind::Dynamic:
      napoBackwardKernel<MarginKind::Dynamic, T><<<grid, threads, 0, s>>>(grad_loss, pc, pr, rc, rr, m, mask, lse,
                                                                          negatives, b, grad_pc, grad_pr);
      break;
  }
  checkLaunch("napoBackwardKernel");
}

}  // namespace

void launchNapoForward(const float* pc, const float* pr, const float* rc, const float* rr,
                       NapoMarginArgs<float> margin, const bool* mask, int64_t rows, int64_t negatives, double beta,
                       float* loss, float* lse, void* stream) {
  forward(pc, pr, rc, rr, margin, mask, rows, negatives, beta, loss, lse, stream);
}
void launchNapoForward(const double* pc, const double* pr, const double* rc, const double* rr,
                       NapoMarginArgs<double> margin, const bool* mask, int64_t rows, int64_t negatives, double beta,
                       double* loss, double* lse, void* stream) {
  forward(pc, pr, rc, rr, margin, mask, rows, negatives, beta, loss, lse, stream);
}
void launchNapoBackward(const float* grad_loss, const float* pc, const float* pr, const float* rc, const float* rr,
                        NapoMarginArgs<float> margin, const bool* mask, const float* lse, int64_t rows,
                        int64_t negatives, double beta, float* grad_pc, float* grad_pr, void* stream) {
  backward(grad_loss, pc, pr, rc, rr, margin, mask, lse, rows, negatives, beta, grad_pc, grad_pr, stream);
}
void launchNapoBackward(const double* grad_loss, const double* pc, const double* pr, const double* rc,
                        const double* rr, NapoMarginArgs<double> margin, const bool* mask, const double* lse,
                        int64_t rows, int64_t negatives, double beta, double* grad_pc, double* grad_pr, void* stream) {
  backward(grad_loss, pc, pr, rc, rr, margin, mask, lse, rows, negatives, beta, grad_pc, grad_pr, stream);
}

}  // namespace sdpo::ops::cuda
