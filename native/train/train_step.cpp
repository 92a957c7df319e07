#include "train/train_step.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <vector>

#include "argument_errors.h"
#include "ops/device_checks.h"
#include "ops/losses.h"

namespace sdpo::train {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Losses run in at least float32 even for half-precision models.
torch::Tensor lossPrecision(const torch::Tensor& t) {
  auto s = t.scalar_type();
  return (s == torch::kHalf || s == torch::kBFloat16) ? t.to(torch::kFloat) : t;
}

std::string shapeOf(const torch::Tensor& t) { return c10::str(t.sizes()); }

// Where each example's chosen response and negatives sit among the batch's R responses, on `device`: picks
// [B] and [B, K] out of per-response values [R]. A masked slot (index -1) reads response 0, as a placeholder.
struct ExampleIndex {
  int64_t B, K;
  torch::Tensor chosen;    // [B]
  torch::Tensor rejected;  // [B * K], clamped to >= 0
  torch::Tensor mask_cpu;  // [B, K] bool, true = real negative
  torch::Tensor mask;      // the same on `device`
  ExampleIndex(const StepBatch& batch, const torch::Device& device)
      : B(batch.chosen_index.size(0)),
        K(batch.rejected_index.size(1)),
        chosen(batch.chosen_index.to(device)),
        rejected(batch.rejected_index.clamp_min(0).reshape(-1).to(device)),
        mask_cpu(batch.rejected_index >= 0),
        mask(mask_cpu.to(device)) {}
  torch::Tensor chosenOf(const torch::Tensor& per_response) const { return per_response.index_select(0, chosen); }
  torch::Tensor rejectedOf(const torch::Tensor& per_response) const {
    return per_response.index_select(0, rejected).reshape({B, K});
  }
};

// The batch with only its chosen responses (example b's is response b), no negatives.
StepBatch chosenResponsesOnly(const StepBatch& batch) {
  const auto& r = batch.responses;
  const int64_t B = batch.chosen_index.size(0);
  const int64_t* c = batch.chosen_index.data_ptr<int64_t>();
  const int64_t* off = r.response_offsets.data_ptr<int64_t>();
  const int64_t* ids = r.response_ids.data_ptr<int64_t>();
  const int64_t* owner = r.response_prompt.data_ptr<int64_t>();
  std::vector<int64_t> kept_ids, kept_offsets{0}, kept_owner;
  for (int64_t b = 0; b < B; ++b) {
    kept_ids.insert(kept_ids.end(), ids + off[c[b]], ids + off[c[b] + 1]);
    kept_offsets.push_back(static_cast<int64_t>(kept_ids.size()));
    kept_owner.push_back(owner[c[b]]);
  }
  StepBatch out;
  out.responses = {r.prompt_ids, r.prompt_offsets, torch::tensor(kept_ids, torch::kLong),
                   torch::tensor(kept_offsets, torch::kLong), torch::tensor(kept_owner, torch::kLong)};
  out.chosen_index = torch::arange(B, torch::kLong);
  out.rejected_index = torch::empty({B, 0}, torch::kLong);
  return out;
}

// [R', 1 + K] first-token labels for scoring `scored_chosen` (each example's chosen response among R' scored
// ones): the row of example b's chosen response holds the first token of its chosen response, then of each of
// its negatives in `batch` (-1 where a negative is masked); the other rows are all -1.
torch::Tensor candidateFirstTokens(const StepBatch& batch, const torch::Tensor& scored_chosen, int64_t scored_responses) {
  const int64_t B = batch.chosen_index.size(0), K = batch.rejected_index.size(1);
  const int64_t* c = batch.chosen_index.data_ptr<int64_t>();
  const int64_t* rej = batch.rejected_index.data_ptr<int64_t>();
  const int64_t* sc = scored_chosen.data_ptr<int64_t>();
  const int64_t* off = batch.responses.response_offsets.data_ptr<int64_t>();
  const int64_t* ids = batch.responses.response_ids.data_ptr<int64_t>();
  torch::Tensor labels = torch::full({scored_responses, 1 + K}, -1, torch::kLong);
  int64_t* l = labels.data_ptr<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    int64_t* row = l + sc[b] * (1 + K);
    row[0] = ids[off[c[b]]];
    for (int64_t k = 0; k < K; ++k) {
      const int64_t j = rej[b * K + k];
      if (j >= 0) row[1 + k] = ids[off[j]];
    }
  }
  return labels;
}

