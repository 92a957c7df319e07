// SFT's candidate-list term (losses.h): -log of the policy's probability of answering with any listed candidate.
#include <limits>

#include "argument_errors.h"
#include "ops/checks.h"
#include "ops/losses.h"

namespace sdpo::ops {

torch::Tensor candidate_list_nll(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                                 const torch::Tensor& mask) {
  requireFloating(policy_chosen, "policyChosen");
  if (policy_chosen.dim() != 1) throw RangeError("policyChosen must be [B]");
  const int64_t B = policy_chosen.size(0);
  if (policy_rejected.dim() != 2 || policy_rejected.size(0) != B) {
    throw RangeError("policyRejected must be [B, K] with B = " + std::to_string(B));
  }
  requireSameDtypeDevice(policy_rejected, "policyRejected", policy_chosen, "policyChosen");
  torch::Tensor all = torch::cat({policy_chosen.unsqueeze(1), policy_rejected}, 1);  // [B, 1 + K]
  if (mask.defined()) {
    if (mask.scalar_type() != torch::kBool) throw TypeError("mask must be bool");
    requireShape(mask, "mask", policy_rejected.sizes());
    torch::Tensor keep = torch::cat({torch::ones({B, 1}, mask.options()), mask.to(all.device())}, 1);
    all = all.masked_fill(keep.logical_not(), -std::numeric_limits<double>::infinity());
  }
  return -torch::logsumexp(all, 1);  // max-shifted by logsumexp; the chosen column keeps every row finite
}

}  // namespace sdpo::ops
