// Token log-probs through the LM head, chunked over rows so no [N, V] logits tensor is kept:
// forward: per chunk, logits = hidden_chunk @ weight^T (BLAS / cuBLAS), then the per-row max-shifted
//          log-sum-exp and the label's logit (CUDA: one kernel); only the per-row lse is saved;
// backward: per chunk, recompute the logits, turn them into grad_logits = g * (onehot - softmax) in place,
//          grad_hidden[chunk] = grad_logits @ weight, grad_weight += grad_logits^T @ hidden_chunk.
#include <ATen/Parallel.h>

#include <limits>

#include "argument_errors.h"
#include "ops/checks.h"
#include "ops/losses.h"

#ifdef SDPO_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>

#include "ops/cuda/loss_kernels.h"
#endif

namespace sdpo::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Bytes a new chunk could take on `device`: what the driver reports free plus what the caching allocator
// holds without using it (freed tensors it keeps for reuse). 0 without CUDA kernels (the caller throws).
int64_t freeDeviceBytes(const torch::Device& device) {
#ifdef SDPO_WITH_CUDA
  const c10::cuda::CUDAGuard device_guard(device);
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
    (void)cudaGetLastError();  // not sticky: clear it so later launches don't report it
    return 0;
  }
  // Index 0 of each stat array is the aggregate over pools (StatType::AGGREGATE).
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
  const int64_t cached_unused = stats.reserved_bytes[0].current - stats.allocated_bytes[0].current;
  return static_cast<int64_t>(free_bytes) + std::max<int64_t>(cached_unused, 0);
#else
  (void)device;
  return 0;
#endif
}

// Rows per parallel task: about 32k logits of work each.
int64_t rowGrain(int64_t vocab) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(vocab, 1)); }

// CPU per chunk, around one in-place exp through ATen's SIMD kernel (a scalar std::exp costs several
// times more per logit): before it, shift each row by its max (keeping the label's logit); after it,
// sum each row into its log-sum-exp. The chunk's logits buffer is scratch, so it is overwritten.
template <typename T>
void shiftRowsByMaxCpu(T* logits, const int64_t* labels, int64_t rows, int64_t vocab, int64_t ignore_index,
                       T* picked, T* row_max) {
  at::parallel_for(0, rows, rowGrain(vocab), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T* row = logits + i * vocab;
      T max = -std::numeric_limits<T>::infinity();
      for (int64_t v = 0; v < vocab; ++v) max = std::max(max, row[v]);
      picked[i] = labels[i] == ignore_index ? T(0) : row[labels[i]];
      for (int64_t v = 0; v < vocab; ++v) row[v] -= max;
      row_max[i] = max;
    }
  });
}

template <typename T>
void finishLseAndPickCpu(const T* exp_shifted, const int64_t* labels, int64_t rows, int64_t vocab,
                         int64_t ignore_index, T* logp, T* lse) {
  at::parallel_for(0, rows, rowGrain(vocab), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const T* row = exp_shifted + i * vocab;
      T sum = 0;
      for (int64_t v = 0; v < vocab; ++v) sum += row[v];
      lse[i] += std::log(sum);  // lse holds the row max on entry; sum >= 1 (the max term is e^0)
      logp[i] = labels[i] == ignore_index ? T(0) : logp[i] - lse[i];  // logp holds the label's logit
    }
  });
}

template <typename T>
void shiftRowsByLseCpu(T* logits, const T* lse, int64_t rows, int64_t vocab) {
  at::parallel_for(0, rows, rowGrain(vocab), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T* row = logits + i * vocab;
      for (int64_t v = 0; v < vocab; ++v) row[v] -= lse[i];
    }
  });
}

// softmax (after exp of the lse-shifted logits) -> grad_logits = g * (onehot - softmax), 0 for ignored rows.
template <typename T>
void softmaxToGradLogitsCpu(T* softmax, const int64_t* labels, const T* grad_logp, int64_t rows, int64_t vocab,
                            int64_t ignore_index) {
  at::parallel_for(0, rows, rowGrain(vocab), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T* row = softmax + i * vocab;
      if (labels[i] == ignore_index) {
        std::fill(row, row + vocab, T(0));
        continue;
      }
      const T g = grad_logp[i];
      for (int64_t v = 0; v < vocab; ++v) row[v] *= -g;
      row[labels[i]] += g;
    }
  });
}

