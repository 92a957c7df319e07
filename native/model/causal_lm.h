// Contract of the decoder used by the bindings and the training step (implemented in native/model/).
//
// CausalLMImpl is a LLaMA-family causal LM (llama, mistral, qwen2, qwen3) whose named_parameters()
// are Hugging Face's state-dict names. Its core is shared-prefix scoring: each prompt is encoded
// once and every response attends to that prompt's keys/values (see scoring.cpp).
#pragma once
#include <torch/torch.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/decoder.h"

namespace sdpo::model {

class CausalLMImpl : public torch::nn::Module {
 public:
  // Parameters created with `init` (default: float32 on the CPU, random like Hugging Face: linear and
  // embedding N(0, 0.02), norms 1, biases 0). Throws sdpo::RangeError for an inconsistent config.
  explicit CausalLMImpl(ModelConfig config, const ParamInit& init = {});
  const ModelConfig& config() const { return config_; }

  // [R] summed log-prob of each response given its prompt (model dtype; float32 for 16-bit models),
  // differentiable. Prompts are encoded once. token_logps (optional out): per-token log-probs packed
  // like response_ids. first_tokens (optional): the log-probs of other tokens in place of each response's
  // first one (same prompt, same position), read from the row the LM head computes for that token.
  torch::Tensor score(const PackedResponses& batch, torch::Tensor* token_logps = nullptr,
                      FirstTokenLogps* first_tokens = nullptr);
  // The same, the plain way: each prompt+response concatenated, full forward, full-vocabulary log_softmax.
  torch::Tensor score_plain(const PackedResponses& batch, torch::Tensor* token_logps = nullptr);

  // Full causal forward of right-padded ids [B, T] (int64, any device) -> logits [B, T, vocab].
  torch::Tensor forward(const torch::Tensor& ids);

  // Greedy decoding with a KV cache, batched over prompts (packed like PackedResponses' prompts).
  // Returns each prompt's new tokens, the EOS that ended it included. Deterministic. No grad.
  std::vector<std::vector<int64_t>> generate(const torch::Tensor& prompt_ids, const torch::Tensor& prompt_offsets,
                                             const GenerateOptions& options);
  // The same, the plain way: one prompt at a time, a full forward per new token.
  std::vector<std::vector<int64_t>> generate_plain(const torch::Tensor& prompt_ids,
                                                   const torch::Tensor& prompt_offsets,
                                                   const GenerateOptions& options);

  void add_lora(const LoraConfig& config);
  const std::optional<LoraConfig>& lora_config() const { return lora_; }
  void set_adapters_enabled(bool enabled);  // the reference policy = same weights, adapters off
  bool adapters_enabled() const { return adapters_enabled_; }
  bool has_adapters() const { return lora_.has_value(); }
  std::vector<torch::Tensor> trainable_parameters();  // LoRA params when adapters exist, else all
  std::shared_ptr<CausalLMImpl> clone_frozen() const; // deep copy, requires_grad false (frozen-copy reference)

  // A parameter by its Hugging Face name; throws std::invalid_argument naming an unknown one.
  torch::Tensor parameter(const std::string& name) const;
  // The parameter with its LoRA delta folded in (W + (alpha/r) B A) for adapted base weights; a copy.
  torch::Tensor merged_parameter(const std::string& name) const;
  static bool is_adapter_name(const std::string& name);

  // Gradient checkpointing of every decoder layer (training mode, grad enabled): less memory, one
  // more forward per layer in backward. Off by default.
  void set_gradient_checkpointing(bool enabled) { model_->set_gradient_checkpointing(enabled); }
  // Residual dropout of every decoder layer (training mode only; decoder.h).
  void set_residual_dropout(double p) { model_->set_residual_dropout(p); }
  double residual_dropout() const { return model_->residual_dropout(); }
  bool gradient_checkpointing() const { return model_->gradient_checkpointing(); }

  torch::Device device() const;
  torch::ScalarType dtype() const;
  std::mutex& mutex() { return mutex_; }  // every async call that uses the model holds it

  // Building blocks of scoring and generation.
  DecoderModel& decoder() { return model_; }
  torch::Tensor head_weight() const;  // lm_head.weight, or the embedding when tied: [vocab, hidden]
  // Embeds ids [B, T] (device) and runs every layer: [B, T, hidden] before the final norm.
  torch::Tensor run_layers(const torch::Tensor& ids, const torch::Tensor& positions, AttentionContext& ctx);
  // Same from embeddings already looked up ([B, T, hidden], e.g. several passes' tokens in one lookup).
  torch::Tensor run_layers_embedded(const torch::Tensor& embedded, const torch::Tensor& positions,
                                    AttentionContext& ctx);
  torch::Tensor embed(const torch::Tensor& ids) { return model_->embed_tokens->forward(ids.to(device())); }
  // RangeError naming `what` when a sequence of `tokens` positions exceeds max_position_embeddings or the
  // sliding window (where full attention would differ from the model's windowed one).
  void check_sequence_length(int64_t tokens, const std::string& what) const;

 private:
  ModelConfig config_;
  DecoderModel model_{nullptr};
  LoraLinear lm_head_{nullptr};  // absent when tie_word_embeddings
  torch::Tensor inv_freq_;              // [head_dim / 2] float64 CPU
  std::optional<LoraConfig> lora_;
  bool adapters_enabled_ = true;
  std::mutex mutex_;
};

// Checks a config (positive sizes, heads divisible, known model_type and rope type, ...); throws
// sdpo::RangeError naming the field.
void validate_config(const ModelConfig& config);

using CausalLMPtr = std::shared_ptr<CausalLMImpl>;

}  // namespace sdpo::model
