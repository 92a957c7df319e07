// CausalLMImpl: construction, parameters by name, LoRA, copies. Scoring is in scoring.cpp,
// generation in generation.cpp.
#include "model/causal_lm.h"

#include <stdexcept>

#include "argument_errors.h"
#include "model/rope.h"

namespace sdpo::model {

void validate_config(const ModelConfig& c) {
  auto positive = [](int64_t v, const char* name) {
    if (v <= 0) throw RangeError(std::string("config.") + name + " must be a positive integer, got " + std::to_string(v));
  };
  if (c.model_type != "llama" && c.model_type != "mistral" && c.model_type != "qwen2" && c.model_type != "qwen3") {
    throw RangeError("config.model_type must be one of llama, mistral, qwen2, qwen3, got '" + c.model_type + "'");
  }
  positive(c.vocab_size, "vocab_size");
  positive(c.hidden_size, "hidden_size");
  positive(c.intermediate_size, "intermediate_size");
  positive(c.num_hidden_layers, "num_hidden_layers");
  positive(c.num_attention_heads, "num_attention_heads");
  positive(c.num_key_value_heads, "num_key_value_heads");
  positive(c.head_dim, "head_dim");
  positive(c.max_position_embeddings, "max_position_embeddings");
  if (c.sliding_window < 0) throw RangeError("config.sliding_window must be > 0, or null for none");
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    throw RangeError("config.num_attention_heads (" + std::to_string(c.num_attention_heads) +
                     ") must be a multiple of config.num_key_value_heads (" + std::to_string(c.num_key_value_heads) + ")");
  }
  if (c.head_dim % 2 != 0) throw RangeError("config.head_dim must be even for RoPE, got " + std::to_string(c.head_dim));
  if (!(c.rms_norm_eps > 0)) throw RangeError("config.rms_norm_eps must be > 0");
  if (!(c.rope_theta > 0)) throw RangeError("config.rope_theta must be > 0");
  const RopeScaling& s = c.rope_scaling;
  if (!s.type.empty()) {
    if (s.type != "llama3" && s.type != "linear") {
      throw RangeError("config.rope_scaling.rope_type must be llama3 or linear, got '" + s.type + "'");
    }
    if (!(s.factor > 0)) throw RangeError("config.rope_scaling.factor must be > 0");
    if (s.type == "llama3") {
      if (!(s.low_freq_factor > 0) || !(s.high_freq_factor > s.low_freq_factor)) {
        throw RangeError("config.rope_scaling needs 0 < low_freq_factor < high_freq_factor");
      }
      positive(s.original_max_position_embeddings, "rope_scaling.original_max_position_embeddings");
    }
  }
}

CausalLMImpl::CausalLMImpl(ModelConfig config, const ParamInit& init) : config_(std::move(config)) {
  validate_config(config_);
  model_ = register_module("model", DecoderModel(config_, init.scoped("model")));
  if (!config_.tie_word_embeddings) {
    lm_head_ = register_module("lm_head", LoraLinear(config_.hidden_size, config_.vocab_size, false, init.scoped("lm_head")));
  }
  inv_freq_ = rope_inverse_frequencies(config_);
}

void CausalLMImpl::check_sequence_length(int64_t tokens, const std::string& what) const {
  if (tokens > config_.max_position_embeddings) {
    throw RangeError(what + " is " + std::to_string(tokens) + " tokens, more than the model's max_position_embeddings (" +
                     std::to_string(config_.max_position_embeddings) + ")");
  }
  if (config_.sliding_window > 0 && tokens > config_.sliding_window) {
    throw RangeError(what + " is " + std::to_string(tokens) + " tokens, more than " + config_.model_type +
                     "'s sliding_window (" + std::to_string(config_.sliding_window) +
                     "): windowed attention is not implemented, and full attention would give other results");
  }
}

torch::Tensor CausalLMImpl::head_weight() const {
  return lm_head_ ? lm_head_->weight : model_->embed_tokens->weight;
}

torch::Device CausalLMImpl::device() const { return model_->embed_tokens->weight.device(); }
torch::ScalarType CausalLMImpl::dtype() const { return model_->embed_tokens->weight.scalar_type(); }

torch::Tensor CausalLMImpl::run_layers(const torch::Tensor& ids, const torch::Tensor& positions, AttentionContext& ctx) {
  return run_layers_embedded(model_->embed_tokens->forward(ids.to(device())), positions, ctx);  // [B, T, hidden]
}

torch::Tensor CausalLMImpl::run_layers_embedded(const torch::Tensor& embedded, const torch::Tensor& positions,
                                                AttentionContext& ctx) {
  ctx.angles = rope_angles(positions.to(device()), inv_freq_, dtype());
  return model_->forward(embedded, ctx);
}