// Overwrites `logits` (scratch).
void chunkLseAndPick(torch::Tensor& logits, const torch::Tensor& labels, int64_t ignore_index,
                     torch::Tensor& logp, torch::Tensor& lse) {
  const int64_t rows = logits.size(0), vocab = logits.size(1);
  if (logits.is_cuda()) {
#ifdef SDPO_WITH_CUDA
    const c10::cuda::CUDAGuard device_guard(logits.device());
    void* stream = at::cuda::getCurrentCUDAStream().stream();
    AT_DISPATCH_FLOATING_TYPES(logits.scalar_type(), "token_logprobs_cuda", [&] {
      cuda::launchTokenLseForward(logits.data_ptr<scalar_t>(), labels.data_ptr<int64_t>(), rows, vocab, ignore_index,
                                  logp.data_ptr<scalar_t>(), lse.data_ptr<scalar_t>(), stream);
    });
#else
    throw std::runtime_error("token_logprobs: this build has no CUDA kernels (built against a CPU-only libtorch)");
#endif
  } else {
    AT_DISPATCH_FLOATING_TYPES(logits.scalar_type(), "token_logprobs_cpu", [&] {
      shiftRowsByMaxCpu<scalar_t>(logits.data_ptr<scalar_t>(), labels.data_ptr<int64_t>(), rows, vocab, ignore_index,
                                  logp.data_ptr<scalar_t>(), lse.data_ptr<scalar_t>());
      logits.exp_();
      finishLseAndPickCpu<scalar_t>(logits.data_ptr<scalar_t>(), labels.data_ptr<int64_t>(), rows, vocab,
                                    ignore_index, logp.data_ptr<scalar_t>(), lse.data_ptr<scalar_t>());
    });
  }
}

void chunkGradLogitsInPlace(torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& lse,
                            const torch::Tensor& grad_logp, int64_t ignore_index) {
  const int64_t rows = logits.size(0), vocab = logits.size(1);
  if (logits.is_cuda()) {
#ifdef SDPO_WITH_CUDA
    const c10::cuda::CUDAGuard device_guard(logits.device());
    void* stream = at::cuda::getCurrentCUDAStream().stream();
    AT_DISPATCH_FLOATING_TYPES(logits.scalar_type(), "token_logprobs_backward_cuda", [&] {
      cuda::launchTokenGradLogitsInPlace(logits.data_ptr<scalar_t>(), labels.data_ptr<int64_t>(),
                                         lse.data_ptr<scalar_t>(), grad_logp.data_ptr<scalar_t>(), rows, vocab,
                                         ignore_index, stream);
    });
#else
    throw std::runtime_error("token_logprobs: this build has no CUDA kernels (built against a CPU-only libtorch)");
#endif
  } else {
    AT_DISPATCH_FLOATING_TYPES(logits.scalar_type(), "token_logprobs_backward_cpu", [&] {
      shiftRowsByLseCpu<scalar_t>(logits.data_ptr<scalar_t>(), lse.data_ptr<scalar_t>(), rows, vocab);
      logits.exp_();
      softmaxToGradLogitsCpu<scalar_t>(logits.data_ptr<scalar_t>(), labels.data_ptr<int64_t>(),
                                       grad_logp.data_ptr<scalar_t>(), rows, vocab, ignore_index);
    });
  }
}

