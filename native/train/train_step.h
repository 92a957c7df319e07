// One training or evaluation step of a preference loss over a packed batch of responses.
//
// The step does not know the decoder: it gets two scoring functions (policy with grad, reference
// without) so it can be built and tested on its own; reference_policy.h builds them from a CausalLM.
//
//   policy log-probs  = policy(responses)           [R], differentiable
//   reference log-probs = reference(responses)     [R], no grad (or precomputed, passed in)
//   sft : mean over chosen tokens of -log p(token)   (token log-probs from the policy)
//         + list_weight * mean over examples of candidate_list_nll(chosen, rejected, mask)  (when list_weight > 0)
//         + list_smoothing * mean over examples of -(mean over the chosen and its negatives of the log-prob of
//           their first token in place of the chosen one's)  (when list_smoothing > 0)
//         + history_unlikelihood * mean over examples of -sum over its history tokens h of log(1 - p(h)), read at
//           the answer's first position  (when history_unlikelihood > 0)
//   dpo : dpo_loss(chosen, rejected[:, 0])           (K = 1)
//   sdpo: sdpo_loss(chosen, rejected, mask)           (mask: rejected_index >= 0)
//   napo: napo_loss(chosen, rejected, margin, mask)   (S-DPO with a reward margin per negative)
//   dpo / sdpo / napo: + chosen_nll_weight * (-sum of chosen log-probs / chosen tokens)  (when > 0; RPO)
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "train/adamw.h"

namespace sdpo::train {

enum class LossKind { SFT, DPO, SDPO, NAPO };
LossKind parseLossKind(const std::string& name);  // "sft" | "dpo" | "sdpo" | "napo", else RangeError
const char* lossKindName(LossKind kind);

struct StepBatch {
  model::PackedResponses responses;
  torch::Tensor chosen_index;     // [B] int64: index of each example's chosen response in [0, R)
  torch::Tensor rejected_index;   // [B, K] int64: indices of its negatives, -1 = no negative there
  torch::Tensor reference_logps;  // [R] float64, precomputed reference log-probs (undefined: compute)
  // [B, H] int64 on the CPU: first tokens of the items of each example's history, which its answer should not
  // start with (-1 = none; sft's history_unlikelihood). Undefined: none.
  torch::Tensor history_first_tokens;
};

struct StepStats {
  double loss = 0;             // mean loss of this batch (sft: per token, others: per example)
  double chosen_reward = 0;    // mean beta * (policy - reference) of the chosen responses (NaN for sft)
  double rejected_reward = 0;  // mean over real negatives (NaN for sft)
  double reward_accuracy = 0;  // fraction of examples whose chosen reward beats every negative (NaN for sft)
  double reward_margin = 0;    // chosen_reward - rejected_reward (NaN for sft)
  double grad_norm = 0;        // before clipping; NaN when no optimizer step was taken. A non-finite
                               // norm skips the update (gradients are dropped), as mixed-precision trainers do.
  int64_t examples = 0;        // B
  int64_t responses = 0;       // R
  int64_t tokens = 0;          // response tokens scored
  int64_t loss_tokens = 0;     // tokens the loss averages over (sft: chosen tokens)
  double grad_sync_seconds = 0;  // time in the gradient sync (data parallelism: the all-reduce and the wait for peers)
  bool optimizer_step = false;
};

// policy(responses, token_logps_out, first_tokens): [R] log-probs with grad; fills *token_logps_out and
// first_tokens->logps when given (CausalLMImpl::score).
// reference(responses): [R] log-probs of the reference policy (called under NoGradGuard).
struct Scorers {
  std::function<torch::Tensor(const model::PackedResponses&, torch::Tensor*, model::FirstTokenLogps*)> policy;
  std::function<torch::Tensor(const model::PackedResponses&)> reference;
};

// NAPO's reward margin (ops::NapoMargin): none (= S-DPO), a fixed gamma, or gamma * sigmoid of the
// confidence gap, with confidences the reference's log-probs or the policy's (detached) log-probs.
enum class MarginMode { None, Fixed, Dynamic };
struct MarginOptions {
  MarginMode mode = MarginMode::Dynamic;
  double gamma = 0.5;        // finite, >= 0
  double tau = 1.0;          // finite, > 0
  bool policy_confidence = false;  // false: reference log-probs
};
MarginMode parseMarginMode(const std::string& name);  // "none" | "fixed" | "dynamic", else RangeError

struct TrainStepOptions {
  LossKind loss = LossKind::SDPO;
  MarginOptions margin;  // napo only
  double beta = 1.0;
  // sft only: weight of the candidate-list term (ops::candidate_list_nll over the chosen response and the
  // batch's negatives, which are then the row's other candidates); 0: plain token cross-entropy.
  double list_weight = 0.0;
  // sft only: label smoothing toward the candidate list. The first token of every listed candidate (the chosen
  // response and the batch's negatives) is a target too, with this weight shared among them, so each row keeps
  // asking for probability on the list while cross-entropy ranks the chosen one first. Unlike list_weight, its
  // push on a listed token stops at a share of the mass (about list_smoothing / (1 + K) of it). The negatives are
  // read at the chosen response's first position, not scored as responses. 0: off.
  double list_smoothing = 0.0;
  // sft only: unlikelihood of the history's items as the answer (Welleck et al. 2019): adds
  // -sum_h log(1 - p(h)) over the first tokens h of the example's history items (the batch's
  // history_first_tokens, less the chosen response's own first token), read at the answer's first position.
  // A recommender that copies titles out of its prompt can copy one out of the history instead of the list;
  // this pushes those answers down without touching the rest of the distribution. Training batches must carry
  // the history tokens; evaluate() on a batch without them leaves the term out. 0: off.
  double history_unlikelihood = 0.0;
  // dpo / sdpo / napo: weight of the chosen responses' token NLL added to the preference loss (RPO; TRL's
  // rpo_alpha). Pushing negatives down moves probability to every other answer, the chosen one's included
  // only in part; the NLL keeps the chosen answer's likelihood up. 0: the preference loss alone.
  double chosen_nll_weight = 0.0;
  // Residual dropout of the policy's decoder layers during training steps (decoder.h), in [0, 1). The binding
  // sets it on the model for each step; evaluation and the reference policy never drop out. 0: off.
  double residual_dropout = 0.0;
  double max_grad_norm = 1.0;  // 0: no clipping
  AdamWOptions adam;
};

class TrainStep {
 public:
  TrainStep(Scorers scorers, std::vector<NamedTensor> trainable, TrainStepOptions options);

