// Shared-prefix scoring: every response is scored against its prompt, each prompt encoded once.
//
// Layout. Prompts are right-padded to [P, Lp]. The responses of prompt p are laid side by side in
// G slots of Lr tokens (G = most responses of any prompt, Lr = longest response), one row of
// G * Lr tokens per prompt:
//
//     prompt row p:   [ p_0 .. p_{lp-1} pad .. ]                     (encoded once, keys/values kept)
//     response row p: [ r_a (Lr) | r_b (Lr) | ... G slots ... ]     (one more pass over the layers)
//
// A response token in slot g attends to the real prompt keys of its row (k < lp) and causally to the
// tokens of its own slot, so one [G*Lr x (Lp + G*Lr)] mask per prompt replaces R separate
// prompt+response sequences and no prompt key/value is copied per response. RoPE positions of a
// response continue from its prompt's real length: token j sits at lp + j.
//
// Log-probs: token 0 of a response is predicted by the prompt's last real hidden state; token j > 0 by
// the response's hidden state at j - 1. Only those N rows get the final norm and the LM head, via
// sdpo::ops::token_logprobs (chunked log-sum-exp over the vocabulary).
#include <algorithm>
#include <vector>

#include "model/causal_lm.h"
#include "argument_errors.h"
#include "ops/losses.h"

namespace sdpo::model {

namespace {

// 16-bit models score in float32: the sums over a response need more than 8 mantissa bits.
torch::Tensor scoring_precision(const torch::Tensor& t) {
  const auto dt = t.scalar_type();
  return dt == torch::kHalf || dt == torch::kBFloat16 ? t.to(torch::kFloat) : t;
}

// Per-token log-probs of the LM head for `hidden` rows [N, hidden] (after the final norm).
torch::Tensor head_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& labels) {
  return sdpo::ops::token_logprobs(scoring_precision(hidden), scoring_precision(weight), labels);
}

// Log-probs of labels [N, M] (-1: none, read as 0) under the LM head's full softmax of each row of
// `hidden` [N, D]: M tokens per row. The [N, vocab] logits are materialised: N is a batch's first tokens.
torch::Tensor head_logprobs_of(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& labels) {
  torch::Tensor log_probs = torch::log_softmax(scoring_precision(hidden).matmul(scoring_precision(weight).t()), -1);  // [N, vocab]
  torch::Tensor none = labels.lt(0);
  return log_probs.gather(1, labels.masked_fill(none, 0)).masked_fill(none, 0.0);
}

void validate_first_token_labels(const torch::Tensor& labels, int64_t R, int64_t vocab_size) {
  if (!labels.defined() || labels.dim() != 2 || labels.size(0) != R) {
    throw RangeError("first-token labels must be [R, M] with R = " + std::to_string(R) + " responses");
  }
  if (labels.scalar_type() != torch::kLong || !labels.device().is_cpu()) {
    throw TypeError("first-token labels must be int64 on the CPU");
  }
  auto l = labels.contiguous();
  const int64_t* v = l.data_ptr<int64_t>();
  for (int64_t i = 0; i < l.numel(); ++i) {
    if (v[i] < -1 || v[i] >= vocab_size) {
      throw RangeError("first-token label " + std::to_string(v[i]) + " (entry " + std::to_string(i) +
                       ") is neither -1 nor a token id in [0, " + std::to_string(vocab_size) + ")");
    }
  }
}

struct Span {
  int64_t begin, length;
};

std::vector<Span> spans(const torch::Tensor& offsets) {
  auto o = offsets.accessor<int64_t, 1>();
  std::vector<Span> out;
  for (int64_t i = 0; i + 1 < o.size(0); ++i) out.push_back({o[i], o[i + 1] - o[i]});
  return out;
}

}  // namespace