// [R', H] history labels for scoring `scored_chosen`: the row of example b's chosen response holds the first tokens
// of its history items, less its chosen response's first token (the answer is never pushed down); other rows -1.
torch::Tensor historyFirstTokens(const StepBatch& batch, const torch::Tensor& scored_chosen, int64_t scored_responses) {
  const int64_t B = batch.chosen_index.size(0), H = batch.history_first_tokens.size(1);
  const int64_t* c = batch.chosen_index.data_ptr<int64_t>();
  const int64_t* sc = scored_chosen.data_ptr<int64_t>();
  const int64_t* off = batch.responses.response_offsets.data_ptr<int64_t>();
  const int64_t* ids = batch.responses.response_ids.data_ptr<int64_t>();
  const torch::Tensor history = batch.history_first_tokens.contiguous();
  const int64_t* h = history.data_ptr<int64_t>();
  torch::Tensor labels = torch::full({scored_responses, H}, -1, torch::kLong);
  int64_t* l = labels.data_ptr<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    const int64_t answer = off[c[b] + 1] > off[c[b]] ? ids[off[c[b]]] : -1;
    for (int64_t j = 0; j < H; ++j) {
      const int64_t token = h[b * H + j];
      l[sc[b] * H + j] = token == answer ? -1 : token;
    }
  }
  return labels;
}

// -sum over labels of log(1 - p): logps [B, H] (0 where mask is false), mask [B, H]. p is capped just below 1 so
// the term stays finite (its gradient is 0 there, as for a clipped probability).
torch::Tensor unlikelihood(const torch::Tensor& logps, const torch::Tensor& mask) {
  torch::Tensor capped = logps.masked_fill(mask.logical_not(), -30.0).clamp_max(std::log1p(-1e-6));
  return -(torch::log(-torch::expm1(capped)) * mask.to(logps.scalar_type())).sum(1);  // [B]
}

}  // namespace

LossKind parseLossKind(const std::string& name) {
  if (name == "sft") return LossKind::SFT;
  if (name == "dpo") return LossKind::DPO;
  if (name == "sdpo") return LossKind::SDPO;
  if (name == "napo") return LossKind::NAPO;
  throw RangeError("loss must be one of sft, dpo, sdpo, napo (got '" + name + "')");
}

MarginMode parseMarginMode(const std::string& name) {
  if (name == "none") return MarginMode::None;
  if (name == "fixed") return MarginMode::Fixed;
  if (name == "dynamic") return MarginMode::Dynamic;
  throw RangeError("rewardMargin.mode must be one of none, fixed, dynamic (got '" + name + "')");
}

const char* lossKindName(LossKind kind) {
  switch (kind) {
    case LossKind::SFT: return "sft";
    case LossKind::DPO: return "dpo";
    case LossKind::SDPO: return "sdpo";
    case LossKind::NAPO: return "napo";
  }
  return "?";
}

