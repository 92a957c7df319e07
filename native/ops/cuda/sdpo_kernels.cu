// S-DPO on CUDA: one block per row, a max-shifted log-sum-exp over the row's real negatives.
// Forward and backward are one kernel launch each.
#include "ops/cuda/block_reduce.cuh"
#include "ops/cuda/loss_kernels.h"

namespace sdpo::ops::cuda {
namespace {

template <typename T>
__device__ __forceinline__ T rewardGap(const T* policy_rejected, const T* reference_rejected, T chosen_reward,
                                       int64_t index, T beta) {
  return beta * (policy_rejected[index] - reference_rejected[index]) - chosen_reward;
}

template <typename T>
__global__ void sdpoForwardKernel(const T* __restrict__ policy_chosen, const T* __restrict__ policy_rejected,
                                  const T* __restrict__ reference_chosen, const T* __restrict__ reference_rejected,
                                  const bool* __restrict__ mask, int64_t negatives, T beta, T* __restrict__ loss,
                                  T* __restrict__ lse) {
  __shared__ T scratch[32];
  const int64_t row = blockIdx.x;
  const int64_t base = row * negatives;
  const T chosen_reward = beta * (policy_chosen[row] - reference_chosen[row]);

  T local_max = -INFINITY;
  for (int64_t j = threadIdx.x; j < negatives; j += blockDim.x) {
    if (mask && !mask[base + j]) continue;
    local_max = fmax(local_max, rewardGap(policy_rejected, reference_rejected, chosen_reward, base + j, beta));
  }
  const T row_max = blockMax(local_max, scratch);

  T local_sum = 0;
  for (int64_t j = threadIdx.x; j < negatives; j += blockDim.x) {
    if (mask && !mask[base + j]) continue;
    local_sum += exp(rewardGap(policy_rejected, reference_rejected, chosen_reward, base + j, beta) - row_max);
  }
  const T row_sum = blockSum(local_sum, scratch);

  if (threadIdx.x == 0) {
    const T row_lse = row_max + log(row_sum);  // row_sum >= 1: the max term contributes exp(0)
    lse[row] = row_lse;
    loss[row] = stableSoftplus(row_lse);
  }
}

template <typename T>
__global__ void sdpoBackwardKernel(const T* __restrict__ grad_loss, const T* __restrict__ policy_chosen,
                                   const T* __restrict__ policy_rejected, const T* __restrict__ reference_chosen,
                                   const T* __restrict__ reference_rejected, const bool* __restrict__ mask,
                                   const T* __restrict__ lse, int64_t negatives, T beta,
                                   T* __restrict__ grad_policy_chosen, T* __restrict__ grad_policy_rejected) {
  const int64_t row = blockIdx.x;
  const int64_t base = row * negatives;
  const T chosen_reward = beta * (policy_chosen[row] - reference_chosen[row]);
  const T row_lse = lse[row];
  // d softplus(lse) / d lse = sigmoid(lse); d lse / d gap_j = softmax_j; d gap_j / d policy_rejected = beta.
  const T scale = grad_loss[row] * beta * stableSigmoid(row_lse);
  for (int64_t j = threadIdx.x; j < negatives; j += blockDim.x) {
    T grad = 0;
    if (!mask || mask[base + j]) {
      grad = scale * exp(rewardGap(policy_rejected, reference_rejected, chosen_reward, base + j, beta) - row_lse);
    }
    grad_policy_rejected[base + j] = grad;
  }
  // The softmax weights sum to 1, so the chosen side gets -scale.
  if (threadIdx.x == 0) grad_policy_chosen[row] = -scale;
}

int threadsFor(int64_t negatives) {
  int threads = 32;
  while (threads < kBlockThreads && threads < negatives) threads <<= 1;
  return threads;
}

template <typename T>
void forward(const T* pc, const T* pr, const T* rc, const T* rr, const bool* mask, int64_t rows, int64_t negatives,
             double beta, T* loss, T* lse, void* stream) {
  if (rows == 0) return;
  const int threads = threadsFor(negatives);
  requireWholeWarps(threads, "sdpoForwardKernel");
  sdpoForwardKernel<T><<<static_cast<unsigned>(rows), threads, 0, static_cast<cudaStream_t>(stream)>>>(
      pc, pr, rc, rr, mask, negatives, static_cast<T>(beta), loss, lse);
  checkLaunch("sdpoForwardKernel");
}

template <typename T>
void backward(const T* grad_loss, const T* pc, const T* pr, const T* rc, const T* rr, const bool* mask, const T* lse,
              int64_t rows, int64_t negatives, double beta, T* grad_pc, T* grad_pr, void* stream) {
  if (rows == 0) return;
  sdpoBackwardKernel<T><<<static_cast<unsigned>(rows), threadsFor(negatives), 0, static_cast<cudaStream_t>(stream)>>>(
      grad_loss, pc, pr, rc, rr, mask, lse, negatives, static_cast<T>(beta), grad_pc, grad_pr);
  checkLaunch("sdpoBackwardKernel");
}

}  // namespace

void launchSdpoForward(const float* pc, const float* pr, const float* rc, const float* rr, const bool* mask,
                       int64_t rows, int64_t negatives, double beta, float* loss, float* lse, void* stream) {
  forward(pc, pr, rc, rr, mask, rows, negatives, beta, loss, lse, stream);
}
void launchSdpoForward(const double* pc, const double* pr, const double* rc, const double* rr, const bool* mask,
                       int64_t rows, int64_t negatives, double beta, double* loss, double* lse, void* stream) {
  forward(pc, pr, rc, rr, mask, rows, negatives, beta, loss, lse, stream);
}
void launchSdpoBackward(const float* grad_loss, const float* pc, const float* pr, const float* rc, const float* rr,
                        const bool* mask, const float* lse, int64_t rows, int64_t negatives, double beta,
                        float* grad_pc, float* grad_pr, void* stream) {
  backward(grad_loss, pc, pr, rc, rr, mask, lse, rows, negatives, beta, grad_pc, grad_pr, stream);
}
void launchSdpoBackward(const double* grad_loss, const double* pc, const double* pr, const double* rc,
                        const double* rr, const bool* mask, const double* lse, int64_t rows, int64_t negatives,
                        double beta, double* grad_pc, double* grad_pr, void* stream) {
  backward(grad_loss, pc, pr, rc, rr, mask, lse, rows, negatives, beta, grad_pc, grad_pr, stream);
}

}  // namespace sdpo::ops::cuda
