// The plain versions of the ops: composed ATen ops, slow and obvious, autograd does the backward. The fused
// paths are held to these by the tests.
#include <limits>

#include "argument_errors.h"
#include "ops/checks.h"
#include "ops/device_checks.h"
#include "ops/losses.h"

namespace sdpo::ops {
namespace {

// softplus(x) = max(x, 0) + log1p(exp(-|x|)): exact for every x (ATen's softplus switches to the
// identity above a threshold, which is off by ~1e-9 there).
torch::Tensor exactSoftplus(const torch::Tensor& x) { return torch::relu(x) + torch::log1p(torch::exp(-x.abs())); }

}  // namespace

torch::Tensor dpo_loss_plain(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                             const torch::Tensor& reference_chosen, const torch::Tensor& reference_rejected,
                             double beta) {
  auto in = checkPreferenceInputs(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta, {}, 1);
  torch::Tensor margin = beta * (in.policy_chosen - in.reference_chosen) - beta * (in.policy_rejected - in.reference_rejected);
  return -torch::log_sigmoid(margin);
}

torch::Tensor token_logprobs_plain(const torch::Tensor& hidden, const torch::Tensor& weight,
                                   const torch::Tensor& labels, int64_t ignore_index) {
  const auto in = [&] {
    const DeviceChecksNow checks_now;  // the gather below indexes with the labels
    return checkTokenInputs(hidden, weight, labels, ignore_index);
  }();
  torch::Tensor logits = torch::matmul(in.hidden, in.weight.t());  // [N, V], all of it
  torch::Tensor log_probs = torch::log_softmax(logits, 1);
  torch::Tensor ignored = in.labels.eq(ignore_index);
  torch::Tensor safe_labels = in.labels.masked_fill(ignored, 0);
  torch::Tensor picked = log_probs.gather(1, safe_labels.unsqueeze(1)).squeeze(1);
  return picked.masked_fill(ignored, 0);
}

// NAPO margins as composed ATen ops: gamma, or gamma * sigmoid((s_j - s_w) / tau); 0 where masked.
torch::Tensor napo_margins(const torch::Tensor& policy_rejected, const NapoMargin& margin, const torch::Tensor& mask) {
  requireFloating(policy_rejected, "policy_rejected");
  if (policy_rejected.dim() != 2) throw RangeError("policy_rejected must be 2-D [B, K]");
  const NapoMargin checked = checkNapoMargin(margin, policy_rejected);
  torch::NoGradGuard no_grad;
  torch::Tensor margins =
      checked.dynamic()
          ? checked.gamma * torch::sigmoid((checked.rejected_confidence - checked.chosen_confidence.unsqueeze(1)) /
                                           checked.tau)
          : torch::full(policy_rejected.sizes(), checked.gamma, policy_rejected.options());
  if (mask.defined()) {
    if (mask.scalar_type() != torch::kBool) throw TypeError("mask must be bool");
    requireShape(mask, "mask", policy_rejected.sizes());
    margins = margins.masked_fill(mask.to(margins.device()).logical_not(), 0);
  }
  return margins;
}

torch::Tensor napo_loss_plain(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                              const torch::Tensor& reference_chosen, const torch::Tensor& reference_rejected,
                              double beta, const NapoMargin& margin, const torch::Tensor& mask) {
  auto in = checkPreferenceInputs(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta, mask, 2);
  torch::Tensor chosen_reward = beta * (in.policy_chosen - in.reference_chosen);        // [B]
  torch::Tensor rejected_reward = beta * (in.policy_rejected - in.reference_rejected);  // [B, K]
  torch::Tensor gaps = rejected_reward - chosen_reward.unsqueeze(1);
  const NapoMargin checked = checkNapoMargin(margin, in.policy_rejected);
  if (checked.gamma != 0) gaps = gaps + napo_margins(in.policy_rejected, checked);  // gamma = 0: S-DPO
  if (in.mask.defined()) gaps = gaps.masked_fill(in.mask.logical_not(), -std::numeric_limits<double>::infinity());
  return exactSoftplus(torch::logsumexp(gaps, 1));
}

torch::Tensor sdpo_loss_plain(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                              const torch::Tensor& reference_chosen, const torch::Tensor& reference_rejected,
                              double beta, const torch::Tensor& mask) {
  return napo_loss_plain(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta, NapoMargin{},
                         mask);
}

}  // namespace sdpo::ops
