// Contract of the decoder used by the bindings and the training step (implemented in native/model/).
#pragma once
#include <torch/torch.h>

#include <memory>
#include <mutex>
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
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // qwen2: q/k/v projections carry a bias
  bool qk_norm = false;         // qwen3: RMSNorm on q and k per head
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

class CausalLMImpl;
using CausalLMPtr = std::shared_ptr<CausalLMImpl>;

}  // namespace sdpo::model