void validateStepBatch(const StepBatch& batch, LossKind loss) {
  const auto& r = batch.responses;
  if (!r.response_offsets.defined() || r.response_offsets.dim() != 1 || r.response_offsets.size(0) < 2) {
    throw RangeError("batch: responseOffsets must list at least one response");
  }
  const int64_t R = r.response_offsets.size(0) - 1;
  const torch::Tensor& chosen = batch.chosen_index;
  if (!chosen.defined() || chosen.dim() != 1 || chosen.size(0) < 1) {
    throw RangeError("batch: chosenIndex must hold at least one example");
  }
  if (chosen.scalar_type() != torch::kLong) throw TypeError("batch: chosenIndex must be int64 internally");
  const int64_t B = chosen.size(0);
  const int64_t* c = chosen.data_ptr<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    if (c[b] < 0 || c[b] >= R) {
      throw RangeError("batch: chosenIndex[" + std::to_string(b) + "] = " + std::to_string(c[b]) +
                       " is not a response index in [0, " + std::to_string(R) + ")");
    }
  }
  const torch::Tensor& rej = batch.rejected_index;
  if (!rej.defined() || rej.dim() != 2 || rej.size(0) != B) {
    throw RangeError("batch: rejectedIndex must be [B, K] with B = " + std::to_string(B) + " (got " +
                     (rej.defined() ? shapeOf(rej) : std::string("nothing")) + ")");
  }
  const int64_t K = rej.size(1);
  if (loss == LossKind::DPO && K != 1) {
    throw RangeError("batch: dpo takes exactly 1 negative per example (got " + std::to_string(K) + ")");
  }
  if ((loss == LossKind::SDPO || loss == LossKind::NAPO) && K < 1) {
    throw RangeError(std::string("batch: ") + lossKindName(loss) + " needs at least 1 negative per example");
  }
  const int64_t* j = rej.data_ptr<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    int64_t real = 0;
    for (int64_t k = 0; k < K; ++k) {
      int64_t idx = j[b * K + k];
      if (idx == -1) continue;
      if (idx < 0 || idx >= R) {
        throw RangeError("batch: rejectedIndex[" + std::to_string(b * K + k) + "] = " + std::to_string(idx) +
                         " is neither -1 nor a response index in [0, " + std::to_string(R) + ")");
      }
      ++real;
    }
    if (loss != LossKind::SFT && real == 0) {
      throw RangeError("batch: example " + std::to_string(b) + " has no real negative (all rejectedIndex are -1)");
    }
  }
  if (batch.reference_logps.defined()) {
    if (batch.reference_logps.dim() != 1 || batch.reference_logps.size(0) != R) {
      throw RangeError("batch: referenceLogps must hold one log-prob per response (" + std::to_string(R) +
                       "), got " + shapeOf(batch.reference_logps));
    }
  }
  const torch::Tensor& history = batch.history_first_tokens;
  if (history.defined()) {
    if (history.dim() != 2 || history.size(0) != B || history.scalar_type() != torch::kLong || !history.device().is_cpu()) {
      throw RangeError("batch: history tokens must be an int64 CPU table [B, H] with B = " + std::to_string(B) +
                       " (got " + shapeOf(history) + ")");
    }
    if (history.numel() > 0 && history.min().item<int64_t>() < -1) {
      throw RangeError("batch: history tokens must be token ids or -1 (none)");
    }
  }
}

TrainStep::TrainStep(Scorers scorers, std::vector<NamedTensor> trainable, TrainStepOptions options)
    : scorers_(std::move(scorers)), options_(options), optimizer_(std::move(trainable), options.adam) {
  if (!std::isfinite(options_.beta) || options_.beta <= 0) throw RangeError("beta must be a finite number > 0");
  if (!std::isfinite(options_.list_weight) || options_.list_weight < 0) {
    throw RangeError("listWeight must be a finite number >= 0");
  }
  if (options_.list_weight > 0 && options_.loss != LossKind::SFT) {
    throw RangeError(std::string("listWeight is a term of the sft loss, not of ") + lossKindName(options_.loss));
  }
  if (!std::isfinite(options_.list_smoothing) || options_.list_smoothing < 0) {
    throw RangeError("listSmoothing must be a finite number >= 0");
  }
  if (options_.list_smoothing > 0 && options_.loss != LossKind::SFT) {
    throw RangeError(std::string("listSmoothing is a term of the sft loss, not of ") + lossKindName(options_.loss));
  }
  if (!std::isfinite(options_.history_unlikelihood) || options_.history_unlikelihood < 0) {
    throw RangeError("historyUnlikelihood must be a finite number >= 0");
  }
  if (options_.history_unlikelihood > 0 && options_.loss != LossKind::SFT) {
    throw RangeError(std::string("historyUnlikelihood is a term of the sft loss, not of ") + lossKindName(options_.loss));
  }
  if (!std::isfinite(options_.chosen_nll_weight) || options_.chosen_nll_weight < 0) {
    throw RangeError("chosenNllWeight must be a finite number >= 0");
  }
  if (options_.chosen_nll_weight > 0 && options_.loss == LossKind::SFT) {
    throw RangeError("chosenNllWeight is a term of the preference losses (dpo, sdpo, napo): sft is that NLL already");
  }
  if (!(options_.residual_dropout >= 0 && options_.residual_dropout < 1)) {
    throw RangeError("residualDropout must be a number in [0, 1)");
  }
  if (!std::isfinite(options_.max_grad_norm) || options_.max_grad_norm < 0) {
    throw RangeError("maxGradNorm must be a finite number >= 0 (0 disables clipping)");
  }
  if (optimizer_.params().empty()) throw RangeError("the model has no trainable parameters");
  const MarginOptions& m = options_.margin;
  if (!std::isfinite(m.gamma) || m.gamma < 0) throw RangeError("rewardMargin.gamma must be a finite number >= 0");
  if (!std::isfinite(m.tau) || m.tau <= 0) throw RangeError("rewardMargin.tau must be a finite number > 0");
}

