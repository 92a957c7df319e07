// Argument checks shared by the loss entry points: done before any memory is touched, and
// every failure is an sdpo::TypeError / sdpo::RangeError naming the argument (and row) at fault.
#pragma once
#include <torch/torch.h>

#include <string>

namespace sdpo::ops {

// float32 or float64, else TypeError naming `what`.
void requireFloating(const torch::Tensor& t, const std::string& what);
// Same dtype and device as `like` (named `likeName`).
void requireSameDtypeDevice(const torch::Tensor& t, const std::string& what, const torch::Tensor& like,
                            const std::string& likeName);
// Exact shape, else RangeError "what must have shape [a, b], got [c]".
void requireShape(const torch::Tensor& t, const std::string& what, at::IntArrayRef shape);
// beta > 0 and finite.
void requireBeta(double beta);

// The four preference inputs, checked and made contiguous. K is policy_rejected.size(1) (>= 1).
struct PreferenceInputs {
  torch::Tensor policy_chosen, policy_rejected, reference_chosen, reference_rejected, mask;
  int64_t rows = 0;
  int64_t negatives = 0;
};
// `rejected_rank`: 2 for S-DPO ([B, K]), 1 for DPO ([B]).
PreferenceInputs checkPreferenceInputs(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                                       const torch::Tensor& reference_chosen,
                                       const torch::Tensor& reference_rejected, double beta,
                                       const torch::Tensor& mask, int rejected_rank);

// hidden [N, D], weight [V, D] (same float dtype, device), labels [N] int64 on the same device,
// every label in [0, V) or == ignore_index. Returns contiguous tensors.
struct TokenInputs {
  torch::Tensor hidden, weight, labels;
};
TokenInputs checkTokenInputs(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& labels,
                             int64_t ignore_index);

// Rows per logits chunk for the chunked token log-probs, a pure function of its arguments:
// `requested` if > 0; else on CPU about 2^21 logits per chunk (8 MiB in float32: a chunk stays in cache);
// on CUDA a logits buffer of a quarter of `free_bytes` (the device memory free now, including what the
// caching allocator holds unused), at most kCudaChunkMaxBytes, and at least kCudaChunkMinRows rows while
// those fit in half of `free_bytes` (fewer rows leave most of the device's SMs idle and re-read the [V, D]
// weight once per chunk). Never more than `rows`, never fewer than 1. `element_size`: bytes per logit.
enum class ChunkDevice { Cpu, Cuda };
constexpr int64_t kCpuChunkLogits = int64_t(1) << 21;
constexpr int64_t kCudaChunkMinRows = 1024;
constexpr int64_t kCudaChunkMaxBytes = int64_t(2) << 30;
int64_t chooseChunkRows(ChunkDevice device, int64_t requested, int64_t rows, int64_t vocab, int64_t free_bytes,
                        int64_t element_size);

// NAPO margin settings for policy_rejected [B, K]: gamma finite and >= 0; in dynamic mode both confidences
// present, tau finite and > 0, chosen_confidence [B] and rejected_confidence [B, K] with the dtype and
// device of policy_rejected. Returns the margin with contiguous, detached confidences.
struct NapoMargin;
NapoMargin checkNapoMargin(const NapoMargin& margin, const torch::Tensor& policy_rejected);

}  // namespace sdpo::ops
