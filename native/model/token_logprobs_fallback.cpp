// TEMPORARY (delete at merge with branch ops): weak stand-ins for sdpo::ops::token_logprobs and
// token_logprobs_reference so the model links before the ops branch lands. The ops branch's strong
// definitions win at link time when both are present, so keeping this file by mistake is harmless.
#include "ops/losses.h"

namespace sdpo::ops {

__attribute__((weak)) torch::Tensor token_logprobs_reference(const torch::Tensor& hidden, const torch::Tensor& weight,
                                                             const torch::Tensor& labels, int64_t ignore_index) {
  TORCH_CHECK(hidden.dim() == 2 && weight.dim() == 2 && hidden.size(1) == weight.size(1),
              "token_logprobs: hidden [N, D] and weight [V, D] expected");
  torch::Tensor keep = labels != ignore_index;
  TORCH_CHECK(((labels >= 0).logical_and(labels < weight.size(0))).logical_or(keep.logical_not()).all().item<bool>(),
              "token_logprobs: label outside [0, V)");
  torch::Tensor safe = labels.masked_fill(keep.logical_not(), 0);
  torch::Tensor log_probs = torch::log_softmax(torch::matmul(hidden, weight.t()), -1);
  return log_probs.gather(1, safe.unsqueeze(1)).squeeze(1) * keep.to(hidden.scalar_type());
}

__attribute__((weak)) torch::Tensor token_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight,
                                                   const torch::Tensor& labels, int64_t ignore_index,
                                                   int64_t /*chunk_rows*/) {
  return token_logprobs_reference(hidden, weight, labels, ignore_index);
}

}  // namespace sdpo::ops