TrainStep::Forward TrainStep::forward(const StepBatch& batch, bool with_grad) {
  validateStepBatch(batch, options_.loss);
  const auto& responses = batch.responses;
  const int64_t B = batch.chosen_index.size(0);
  const int64_t K = batch.rejected_index.size(1);
  const int64_t R = responses.response_offsets.size(0) - 1;

  // CUDA: the ops' device-side input checks are read once per step, with the loss (device_checks.h).
  ops::DeviceCheckScope input_checks;
  Forward out;
  out.stats.examples = B;
  out.stats.responses = R;
  out.stats.tokens = responses.response_ids.numel();
  out.stats.grad_norm = kNaN;

  c10::optional<torch::NoGradGuard> no_grad;
  if (!with_grad) no_grad.emplace();

  if (options_.loss == LossKind::SFT) {
    const bool smoothing = options_.list_smoothing > 0;
    // Evaluation batches without history tokens (an eval file's fixed rows) report the loss without the term.
    const bool history_term = options_.history_unlikelihood > 0 && (with_grad || batch.history_first_tokens.defined());
    if ((options_.list_weight > 0 || smoothing) && K < 1) {
      throw RangeError(std::string("sft: the candidate-list term (") + (smoothing ? "listSmoothing" : "listWeight") +
                       " > 0) needs the other candidates as negatives");
    }
    if (history_term && !batch.history_first_tokens.defined()) {
      throw RangeError("sft: historyUnlikelihood > 0 needs the batch's history tokens (historyTokenIds, historyTokenOffsets)");
    }
    // The first-token terms alone score only the chosen responses: the other labels are read at the chosen
    // ones' first positions.
    const bool first_token_terms = smoothing || history_term;
    const StepBatch scored = first_token_terms && options_.list_weight == 0 ? chosenResponsesOnly(batch) : batch;
    const int64_t scored_count = scored.responses.response_offsets.size(0) - 1;
    // Label columns: [chosen + K negatives] (smoothing), then [H history tokens] (unlikelihood).
    const int64_t listed_columns = smoothing ? 1 + K : 0;
    model::FirstTokenLogps first_tokens;
    if (first_token_terms) {
      std::vector<torch::Tensor> columns;
      if (smoothing) columns.push_back(candidateFirstTokens(batch, scored.chosen_index, scored_count));
      if (history_term) columns.push_back(historyFirstTokens(batch, scored.chosen_index, scored_count));
      first_tokens.labels = columns.size() == 1 ? columns[0] : torch::cat(columns, 1);
    }
    torch::Tensor token_logps;
    torch::Tensor sequence_logps = scorers_.policy(scored.responses, &token_logps, first_token_terms ? &first_tokens : nullptr);
    if (!token_logps.defined() || token_logps.dim() != 1 || token_logps.size(0) != scored.responses.response_ids.numel()) {
      throw std::runtime_error("sft: the model returned no per-token log-probs for the responses");
    }
    // Positions of the chosen responses' tokens in response_ids (token_logps is packed like it).
    const int64_t* off = scored.responses.response_offsets.data_ptr<int64_t>();
    const int64_t* c = scored.chosen_index.data_ptr<int64_t>();
    std::vector<int64_t> positions;
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t p = off[c[b]]; p < off[c[b] + 1]; ++p) positions.push_back(p);
    }
    if (positions.empty()) throw RangeError("sft: the chosen responses of this batch have no tokens");
    auto index = torch::tensor(positions, torch::kLong).to(token_logps.device());
    torch::Tensor chosen_tokens = lossPrecision(token_logps).index_select(0, index);
    out.loss = -chosen_tokens.mean();
    if (first_token_terms) {
      // The chosen responses' rows; -1 labels gave 0.
      const torch::Tensor at = scored.chosen_index.to(token_logps.device());
      torch::Tensor rows = first_tokens.labels.index_select(0, scored.chosen_index);  // [B, columns] CPU
      torch::Tensor logps = lossPrecision(first_tokens.logps).index_select(0, at);
      if (smoothing) {
        // Mean over the real listed labels of each row.
        torch::Tensor listed = rows.narrow(1, 0, listed_columns).ge(0).sum(1).to(token_logps.device());
        torch::Tensor listed_logps = logps.narrow(1, 0, listed_columns);
        out.loss = out.loss + options_.list_smoothing * (-(listed_logps.sum(1) / listed.to(logps.scalar_type()))).mean();
      }
      if (history_term) {
        const int64_t H = rows.size(1) - listed_columns;
        torch::Tensor mask = rows.narrow(1, listed_columns, H).ge(0).to(token_logps.device());
        out.loss = out.loss + options_.history_unlikelihood * unlikelihood(logps.narrow(1, listed_columns, H), mask).mean();
      }
    }
    if (options_.list_weight > 0) {
      torch::Tensor logps = lossPrecision(sequence_logps);
      const ExampleIndex at(batch, logps.device());
      torch::Tensor list_nll = ops::candidate_list_nll(at.chosenOf(logps), at.rejectedOf(logps), at.mask);  // [B]
      out.loss = out.loss + options_.list_weight * list_nll.mean();
    }
    input_checks.flush();
    out.stats.loss = out.loss.item<double>();
    out.stats.loss_tokens = static_cast<int64_t>(positions.size());
    out.stats.chosen_reward = out.stats.rejected_reward = kNaN;
    out.stats.reward_accuracy = out.stats.reward_margin = kNaN;
    return out;
  }

  torch::Tensor policy = lossPrecision(scorers_.policy(responses, nullptr, nullptr));
  torch::Tensor reference;
  if (batch.reference_logps.defined()) {
    reference = batch.reference_logps.to(policy.options());
  } else {
    torch::NoGradGuard ref_no_grad;
    reference = scorers_.reference(responses).to(policy.options());
  }
  reference = reference.detach();
  if (policy.dim() != 1 || policy.size(0) != R || reference.size(0) != R) {
    throw std::runtime_error("the model returned " + shapeOf(policy) + " log-probs for " + std::to_string(R) +
                             " responses");
  }

  const ExampleIndex at(batch, policy.device());
  const torch::Tensor& mask = at.mask;
  torch::Tensor pc = at.chosenOf(policy);      // [B]
  torch::Tensor rc = at.chosenOf(reference);   // [B]
  torch::Tensor pr = at.rejectedOf(policy);    // [B, K]
  torch::Tensor rr = at.rejectedOf(reference); // [B, K]

  torch::Tensor per_example;
  if (options_.loss == LossKind::DPO) {
    per_example = ops::dpo_loss(pc, pr.select(1, 0), rc, rr.select(1, 0), options_.beta);
  } else if (options_.loss == LossKind::NAPO) {
    const MarginOptions& m = options_.margin;
    ops::NapoMargin margin;
    margin.gamma = m.mode == MarginMode::None ? 0.0 : m.gamma;
    margin.tau = m.tau;
    if (m.mode == MarginMode::Dynamic) {
      // Confidence scores are constants to autograd: a hard negative raises the bar, it is not pushed by it.
      margin.chosen_confidence = (m.policy_confidence ? pc : rc).detach();
      margin.rejected_confidence = (m.policy_confidence ? pr : rr).detach().contiguous();
    }
    per_example = ops::napo_loss(pc, pr, rc, rr, options_.beta, margin, mask);
  } else {
    per_example = ops::sdpo_loss(pc, pr, rc, rr, options_.beta, mask);
  }
  out.loss = per_example.mean();
  if (options_.chosen_nll_weight > 0) {
    const int64_t* off = responses.response_offsets.data_ptr<int64_t>();
    const int64_t* c = batch.chosen_index.data_ptr<int64_t>();
    int64_t chosen_tokens = 0;
    for (int64_t b = 0; b < B; ++b) chosen_tokens += off[c[b] + 1] - off[c[b]];
    if (chosen_tokens == 0) throw RangeError(std::string(lossKindName(options_.loss)) + ": the chosen responses of this batch have no tokens");
    out.loss = out.loss - options_.chosen_nll_weight * pc.sum() / static_cast<double>(chosen_tokens);
  }
  out.stats.loss_tokens = out.stats.tokens;

  input_checks.flush();
  torch::NoGradGuard stats_no_grad;
  torch::Tensor chosen_reward = (options_.beta * (pc - rc)).detach().to(torch::kDouble).cpu();
  torch::Tensor rejected_reward = (options_.beta * (pr - rr)).detach().to(torch::kDouble).cpu();
  torch::Tensor real = at.mask_cpu;
  const double real_count = real.sum().item<double>();
  const double chosen_mean = chosen_reward.mean().item<double>();
  const double rejected_mean =
      real_count > 0 ? rejected_reward.masked_select(real).sum().item<double>() / real_count : kNaN;
  torch::Tensor best_rejected =
      rejected_reward.masked_fill(real.logical_not(), -std::numeric_limits<double>::infinity()).amax(1);
  out.stats.loss = out.loss.item<double>();
  out.stats.chosen_reward = chosen_mean;
  out.stats.rejected_reward = rejected_mean;
  out.stats.reward_accuracy = (chosen_reward > best_rejected).to(torch::kDouble).mean().item<double>();
  out.stats.reward_margin = chosen_mean - rejected_mean;
  return out;
}

