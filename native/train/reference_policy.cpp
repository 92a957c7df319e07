// The reference policy of a trainer (reference_policy.h).
#include "train/reference_policy.h"

#include <stdexcept>

#include "argument_errors.h"

namespace sdpo::train {

ReferenceMode parseReferenceMode(const std::string& name) {
  if (name == "adapters-off") return ReferenceMode::AdaptersOff;
  if (name == "frozen-copy") return ReferenceMode::FrozenCopy;
  if (name == "precomputed") return ReferenceMode::Precomputed;
  throw RangeError("referenceMode must be 'adapters-off', 'frozen-copy' or 'precomputed' (got '" + name + "')");
}

const char* referenceModeName(ReferenceMode mode) {
  switch (mode) {
    case ReferenceMode::AdaptersOff: return "adapters-off";
    case ReferenceMode::FrozenCopy: return "frozen-copy";
    case ReferenceMode::Precomputed: return "precomputed";
  }
  return "?";
}

Scorers makeScorers(const std::shared_ptr<model::CausalLMImpl>& model, LossKind loss, ReferenceMode mode) {
  std::shared_ptr<model::CausalLMImpl> m = model;
  Scorers scorers;
  scorers.policy = [m](const model::PackedResponses& r, torch::Tensor* tokens, model::FirstTokenLogps* first) {
    return m->score(r, tokens, first);
  };
  if (loss == LossKind::SFT) {
    // sft has no reference policy: nothing to clone or switch off.
    scorers.reference = [](const model::PackedResponses&) -> torch::Tensor {
      throw std::logic_error("sft uses no reference policy");
    };
    return scorers;
  }
  switch (mode) {
    case ReferenceMode::AdaptersOff:
      if (!m->has_adapters()) {
        throw RangeError("referenceMode 'adapters-off' needs a model with LoRA adapters; use 'frozen-copy' or "
                         "'precomputed' for full fine-tuning");
      }
      scorers.reference = [m](const model::PackedResponses& r) {
        // Restored even if scoring throws. The reference never drops out (eval mode inside a training step).
        struct Restore {
          model::CausalLMImpl* m;
          bool adapters, training;
          ~Restore() {
            m->set_adapters_enabled(adapters);
            m->train(training);
          }
        } restore{m.get(), m->adapters_enabled(), m->is_training()};
        m->set_adapters_enabled(false);
        m->train(false);
        return m->score(r, nullptr);
      };
      break;
    case ReferenceMode::FrozenCopy: {
      auto frozen = m->clone_frozen();
      frozen->eval();  // the reference never drops out
      scorers.reference = [frozen](const model::PackedResponses& r) { return frozen->score(r, nullptr); };
      break;
    }
    case ReferenceMode::Precomputed:
      scorers.reference = [](const model::PackedResponses&) -> torch::Tensor {
        throw RangeError("referenceMode 'precomputed': the batch carries no referenceLogps");
      };
      break;
  }
  return scorers;
}

}  // namespace sdpo::train