  // Forward + backward of one micro-batch with its loss scaled by `weight` (its share of the
  // accumulated batch), gradients added to those already there; with `optimizer_step`, then
  // clips, updates and zeroes the gradients. A step that throws (bad batch, non-finite loss, failed
  // sync) zeroes the gradients accumulated so far: their optimizer step is lost either way.
  StepStats step(const StepBatch& batch, double learning_rate, bool optimizer_step, double weight);
  // The optimizer step of a data-parallel rank whose share of this step holds no examples: no forward,
  // the gradient sync with whatever gradients are there (none: zeros), then clipping and AdamW as in step().
  StepStats apply_update(double learning_rate);
  // Drops the accumulated gradients (the start of an optimizer step: nothing left by an earlier failure counts).
  void zero_grad() { optimizer_.zero_grad(); }
  // Called between the last backward and clipping (data parallelism: sums the gradients over the ranks,
  // so every rank clips and updates with the same gradient). Empty: single process.
  using GradientSync = std::function<void(const std::vector<NamedTensor>& params)>;
  void set_gradient_sync(GradientSync sync) { gradient_sync_ = std::move(sync); }
  bool has_gradient_sync() const { return static_cast<bool>(gradient_sync_); }
  // Same statistics without gradients or updates.
  StepStats evaluate(const StepBatch& batch);

  AdamW& optimizer() { return optimizer_; }
  const TrainStepOptions& options() const { return options_; }

 private:
  struct Forward {
    torch::Tensor loss;  // scalar
    StepStats stats;
  };
  Forward forward(const StepBatch& batch, bool with_grad);
  // Sync, clipping, AdamW and zeroing of the accumulated gradients; fills stats.grad_norm / optimizer_step.
  void update(double learning_rate, StepStats& stats);

  Scorers scorers_;
  TrainStepOptions options_;
  AdamW optimizer_;
  GradientSync gradient_sync_;
};

// Checks a batch against its own sizes (indices in range, shapes, at least one real negative per
// example for sdpo, exactly one for dpo); throws RangeError naming the problem.
void validateStepBatch(const StepBatch& batch, LossKind loss);

}  // namespace sdpo::train