StepStats TrainStep::step(const StepBatch& batch, double learning_rate, bool optimizer_step, double weight) {
  if (!std::isfinite(weight) || weight <= 0) throw RangeError("step: weight must be a finite number > 0");
  if (optimizer_step && (!std::isfinite(learning_rate) || learning_rate < 0)) {
    throw RangeError("step: learningRate must be a finite number >= 0");
  }
  try {
    Forward f = forward(batch, true);
    if (!std::isfinite(f.stats.loss)) {
      throw RangeError(std::string("step: the ") + lossKindName(options_.loss) + " loss is not finite (" +
                       std::to_string(f.stats.loss) + "); no update was made and the step's gradients were dropped");
    }
    (f.loss * weight).backward();
    if (optimizer_step) update(learning_rate, f.stats);
    return f.stats;
  } catch (...) {
    // The optimizer step this micro-batch belonged to cannot complete: the gradients its earlier micro-batches
    // left would otherwise be added into the next step, on this trainer or after a retry.
    optimizer_.zero_grad();
    throw;
  }
}

StepStats TrainStep::apply_update(double learning_rate) {
  if (!gradient_sync_) {
    throw std::logic_error("apply_update: a step without examples only makes sense on a data-parallel rank");
  }
  if (!std::isfinite(learning_rate) || learning_rate < 0) {
    throw RangeError("step: learningRate must be a finite number >= 0");
  }
  StepStats stats;
  stats.loss = stats.chosen_reward = stats.rejected_reward = kNaN;
  stats.reward_accuracy = stats.reward_margin = kNaN;
  try {
    update(learning_rate, stats);
  } catch (...) {
    optimizer_.zero_grad();  // as in step(): a failed step leaves no gradients behind
    throw;
  }
  return stats;
}

void TrainStep::update(double learning_rate, StepStats& stats) {
  if (gradient_sync_) {
    const auto started = std::chrono::steady_clock::now();
    gradient_sync_(optimizer_.params());
    stats.grad_sync_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
  const GradClip clip = gradient_clipping(optimizer_.params(), options_.max_grad_norm);
  stats.grad_norm = clip.norm;
  if (std::isfinite(clip.norm)) optimizer_.step(learning_rate, clip.scale);
  optimizer_.zero_grad();
  stats.optimizer_step = true;
}

StepStats TrainStep::evaluate(const StepBatch& batch) {
  Forward f = forward(batch, false);
  return f.stats;
}

}  // namespace sdpo::train
