// DPO on CUDA: one thread per row, elementwise, the same formulas as the CPU loop in dpo_loss.cpp
// (softplus and sigmoid of the gap directly, so a gap of +-inf gives the CPU's inf / 0 and gradients).
#include "ops/cuda/block_reduce.cuh"
#include "ops/cuda/loss_kernels.h"

namespace sdpo::ops::cuda {
namespace {

constexpr int kDpoThreads = 256;

template <typename T>
__device__ __forceinline__ T dpoGap(const T* pc, const T* pl, const T* rc, const T* rl, int64_t row, T beta) {
  return beta * (pl[row] - rl[row]) - beta * (pc[row] - rc[row]);
}

template <typename T>
__global__ void dpoForwardKernel(const T* __restrict__ pc, const T* __restrict__ pl, const T* __restrict__ rc,
                                 const T* __restrict__ rl, int64_t rows, T beta, T* __restrict__ loss) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row < rows) loss[row] = stableSoftplus(dpoGap(pc, pl, rc, rl, row, beta));
}

template <typename T>
__global__ void dpoBackwardKernel(const T* __restrict__ grad_loss, const T* __restrict__ pc, const T* __restrict__ pl,
                                  const T* __restrict__ rc, const T* __restrict__ rl, int64_t rows, T beta,
                                  T* __restrict__ grad_pc, T* __restrict__ grad_pl) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row >= rows) return;
  // d softplus(gap)/d gap = sigmoid(gap); gap = beta*(rejected side) - beta*(chosen side).
  const T scale = grad_loss[row] * beta * stableSigmoid(dpoGap(pc, pl, rc, rl, row, beta));
  grad_pl[row] = scale;
  grad_pc[row] = -scale;
}

unsigned blocksFor(int64_t rows) { return static_cast<unsigned>((rows + kDpoThreads - 1) / kDpoThreads); }

template <typename T>
void forward(const T* pc, const T* pl, const T* rc, const T* rl, int64_t rows, double beta, T* loss, void* stream) {
  if (rows == 0) return;
  dpoForwardKernel<T><<<blocksFor(rows), kDpoThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      pc, pl, rc, rl, rows, static_cast<T>(beta), loss);
  checkLaunch("dpoForwardKernel");
}

template <typename T>
void backward(const T* grad_loss, const T* pc, const T* pl, const T* rc, const T* rl, int64_t rows, double beta,
              T* grad_pc, T* grad_pl, void* stream) {
  if (rows == 0) return;
  dpoBackwardKernel<T><<<blocksFor(rows), kDpoThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      grad_loss, pc, pl, rc, rl, rows, static_cast<T>(beta), grad_pc, grad_pl);
  checkLaunch("dpoBackwardKernel");
}

}  // namespace

void launchDpoForward(const float* pc, const float* pl, const float* rc, const float* rl, int64_t rows, double beta,
                      float* loss, void* stream) {
  forward(pc, pl, rc, rl, rows, beta, loss, stream);
}
void launchDpoForward(const double* pc, const double* pl, const double* rc, const double* rl, int64_t rows,
                      double beta, double* loss, void* stream) {
  forward(pc, pl, rc, rl, rows, beta, loss, stream);
}
void launchDpoBackward(const float* grad_loss, const float* pc, const float* pl, const float* rc, const float* rl,
                       int64_t rows, double beta, float* grad_pc, float* grad_pl, void* stream) {
  backward(grad_loss, pc, pl, rc, rl, rows, beta, grad_pc, grad_pl, stream);
}
void launchDpoBackward(const double* grad_loss, const double* pc, const double* pl, const double* rc, const double* rl,
                       int64_t rows, double beta, double* grad_pc, double* grad_pl, void* stream) {
  backward(grad_loss, pc, pl, rc, rl, rows, beta, grad_pc, grad_pl, stream);
}

}  // namespace sdpo::ops::cuda
