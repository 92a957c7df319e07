// Greedy decoding, batched over prompts with a KV cache, optionally constrained to candidate lists.
//
// Prompts are right-padded to [P, Lp] and prefilled once into a cache of Lp + max_new_tokens
// positions per layer. Step s feeds each row's last token at RoPE position lp + s; it attends to the
// row's real prompt keys and to the tokens generated so far (a [P, Lp + max_new] key-validity mask).
// generate_plain does the same one prompt at a time with a full forward per token.
#include <algorithm>
#include <limits>
#include <map>
#include <vector>

#include "argument_errors.h"
#include "model/causal_lm.h"

namespace sdpo::model {

namespace {

// Prefix trie of one prompt's allowed token lists.
class CandidateTrie {
 public:
  CandidateTrie() : nodes_(1) {}
  void insert(const int64_t* tokens, int64_t length) {
    int64_t node = 0;
    for (int64_t i = 0; i < length; ++i) {
      auto it = nodes_[node].children.find(tokens[i]);
      if (it == nodes_[node].children.end()) {
        nodes_.emplace_back();
        it = nodes_[node].children.emplace(tokens[i], int64_t(nodes_.size()) - 1).first;
      }
      node = it->second;
    }
    nodes_[node].complete = true;
  }
  // Tokens allowed after reaching `node`: those continuing a list, and EOS once a list is complete.
  void allow(int64_t node, int64_t eos, bool* allowed) const {
    for (const auto& child : nodes_[node].children) allowed[child.first] = true;
    if (nodes_[node].complete) allowed[eos] = true;
  }
  int64_t next(int64_t node, int64_t token) const {
    auto it = nodes_[node].children.find(token);
    return it == nodes_[node].children.end() ? -1 : it->second;
  }

