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

// Rows per logits chunk for the chunked token log-probs: `requested` if > 0, else about
// 2^21 logits per chunk (8 MiB in float32), at least 1 row.
int64_t chooseChunkRows(int64_t requested, int64_t rows, int64_t vocab);

// NAPO margin settings for policy_rejected [B, K]: gamma finite and >= 0; in dynamic mode both confidences
// present, tau finite and > 0, chosen_confidence [B] and rejected_confidence [B, K] with the dtype and
// device of policy_rejected. Returns the margin with contiguous, detached confidences.
struct NapoMargin;
NapoMargin checkNapoMargin(const NapoMargin& margin, const torch::Tensor& policy_rejected);

}  // namespace sdpo::ops
