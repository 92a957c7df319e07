// Preference and token losses: the C++ surface used by the bindings and the training step.
//
// Every op has three implementations behind one entry point:
//   *_plain      composed ATen ops, slow and obvious, autograd does the backward;
//   fused CPU    one pass forward, hand-written backward (torch::autograd::Function);
//   fused CUDA   one forward and one backward kernel launch (native/ops/cuda/), when tensors are on CUDA.
// The public entry points pick the fused path for the tensors' device. float32 and float64.
#pragma once
#include <torch/torch.h>

namespace sdpo::ops {

// Softmax-DPO, per row b:
//   r_w = beta * (policy_chosen[b] - reference_chosen[b])
//   r_j = beta * (policy_rejected[b, j] - reference_rejected[b, j])   for negatives j with mask[b, j]
//   loss[b] = softplus(logsumexp_j (r_j - r_w))            (max-shifted: finite for gaps of 1e4)
// policy_chosen, reference_chosen: [B]; policy_rejected, reference_rejected, mask: [B, K] (mask bool,
// true = real negative; an undefined mask means all K are real; every row needs >= 1 real negative).
// Returns per-row losses [B]; differentiable w.r.t. policy_chosen and policy_rejected.
// Computed as napo_loss with no margin (gamma = 0): one implementation of both.
torch::Tensor sdpo_loss(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                        const torch::Tensor& reference_chosen, const torch::Tensor& reference_rejected,
                        double beta, const torch::Tensor& mask = {});
torch::Tensor sdpo_loss_plain(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                              const torch::Tensor& reference_chosen, const torch::Tensor& reference_rejected,
                              double beta, const torch::Tensor& mask = {});

// DPO (sigmoid): loss[b] = -log sigmoid(r_w - r_l); all inputs [B]. Returns [B].
torch::Tensor dpo_loss(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                       const torch::Tensor& reference_chosen, const torch::Tensor& reference_rejected,
                       double beta);
torch::Tensor dpo_loss_plain(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                             const torch::Tensor& reference_chosen, const torch::Tensor& reference_rejected,
                             double beta);

// log softmax(hidden @ weight^T)[i, labels[i]] for each of the N rows, computed in row chunks with a
// log-sum-exp over the vocabulary, so no [N, V] logits tensor is kept for backward (the backward
// recomputes each chunk's logits). hidden [N, D], weight [V, D] (same dtype and device), labels [N]
// int64. Rows whose label == ignore_index get 0 and no gradient. Labels outside [0, V) other than
// ignore_index are an error. Returns [N]; differentiable w.r.t. hidden and weight.
torch::Tensor token_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight,
                             const torch::Tensor& labels, int64_t ignore_index = -100,
                             int64_t chunk_rows = 0 /* 0: chosen from V */);
// The rows per logits chunk token_logprobs uses for these inputs: `chunk_rows` if > 0, else chosen for the
// device (ops/checks.h chooseChunkRows; on CUDA from the device memory free now).
int64_t token_logprobs_chunk_rows(const torch::Tensor& hidden, const torch::Tensor& weight, int64_t chunk_rows);
torch::Tensor token_logprobs_plain(const torch::Tensor& hidden, const torch::Tensor& weight,
                                   const torch::Tensor& labels, int64_t ignore_index = -100);

// NAPO (arXiv 2508.09653): S-DPO with a reward margin per negative. The paper's full formulas are not
// public; this is our reading of its "dynamic reward margin": per row b and real negative j,
//   m_j = gamma                                          (fixed)
//   m_j = gamma * sigmoid((s_j - s_w) / tau)             (dynamic; s = confidence scores, no gradient)
//   loss[b] = softplus(logsumexp_j (r_j - r_w + m_j))    (r as in sdpo_loss, max-shifted)
// so a negative the model is already confident about (a hard one) must be beaten by a larger margin.
// With gamma = 0 this is sdpo_loss exactly, and runs as fast: the fused paths then skip all margin work.
struct NapoMargin {
  double gamma = 0;  // finite, >= 0
  double tau = 1;    // finite, > 0 (dynamic only)
  // Dynamic mode when both are defined: chosen_confidence [B], rejected_confidence [B, K], the dtype and
  // device of policy_rejected. Both undefined: fixed mode; one alone is a TypeError. They are treated as
  // constants (detached: no gradient), e.g. reference or policy log-probs of the responses.
  torch::Tensor chosen_confidence, rejected_confidence;
  bool dynamic() const { return chosen_confidence.defined() || rejected_confidence.defined(); }
};
// Returns per-row losses [B]; differentiable w.r.t. policy_chosen and policy_rejected.
torch::Tensor napo_loss(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                        const torch::Tensor& reference_chosen, const torch::Tensor& reference_rejected,
                        double beta, const NapoMargin& margin, const torch::Tensor& mask = {});
torch::Tensor napo_loss_plain(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                              const torch::Tensor& reference_chosen, const torch::Tensor& reference_rejected,
                              double beta, const NapoMargin& margin, const torch::Tensor& mask = {});
// The margins m [B, K] napo_loss adds for policy_rejected [B, K] (its dtype and device; composed ATen ops,
// no gradient); masked entries are 0.
torch::Tensor napo_margins(const torch::Tensor& policy_rejected, const NapoMargin& margin,
                           const torch::Tensor& mask = {});

// The candidate-list term of SFT, per row b: -log(pi(y_w) + sum_j pi(y_j)) over the chosen response and the
// real negatives j (mask[b, j]), i.e. minus the log-probability that the policy answers with one of the row's
// listed candidates at all, whichever. Plain cross-entropy on the chosen response is this term plus the
// candidates-only softmax cross-entropy, so an added weight on it asks for a listed answer more than for the
// right one. policy_chosen [B], policy_rejected [B, K] sequence log-probs, mask [B, K] bool (undefined: all
// real). Composed ATen ops (one max-shifted logsumexp over B x (K + 1) numbers, negligible beside scoring):
// there is no fused path to hold to it. Returns [B]; differentiable w.r.t. both inputs.
torch::Tensor candidate_list_nll(const torch::Tensor& policy_chosen, const torch::Tensor& policy_rejected,
                                 const torch::Tensor& mask = {});

}  // namespace sdpo::ops
