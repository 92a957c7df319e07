// Plain data shared by the decoder, the bindings and the training step: the model's configuration,
// LoRA's, and a batch of responses packed against shared prompts.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace sdpo::model {

struct RopeScaling {
  std::string type;  // "" (none), "llama3", "linear"
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

// Parsed from Hugging Face config.json (in TS) and passed in.
struct ModelConfig {
  std::string model_type;  // llama | mistral | qwen2 | qwen3
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // hidden_size / num_attention_heads unless given
  int64_t max_position_embeddings = 2048;
  // Mistral: each token attends only to the last `sliding_window` positions (0: no window). Windowed
  // attention is not implemented: sequences longer than the window are refused (check_sequence_length).
  int64_t sliding_window = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // qwen2: q/k/v projections carry a bias
  bool qk_norm = false;         // qwen3: RMSNorm on q and k per head
};

// How parameters are created: directly in the target dtype and device (a large model never exists as
// a float32 CPU copy first), and either randomly like Hugging Face's _init_weights or zero-filled for
// a checkpoint to overwrite. `prefix` is the path of the module being built ("model.layers.3.mlp."), so
// that an allocation that fails names the parameter (causal_lm.cpp).
struct ParamInit {
  torch::TensorOptions options = torch::TensorOptions().dtype(torch::kFloat);
  bool random = true;
  std::string prefix;
  // The init of the submodule `name`.
  ParamInit scoped(const std::string& name) const {
    ParamInit sub = *this;
    sub.prefix += name + ".";
    return sub;
  }
  // Parameter `name` of this module: N(0, std) when random, zeros otherwise.
  torch::Tensor normal(const char* name, at::IntArrayRef shape, double std) const;
  // Parameter `name` filled with `value` (RMSNorm weights 1, biases 0), random or not.
  torch::Tensor filled(const char* name, at::IntArrayRef shape, double value) const;
};

struct LoraConfig {
  int64_t rank = 8;
  double alpha = 16.0;
  double dropout = 0.0;
  std::vector<std::string> targets{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
};

// A batch of responses, each scored against one prompt. Prompts are encoded once and shared by
// all their responses (chosen, rejected, in-batch or pool negatives). CPU int64 tensors.
struct PackedResponses {
  torch::Tensor prompt_ids;        // [sum prompt lengths]
  torch::Tensor prompt_offsets;    // [P + 1]
  torch::Tensor response_ids;      // [sum response lengths]
  torch::Tensor response_offsets;  // [R + 1]
  torch::Tensor response_prompt;   // [R] index of each response's prompt in [0, P)
};

// Log-probs of alternative first tokens: for response r, log p(labels[r, m] | its prompt), the
// distribution its own first token is drawn from (sft's list smoothing reads the other candidates'
// first tokens there without scoring them as responses).
struct FirstTokenLogps {
  torch::Tensor labels;  // [R, M] int64 on the CPU, token ids; -1 = none
  torch::Tensor logps;   // out: [R, M] float32 (model dtype for 32/64-bit models), differentiable; 0 where labels is -1
};

}  // namespace sdpo::model

namespace sdpo::model {

// Options of greedy generation.
struct GenerateOptions {
  int64_t max_new_tokens = 32;
  int64_t eos_token_id = 0;
  // Constrained decoding (all three defined, CPU int64) or free decoding (all undefined):
  // candidate token lists allowed_ids/allowed_offsets (packed, L + 1 offsets); prompt p may produce
  // the lists allowed_prompt_offsets[p] .. allowed_prompt_offsets[p + 1]. At each step only tokens
  // continuing one of its lists are allowed, and EOS once a whole list has been produced.
  torch::Tensor allowed_ids, allowed_offsets, allowed_prompt_offsets;
};

// Checks a batch before it touches the model: int64 1-D tensors, offsets monotone and within their
// values, every prompt and response non-empty, token ids in [0, vocab_size), response_prompt in [0, P).
// Throws sdpo::RangeError / sdpo::TypeError naming the field, the row and the value.
void validate_packed_responses(const PackedResponses& batch, int64_t vocab_size);
// The same for packed lists alone (`what` names them in messages); returns the number of lists.
int64_t validate_packed_lists(const torch::Tensor& ids, const torch::Tensor& offsets, int64_t vocab_size,
                              const std::string& what, bool allow_empty_lists);

}  // namespace sdpo::model