struct TokenLogprobsFunction : torch::autograd::Function<TokenLogprobsFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& hidden, const torch::Tensor& weight,
                               const torch::Tensor& labels, int64_t ignore_index, int64_t chunk_rows) {
    const int64_t rows = hidden.size(0);
    torch::Tensor logp = torch::empty({rows}, hidden.options());
    torch::Tensor lse = torch::empty({rows}, hidden.options());
    const torch::Tensor weight_t = weight.t();
    for (int64_t start = 0; start < rows; start += chunk_rows) {
      const int64_t count = std::min(chunk_rows, rows - start);
      torch::Tensor logits = torch::matmul(hidden.narrow(0, start, count), weight_t).contiguous();
      torch::Tensor chunk_logp = logp.narrow(0, start, count);  // contiguous views: written in place
      torch::Tensor chunk_lse = lse.narrow(0, start, count);
      chunkLseAndPick(logits, labels.narrow(0, start, count), ignore_index, chunk_logp, chunk_lse);
    }
    ctx->save_for_backward({hidden, weight, labels, lse});
    ctx->saved_data["ignore_index"] = ignore_index;
    ctx->saved_data["chunk_rows"] = chunk_rows;
    return logp;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor &hidden = saved[0], &weight = saved[1], &labels = saved[2], &lse = saved[3];
    const int64_t ignore_index = ctx->saved_data["ignore_index"].toInt();
    const int64_t chunk_rows = ctx->saved_data["chunk_rows"].toInt();
    const torch::Tensor grad_logp = grad_outputs[0].contiguous();
    const int64_t rows = hidden.size(0);
    // A frozen head (LoRA, or a reference) needs no weight gradient: skip its [V, D] products.
    const bool want_hidden = ctx->needs_input_grad(0), want_weight = ctx->needs_input_grad(1);
    torch::Tensor grad_hidden = want_hidden ? torch::empty_like(hidden) : torch::Tensor();
    // The first chunk writes grad_weight, the others add to it (no zero-fill pass over [V, D]).
    torch::Tensor grad_weight = want_weight && rows == 0 ? torch::zeros_like(weight)
                                : want_weight           ? torch::empty_like(weight)
                                                        : torch::Tensor();
    const torch::Tensor weight_t = weight.t();
    for (int64_t start = 0; start < rows && (want_hidden || want_weight); start += chunk_rows) {
      const int64_t count = std::min(chunk_rows, rows - start);
      const torch::Tensor hidden_chunk = hidden.narrow(0, start, count);
      torch::Tensor grad_logits = torch::matmul(hidden_chunk, weight_t).contiguous();  // recomputed logits
      chunkGradLogitsInPlace(grad_logits, labels.narrow(0, start, count), lse.narrow(0, start, count),
                             grad_logp.narrow(0, start, count), ignore_index);
      if (want_hidden) {
        torch::Tensor grad_hidden_chunk = grad_hidden.narrow(0, start, count);
        at::mm_out(grad_hidden_chunk, grad_logits, weight);
      }
      if (want_weight) {
        if (start == 0) {
          at::mm_out(grad_weight, grad_logits.t(), hidden_chunk);
        } else {
          grad_weight.addmm_(grad_logits.t(), hidden_chunk);
        }
      }
    }
    return {grad_hidden, grad_weight, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

int64_t token_logprobs_chunk_rows(const torch::Tensor& hidden, const torch::Tensor& weight, int64_t chunk_rows) {
  const bool on_cuda = hidden.is_cuda();
  return chooseChunkRows(on_cuda ? ChunkDevice::Cuda : ChunkDevice::Cpu, chunk_rows, hidden.size(0), weight.size(0),
                         on_cuda ? freeDeviceBytes(hidden.device()) : 0, hidden.element_size());
}

torch::Tensor token_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& labels,
                             int64_t ignore_index, int64_t chunk_rows) {
  auto in = checkTokenInputs(hidden, weight, labels, ignore_index);
  if (chunk_rows < 0) throw RangeError("chunk_rows must be >= 0 (0: chosen from V), got " + std::to_string(chunk_rows));
  const int64_t rows_per_chunk = token_logprobs_chunk_rows(in.hidden, in.weight, chunk_rows);
  return TokenLogprobsFunction::apply(in.hidden, in.weight, in.labels, ignore_index, rows_per_chunk);
}

}  // namespace sdpo::ops