torch::Tensor CausalLMImpl::score(const PackedResponses& batch, torch::Tensor* token_logps, FirstTokenLogps* first_tokens) {
  validate_packed_responses(batch, config_.vocab_size);
  const auto prompts = spans(batch.prompt_offsets);
  const auto responses = spans(batch.response_offsets);
  const int64_t P = prompts.size(), R = responses.size();
  if (first_tokens) validate_first_token_labels(first_tokens->labels, R, config_.vocab_size);
  const torch::Tensor prompt_ids = batch.prompt_ids.contiguous(), response_ids = batch.response_ids.contiguous();
  const int64_t* prompt_tok = prompt_ids.data_ptr<int64_t>();
  const int64_t* resp_tok = response_ids.data_ptr<int64_t>();
  auto owner = batch.response_prompt.accessor<int64_t, 1>();
  for (int64_t r = 0; r < R; ++r) {
    check_sequence_length(prompts[owner[r]].length + responses[r].length,
                          "prompt " + std::to_string(owner[r]) + " + response " + std::to_string(r));
  }
  const auto dev = device();
  auto cpu_long = torch::TensorOptions().dtype(torch::kLong);
  if (R == 0) {
    if (token_logps) *token_logps = torch::zeros({0}, torch::TensorOptions().device(dev).dtype(dtype()));
    if (first_tokens) first_tokens->logps = torch::zeros({0, first_tokens->labels.size(1)}, torch::TensorOptions().device(dev).dtype(dtype()));
    return torch::zeros({0}, torch::TensorOptions().device(dev).dtype(dtype()));
  }

  // Slot of each response and the grid sizes.
  int64_t Lp = 0, Lr = 0, G = 0, N = 0;
  for (const auto& p : prompts) Lp = std::max(Lp, p.length);
  std::vector<int64_t> slot(R), used(P, 0);
  for (int64_t r = 0; r < R; ++r) {
    slot[r] = used[owner[r]]++;
    G = std::max(G, used[owner[r]]);
    Lr = std::max(Lr, responses[r].length);
    N += responses[r].length;
  }
  const int64_t W = G * Lr;  // width of a response row

  // Token grids (pad id 0: padded positions are masked out or never read).
  torch::Tensor prompt_grid = torch::zeros({P, Lp}, cpu_long);
  torch::Tensor key_valid = torch::zeros({P, Lp}, torch::kBool);
  auto pg = prompt_grid.accessor<int64_t, 2>();
  auto kv = key_valid.accessor<bool, 2>();
  for (int64_t p = 0; p < P; ++p) {
    for (int64_t j = 0; j < prompts[p].length; ++j) {
      pg[p][j] = prompt_tok[prompts[p].begin + j];
      kv[p][j] = true;
    }
  }
  torch::Tensor resp_grid = torch::zeros({P, W}, cpu_long);
  torch::Tensor resp_pos = torch::zeros({P, W}, cpu_long);
  auto rg = resp_grid.accessor<int64_t, 2>();
  auto rpos = resp_pos.accessor<int64_t, 2>();
  for (int64_t p = 0; p < P; ++p)
    for (int64_t c = 0; c < W; ++c) rpos[p][c] = prompts[p].length + c % Lr;

  // For each packed response token (in response_ids order): the row of hidden states predicting it.
  // Token 0 reads the prompt grid (row p * Lp + lp - 1); token j > 0 reads the response grid.
  std::vector<int64_t> first_rows, first_labels, first_pos, rest_rows, rest_labels, rest_pos;
  torch::Tensor owner_of_token = torch::empty({N}, cpu_long);
  auto own = owner_of_token.accessor<int64_t, 1>();
  int64_t packed = 0;
  for (int64_t r = 0; r < R; ++r) {
    const int64_t p = owner[r], base = slot[r] * Lr;
    for (int64_t j = 0; j < responses[r].length; ++j, ++packed) {
      const int64_t tok = resp_tok[responses[r].begin + j];
      rg[p][base + j] = tok;
      own[packed] = r;
      if (j == 0) {
        first_rows.push_back(p * Lp + prompts[p].length - 1);
        first_labels.push_back(tok);
        first_pos.push_back(packed);
      } else {
        rest_rows.push_back(p * W + base + j - 1);
        rest_labels.push_back(tok);
        rest_pos.push_back(packed);
      }
    }
  }

  // Masks. Prompt pass: causal. Response pass: real prompt keys, then the query's own slot, causally.
  auto bool_opts = torch::TensorOptions().dtype(torch::kBool).device(dev);
  torch::Tensor causal_prompt = torch::ones({Lp, Lp}, bool_opts).tril().view({1, 1, Lp, Lp});
  torch::Tensor col = torch::arange(W, cpu_long);
  torch::Tensor same_slot = (col.div(Lr, "floor").unsqueeze(1) == col.div(Lr, "floor").unsqueeze(0));
  torch::Tensor self_mask = same_slot.logical_and(col.unsqueeze(0) <= col.unsqueeze(1)).to(dev);  // [W, W]
  torch::Tensor resp_mask = torch::cat({key_valid.to(dev).view({P, 1, 1, Lp}).expand({P, 1, W, Lp}),
                                        self_mask.view({1, 1, W, W}).expand({P, 1, W, W})},
                                       -1);  // [P, 1, W, Lp + W]

  // Prompt pass, keeping every layer's keys/values.
  std::vector<LayerKV> prompt_kv(config_.num_hidden_layers);
  AttentionContext prompt_ctx;
  prompt_ctx.mask = causal_prompt;
  prompt_ctx.present = &prompt_kv;
  torch::Tensor prompt_positions = torch::arange(Lp, cpu_long).unsqueeze(0);  // [1, Lp]
  // One embedding lookup for both passes: its backward then zero-fills and scatters into one
  // [vocab, D] gradient instead of two that are then added.
  const int64_t D = config_.hidden_size;
  torch::Tensor embedded = embed(torch::cat({prompt_grid.reshape({P * Lp}), resp_grid.reshape({P * W})}));
  torch::Tensor prompt_hidden =
      run_layers_embedded(embedded.narrow(0, 0, P * Lp).view({P, Lp, D}), prompt_positions, prompt_ctx);  // [P, Lp, D]

  // Response pass on top of the prompts' keys/values.
  AttentionContext resp_ctx;
  resp_ctx.mask = resp_mask;
  resp_ctx.prefix = &prompt_kv;
  torch::Tensor resp_hidden =
      run_layers_embedded(embedded.narrow(0, P * Lp, P * W).view({P, W, D}), resp_pos, resp_ctx);  // [P, W, D]

  // Rows predicting each response token, final norm, LM head.
  auto to_dev = [&](const std::vector<int64_t>& v) { return torch::tensor(v, cpu_long).to(dev); };
  std::vector<torch::Tensor> rows{prompt_hidden.reshape({P * Lp, D}).index_select(0, to_dev(first_rows))};
  if (!rest_rows.empty()) rows.push_back(resp_hidden.reshape({P * W, D}).index_select(0, to_dev(rest_rows)));
  torch::Tensor hidden = model_->norm->forward(torch::cat(rows, 0));  // [N, D], first tokens then the rest
  std::vector<int64_t> labels = first_labels, order = first_pos;
  labels.insert(labels.end(), rest_labels.begin(), rest_labels.end());
  order.insert(order.end(), rest_pos.begin(), rest_pos.end());
  torch::Tensor logps = head_logprobs(hidden, head_weight(), to_dev(labels));  // [N] in `order`
  if (first_tokens) {
    // Responses are never empty, so the first R rows of `hidden` are their first tokens', in response order.
    first_tokens->logps = head_logprobs_of(hidden.narrow(0, 0, R), head_weight(), first_tokens->labels.to(dev));
  }

  // Back to response_ids order, then summed per response.
  std::vector<int64_t> inverse(N);
  for (int64_t i = 0; i < N; ++i) inverse[order[i]] = i;
  torch::Tensor packed_logps = logps.index_select(0, to_dev(inverse));  // [N]
  if (token_logps) *token_logps = packed_logps;
  return torch::zeros({R}, packed_logps.options()).index_add(0, owner_of_token.to(dev), packed_logps);
}

