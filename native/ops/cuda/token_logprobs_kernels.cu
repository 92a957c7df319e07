// Token log-probs on CUDA: the chunk's logits come from cuBLAS (ATen matmul in the caller); these
// kernels do the per-row vocabulary reductions, one block per row.
#include "ops/cuda/block_reduce.cuh"
#include "ops/cuda/loss_kernels.h"

namespace sdpo::ops::cuda {
namespace {

template <typename T>
__global__ void tokenLseForwardKernel(const T* __restrict__ logits, const int64_t* __restrict__ labels, int64_t vocab,
                                      int64_t ignore_index, T* __restrict__ logp, T* __restrict__ lse) {
  __shared__ T scratch[32];
  const int64_t row = blockIdx.x;
  const T* row_logits = logits + row * vocab;

  T local_max = -INFINITY;
  for (int64_t v = threadIdx.x; v < vocab; v += blockDim.x) local_max = fmax(local_max, row_logits[v]);
  const T row_max = blockMax(local_max, scratch);

  T local_sum = 0;
  for (int64_t v = threadIdx.x; v < vocab; v += blockDim.x) local_sum += exp(row_logits[v] - row_max);
  const T row_sum = blockSum(local_sum, scratch);

  if (threadIdx.x == 0) {
    const T row_lse = row_max + log(row_sum);
    lse[row] = row_lse;
    const int64_t label = labels[row];
    // A label outside [0, vocab) is reported by the caller's check, which may be read after this kernel
    // ran (device_checks.h): give it NaN rather than read outside the row.
    const bool in_vocab = label >= 0 && label < vocab;
    logp[row] = label == ignore_index ? T(0) : in_vocab ? row_logits[label] - row_lse : T(NAN);
  }
}

template <typename T>
__global__ void tokenGradLogitsKernel(T* __restrict__ logits, const int64_t* __restrict__ labels,
                                      const T* __restrict__ lse, const T* __restrict__ grad_logp, int64_t vocab,
                                      int64_t ignore_index) {
  const int64_t row = blockIdx.x;
  T* row_logits = logits + row * vocab;
  const int64_t label = labels[row];
  if (label == ignore_index) {
    for (int64_t v = threadIdx.x; v < vocab; v += blockDim.x) row_logits[v] = T(0);
    return;
  }
  const T g = grad_logp[row];
  const T row_lse = lse[row];
  for (int64_t v = threadIdx.x; v < vocab; v += blockDim.x) {
    const T onehot = v == label ? T(1) : T(0);
    row_logits[v] = g * (onehot - exp(row_logits[v] - row_lse));
  }
}

template <typename T>
void forward(const T* logits, const int64_t* labels, int64_t rows, int64_t vocab, int64_t ignore_index, T* logp, T* lse,
             void* stream) {
  if (rows == 0) return;
  requireWholeWarps(kBlockThreads, "tokenLseForwardKernel");
  tokenLseForwardKernel<T><<<static_cast<unsigned>(rows), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      logits, labels, vocab, ignore_index, logp, lse);
  checkLaunch("tokenLseForwardKernel");
}

template <typename T>
void gradLogits(T* logits, const int64_t* labels, const T* lse, const T* grad_logp, int64_t rows, int64_t vocab,
                int64_t ignore_index, void* stream) {
  if (rows == 0) return;
  tokenGradLogitsKernel<T><<<static_cast<unsigned>(rows), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      logits, labels, lse, grad_logp, vocab, ignore_index);
  checkLaunch("tokenGradLogitsKernel");
}

}  // namespace

void launchTokenLseForward(const float* logits, const int64_t* labels, int64_t rows, int64_t vocab,
                           int64_t ignore_index, float* logp, float* lse, void* stream) {
  forward(logits, labels, rows, vocab, ignore_index, logp, lse, stream);
}
void launchTokenLseForward(const double* logits, const int64_t* labels, int64_t rows, int64_t vocab,
                           int64_t ignore_index, double* logp, double* lse, void* stream) {
  forward(logits, labels, rows, vocab, ignore_index, logp, lse, stream);
}
void launchTokenGradLogitsInPlace(float* logits, const int64_t* labels, const float* lse, const float* grad_logp,
                                  int64_t rows, int64_t vocab, int64_t ignore_index, void* stream) {
  gradLogits(logits, labels, lse, grad_logp, rows, vocab, ignore_index, stream);
}
void launchTokenGradLogitsInPlace(double* logits, const int64_t* labels, const double* lse, const double* grad_logp,
                                  int64_t rows, int64_t vocab, int64_t ignore_index, void* stream) {
  gradLogits(logits, labels, lse, grad_logp, rows, vocab, ignore_index, stream);
}

}  // namespace sdpo::ops::cuda