torch::Tensor CausalLMImpl::forward(const torch::Tensor& ids) {
  const int64_t T = ids.size(1);
  check_sequence_length(T, "the input");
  auto opts = torch::TensorOptions().device(device());
  AttentionContext ctx;
  ctx.mask = torch::ones({T, T}, opts.dtype(torch::kBool)).tril().view({1, 1, T, T});  // causal
  torch::Tensor positions = torch::arange(T, opts.dtype(torch::kLong)).unsqueeze(0);  // [1, T]
  torch::Tensor hidden = model_->norm->forward(run_layers(ids, positions, ctx));
  return torch::matmul(hidden, head_weight().t());  // [B, T, vocab]
}

// ---------------------------------------------------------------------------------------------
// LoRA

static std::vector<LoraLinear> lora_targets(DecoderModel& model, const std::vector<std::string>& targets) {
  std::vector<LoraLinear> out;
  for (auto& layer : model->layers) {
    auto& a = layer->self_attn;
    auto& m = layer->mlp;
    for (const auto& t : targets) {
      if (t == "q_proj") out.push_back(a->q_proj);
      else if (t == "k_proj") out.push_back(a->k_proj);
      else if (t == "v_proj") out.push_back(a->v_proj);
      else if (t == "o_proj") out.push_back(a->o_proj);
      else if (t == "gate_proj") out.push_back(m->gate_proj);
      else if (t == "up_proj") out.push_back(m->up_proj);
      else if (t == "down_proj") out.push_back(m->down_proj);
      else throw RangeError("lora.targets: unknown layer '" + t +
                            "' (expected q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)");
    }
  }
  return out;
}

void CausalLMImpl::add_lora(const LoraConfig& config) {
  if (lora_) throw std::runtime_error("the model already has LoRA adapters");
  if (config.rank <= 0) throw RangeError("lora.rank must be a positive integer, got " + std::to_string(config.rank));
  if (!(config.alpha > 0)) throw RangeError("lora.alpha must be > 0");
  if (!(config.dropout >= 0 && config.dropout < 1)) throw RangeError("lora.dropout must be in [0, 1)");
  if (config.targets.empty()) throw RangeError("lora.targets must name at least one layer");
  auto targets = lora_targets(model_, config.targets);  // validates every name before changing anything
  for (auto& p : parameters()) p.set_requires_grad(false);
  for (auto& linear : targets) {
    linear->add_adapter(config);
    linear->set_adapter_enabled(adapters_enabled_);
  }
  lora_ = config;
}

void CausalLMImpl::set_adapters_enabled(bool enabled) {
  adapters_enabled_ = enabled;
  if (!lora_) return;
  for (auto& linear : lora_targets(model_, lora_->targets)) linear->set_adapter_enabled(enabled);
}

bool CausalLMImpl::is_adapter_name(const std::string& name) {
  return name.find(".lora_A.") != std::string::npos || name.find(".lora_B.") != std::string::npos;
}

std::vector<torch::Tensor> CausalLMImpl::trainable_parameters() {
  std::vector<torch::Tensor> out;
  for (auto& item : named_parameters()) {
    if (!lora_ || is_adapter_name(item.key())) out.push_back(item.value());
  }
  return out;
}

torch::Tensor CausalLMImpl::parameter(const std::string& name) const {
  auto params = named_parameters();
  if (const torch::Tensor* p = params.find(name)) return *p;
  throw std::invalid_argument("unknown parameter '" + name + "'");
}

torch::Tensor CausalLMImpl::merged_parameter(const std::string& name) const {
  torch::Tensor p = parameter(name);
  const std::string suffix = ".weight";
  if (lora_ && !is_adapter_name(name) && name.size() > suffix.size() &&
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    // The owning module of "<module>.weight", if it is a LoRA linear with an adapter.
    const std::string module_name = name.substr(0, name.size() - suffix.size());
    for (const auto& item : named_modules()) {
      if (item.key() != module_name) continue;
      if (auto* linear = dynamic_cast<LoraLinearImpl*>(item.value().get())) {
        if (linear->has_adapter()) return linear->merged_weight();
      }
    }
  }
  return p.detach().clone();
}

// Restores the default CPU generator on scope exit: building a copy (whose random init is then
// overwritten) must not shift the random stream the caller sees.
struct PreserveCpuRng {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  torch::Tensor state = generator.get_state();
  ~PreserveCpuRng() { generator.set_state(state); }
};

std::shared_ptr<CausalLMImpl> CausalLMImpl::clone_frozen() const {
  PreserveCpuRng preserve_rng;
  // Zero-filled in place (no random init to waste), then every parameter copied over.
  ParamInit init;
  init.options = torch::TensorOptions().device(device()).dtype(dtype());
  init.random = false;
  auto copy = std::make_shared<CausalLMImpl>(config_, init);
  if (lora_) copy->add_lora(*lora_);
  {
    torch::NoGradGuard no_grad;
    auto mine = named_parameters();
    for (auto& item : copy->named_parameters()) item.value().copy_(mine[item.key()]);
  }
  for (auto& p : copy->parameters()) p.set_requires_grad(false);
  copy->set_adapters_enabled(adapters_enabled_);
  copy->train(is_training());
  return copy;
}

}  // namespace sdpo::model
