// Block-wide max and sum reductions (warp shuffles, then one warp over the warp results).
// Every thread of the block must call them; all threads get the result. The block must be a whole number of
// warps, at most 1024 threads: the shuffles use the full warp mask, so a partial last warp would wait on
// lanes that do not exist (undefined behaviour). Launchers check it on the host with requireWholeWarps().
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace sdpo::ops::cuda {

constexpr int kWarpThreads = 32;
constexpr int kMaxBlockThreads = 1024;
constexpr int kBlockThreads = 256;
static_assert(kBlockThreads % kWarpThreads == 0 && kBlockThreads <= kMaxBlockThreads,
              "blockMax / blockSum need whole warps");
constexpr unsigned kFullMask = 0xffffffffu;

// Host side, before a launch whose kernel calls blockMax / blockSum: `threads` per block must be a positive
// multiple of 32, at most 1024 (32 warp results fit the 32-entry scratch).
inline void requireWholeWarps(int threads, const char* kernel) {
  if (threads <= 0 || threads % kWarpThreads != 0 || threads > kMaxBlockThreads) {
    throw std::runtime_error(std::string(kernel) + ": " + std::to_string(threads) +
                             " threads per block; the block reductions need a multiple of 32, at most 1024");
  }
}

template <typename T>
__device__ __forceinline__ T warpMax(T v) {
  for (int offset = 16; offset > 0; offset >>= 1) v = fmax(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

template <typename T>
__device__ __forceinline__ T warpSum(T v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

// `scratch` holds at least 32 T in shared memory; it is reused, so a __syncthreads separates calls.
template <typename T>
__device__ T blockMax(T v, T* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  v = warpMax(v);
  __syncthreads();  // scratch may still be read by a previous reduction
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : -INFINITY;
  return warpMax(v);
}

template <typename T>
__device__ T blockSum(T v, T* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  v = warpSum(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : T(0);
  return warpSum(v);
}

// softplus(x) = max(x, 0) + log1p(exp(-|x|)), and the logistic sigmoid, both without overflow.
template <typename T>
__device__ __forceinline__ T stableSoftplus(T x) { return fmax(x, T(0)) + log1p(exp(-fabs(x))); }
template <typename T>
__device__ __forceinline__ T stableSigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + exp(-x));
  const T e = exp(x);
  return e / (T(1) + e);
}

inline void checkLaunch(const char* kernel) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string(kernel) + " launch failed: " + cudaGetErrorString(err));
}

}  // namespace sdpo::ops::cuda