 private:
  struct Node {
    std::map<int64_t, int64_t> children;
    bool complete = false;
  };
  std::vector<Node> nodes_;
};

struct Prompts {
  std::vector<std::vector<int64_t>> tokens;
  std::vector<CandidateTrie> tries;  // empty: free decoding
};

Prompts read_prompts(const torch::Tensor& ids, const torch::Tensor& offsets, const GenerateOptions& o, int64_t vocab) {
  if (o.max_new_tokens < 0) throw RangeError("maxNewTokens must be >= 0, got " + std::to_string(o.max_new_tokens));
  if (o.eos_token_id < 0 || o.eos_token_id >= vocab) {
    throw RangeError("eosTokenId " + std::to_string(o.eos_token_id) + " is outside the vocabulary [0, " +
                     std::to_string(vocab) + ")");
  }
  const int64_t P = validate_packed_lists(ids, offsets, vocab, "prompt", false);
  Prompts out;
  auto off = offsets.accessor<int64_t, 1>();
  const torch::Tensor ids_c = ids.contiguous();
  const int64_t* tok = ids_c.data_ptr<int64_t>();
  for (int64_t p = 0; p < P; ++p) out.tokens.emplace_back(tok + off[p], tok + off[p + 1]);
  const bool constrained = o.allowed_ids.defined() || o.allowed_offsets.defined() || o.allowed_prompt_offsets.defined();
  if (!constrained) return out;
  const int64_t lists = validate_packed_lists(o.allowed_ids, o.allowed_offsets, vocab, "allowed list", true);
  if (o.allowed_prompt_offsets.numel() != P + 1) {
    throw RangeError("allowed.promptOffsets must have one entry per prompt plus one (" + std::to_string(P + 1) +
                     "), got " + std::to_string(o.allowed_prompt_offsets.numel()));
  }
  validate_packed_lists(torch::zeros({lists}, torch::kLong), o.allowed_prompt_offsets, 1, "allowed lists of prompt",
                        false);
  auto po = o.allowed_prompt_offsets.accessor<int64_t, 1>();
  auto lo = o.allowed_offsets.accessor<int64_t, 1>();
  const torch::Tensor allowed_c = o.allowed_ids.contiguous();
  const int64_t* allowed = allowed_c.data_ptr<int64_t>();
  out.tries.resize(P);
  for (int64_t p = 0; p < P; ++p)
    for (int64_t l = po[p]; l < po[p + 1]; ++l) out.tries[p].insert(allowed + lo[l], lo[l + 1] - lo[l]);
  return out;
}

// Picks each row's next token: argmax of its logits [B, V] among the tokens its trie allows (if any).
torch::Tensor pick(const torch::Tensor& logits, const Prompts& prompts, const std::vector<int64_t>& rows,
                   const std::vector<int64_t>& nodes, int64_t eos) {
  if (prompts.tries.empty()) return logits.argmax(-1).to(torch::kCPU);
  const int64_t B = logits.size(0), V = logits.size(1);
  torch::Tensor allowed = torch::zeros({B, V}, torch::kBool);
  bool* a = allowed.data_ptr<bool>();
  for (int64_t b = 0; b < B; ++b) {
    if (nodes[b] < 0) a[b * V + eos] = true;  // finished row: anything will do
    else prompts.tries[rows[b]].allow(nodes[b], eos, a + b * V);
  }
  torch::Tensor masked = logits.masked_fill(allowed.to(logits.device()).logical_not(),
                                            -std::numeric_limits<double>::infinity());
  return masked.argmax(-1).to(torch::kCPU);
}

// Records row b's token; returns false once the row is finished (EOS, or its trie has no way on).
bool advance(int64_t token, int64_t b, int64_t prompt, const Prompts& prompts, int64_t eos,
             std::vector<int64_t>& nodes, std::vector<int64_t>& out) {
  out.push_back(token);
  if (token == eos) {
    nodes[b] = -1;
    return false;
  }
  if (!prompts.tries.empty()) nodes[b] = prompts.tries[prompt].next(nodes[b], token);
  return true;
}

}  // namespace

std::vector<std::vector<int64_t>> CausalLMImpl::generate(const torch::Tensor& prompt_ids,
                                                         const torch::Tensor& prompt_offsets,
                                                         const GenerateOptions& options) {
  torch::NoGradGuard no_grad;
  const Prompts prompts = read_prompts(prompt_ids, prompt_offsets, options, config_.vocab_size);
  const int64_t P = prompts.tokens.size(), max_new = options.max_new_tokens, eos = options.eos_token_id;
  std::vector<std::vector<int64_t>> out(P);
  if (P == 0 || max_new == 0) return out;
  const auto dev = device();
  auto cpu_long = torch::TensorOptions().dtype(torch::kLong);

  int64_t Lp = 0;
  for (int64_t p = 0; p < P; ++p) {
    Lp = std::max<int64_t>(Lp, prompts.tokens[p].size());
    check_sequence_length(static_cast<int64_t>(prompts.tokens[p].size()) + max_new,
                          "prompt " + std::to_string(p) + " + maxNewTokens");
  }
  const int64_t capacity = Lp + max_new;
  torch::Tensor grid = torch::zeros({P, Lp}, cpu_long);
  torch::Tensor key_valid = torch::zeros({P, capacity}, torch::kBool);  // [P, capacity]
  torch::Tensor lengths = torch::empty({P}, cpu_long);
  for (int64_t p = 0; p < P; ++p) {
    const int64_t lp = prompts.tokens[p].size();
    grid[p].narrow(0, 0, lp).copy_(torch::tensor(prompts.tokens[p], cpu_long));
    key_valid[p].narrow(0, 0, lp).fill_(true);
    lengths[p] = lp;
  }

  std::vector<KVCache> cache(config_.num_hidden_layers);
  auto cache_opts = torch::TensorOptions().device(dev).dtype(dtype());
  for (auto& c : cache) {
    c.k = torch::zeros({P, config_.num_key_value_heads, capacity, config_.head_dim}, cache_opts);
    c.v = torch::zeros_like(c.k);
  }

  // Prefill: the prompts, causally; logits of each prompt's last real position.
  AttentionContext ctx;
  ctx.cache = &cache;
  ctx.mask = torch::ones({Lp, Lp}, torch::TensorOptions().dtype(torch::kBool).device(dev)).tril().view({1, 1, Lp, Lp});
  torch::Tensor hidden = run_layers(grid, torch::arange(Lp, cpu_long).unsqueeze(0), ctx);  // [P, Lp, D]
  torch::Tensor last = hidden.gather(1, (lengths - 1).to(dev).view({P, 1, 1}).expand({P, 1, hidden.size(2)}));
  torch::Tensor head = head_weight();

  std::vector<int64_t> rows(P), nodes(P, 0);
  for (int64_t p = 0; p < P; ++p) rows[p] = p;
  std::vector<bool> active(P, true);
  int64_t n_active = P;
  for (int64_t step = 0; step < max_new; ++step) {
    torch::Tensor logits = torch::matmul(model_->norm->forward(last.squeeze(1)), head.t());  // [P, V]
    torch::Tensor next = pick(logits, prompts, rows, nodes, eos);                          // [P] CPU
    auto nx = next.accessor<int64_t, 1>();
    for (int64_t p = 0; p < P; ++p) {
      if (active[p] && !advance(nx[p], p, p, prompts, eos, nodes, out[p])) {
        active[p] = false;
        --n_active;
      }
    }
    if (n_active == 0 || step + 1 == max_new) break;
    // Feed the new tokens at positions lp + step; they may attend the prompt and all tokens so far.
    key_valid.select(1, Lp + step).fill_(true);
    ctx.mask = key_valid.narrow(1, 0, Lp + step + 1).to(dev).view({P, 1, 1, Lp + step + 1});
    hidden = run_layers(next.view({P, 1}), (lengths + step).view({P, 1}), ctx);  // [P, 1, D]
    last = hidden;
  }
  return out;
}

std::vector<std::vector<int64_t>> CausalLMImpl::generate_plain(const torch::Tensor& prompt_ids,
                                                               const torch::Tensor& prompt_offsets,
                                                               const GenerateOptions& options) {
  torch::NoGradGuard no_grad;
  const Prompts prompts = read_prompts(prompt_ids, prompt_offsets, options, config_.vocab_size);
  const int64_t P = prompts.tokens.size(), eos = options.eos_token_id;
  std::vector<std::vector<int64_t>> out(P);
  for (int64_t p = 0; p < P; ++p) {
    std::vector<int64_t> seq = prompts.tokens[p], rows{p}, nodes{0};
    for (int64_t step = 0; step < options.max_new_tokens; ++step) {
      const int64_t T = seq.size();
      torch::Tensor logits = forward(torch::tensor(seq, torch::kLong).view({1, T}));  // [1, T, V]
      const int64_t token = pick(logits.select(1, T - 1), prompts, rows, nodes, eos)[0].item<int64_t>();
      seq.push_back(token);
      if (!advance(token, 0, p, prompts, eos, nodes, out[p])) break;
    }
  }
  return out;
}

}  // namespace sdpo::model