torch::Tensor CausalLMImpl::score_plain(const PackedResponses& batch, torch::Tensor* token_logps) {
  validate_packed_responses(batch, config_.vocab_size);
  const auto prompts = spans(batch.prompt_offsets);
  const auto responses = spans(batch.response_offsets);
  const int64_t R = responses.size();
  const torch::Tensor prompt_ids = batch.prompt_ids.contiguous(), response_ids = batch.response_ids.contiguous();
  const int64_t* prompt_tok = prompt_ids.data_ptr<int64_t>();
  const int64_t* resp_tok = response_ids.data_ptr<int64_t>();
  auto owner = batch.response_prompt.accessor<int64_t, 1>();
  auto cpu_long = torch::TensorOptions().dtype(torch::kLong);

  // Each response concatenated after its prompt, right-padded.
  std::vector<std::vector<int64_t>> seqs(R);
  int64_t L = 0;
  for (int64_t r = 0; r < R; ++r) {
    const auto& p = prompts[owner[r]];
    seqs[r].assign(prompt_tok + p.begin, prompt_tok + p.begin + p.length);
    seqs[r].insert(seqs[r].end(), resp_tok + responses[r].begin, resp_tok + responses[r].begin + responses[r].length);
    L = std::max<int64_t>(L, seqs[r].size());
  }
  if (R == 0) {
    if (token_logps) *token_logps = torch::zeros({0}, torch::TensorOptions().device(device()).dtype(dtype()));
    return torch::zeros({0}, torch::TensorOptions().device(device()).dtype(dtype()));
  }
  torch::Tensor ids = torch::zeros({R, L}, cpu_long);
  auto id = ids.accessor<int64_t, 2>();
  std::vector<int64_t> seq_index, position, label, owner_of_token;
  for (int64_t r = 0; r < R; ++r) {
    for (size_t t = 0; t < seqs[r].size(); ++t) id[r][t] = seqs[r][t];
    const int64_t lp = prompts[owner[r]].length;
    for (int64_t j = 0; j < responses[r].length; ++j) {
      seq_index.push_back(r);
      position.push_back(lp + j - 1);  // the position whose logits predict response token j
      label.push_back(seqs[r][lp + j]);
      owner_of_token.push_back(r);
    }
  }
  torch::Tensor logits = forward(ids);  // [R, L, V]
  const auto dt = logits.scalar_type();
  if (dt == torch::kHalf || dt == torch::kBFloat16) logits = logits.to(torch::kFloat);
  torch::Tensor log_probs = torch::log_softmax(logits, -1);
  auto dev = logits.device();
  auto t = [&](const std::vector<int64_t>& v) { return torch::tensor(v, cpu_long).to(dev); };
  torch::Tensor per_token = log_probs.index({t(seq_index), t(position), t(label)});  // [N]
  if (token_logps) *token_logps = per_token;
  return torch::zeros({R}, per_token.options()).index_add(0, t(owner_of_token), per_token);
}

}  // namespace sdpo::model
