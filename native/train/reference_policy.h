// Where a trainer's reference log-probs come from, and the policy / reference scorers of a CausalLM built from
// that choice (train_step.h's Scorers). The binding only parses the option and hands the model over.
#pragma once
#include <memory>
#include <string>

#include "model/causal_lm.h"
#include "train/train_step.h"

namespace sdpo::train {

enum class ReferenceMode {
  AdaptersOff,  // the same model with its LoRA adapters switched off (LoRA only; no second copy)
  FrozenCopy,   // a frozen copy of the weights at construction
  Precomputed,  // log-probs scored earlier and passed in with each batch (StepBatch::reference_logps)
};
ReferenceMode parseReferenceMode(const std::string& name);  // "adapters-off" | "frozen-copy" | "precomputed", else RangeError
const char* referenceModeName(ReferenceMode mode);

// The policy scorer (the model, with grad) and the reference scorer of `mode`; sft has none (calling it throws).
// RangeError for adapters-off on a model without adapters. The frozen copy is cloned here, under the caller's
// hold of the model's mutex.
Scorers makeScorers(const std::shared_ptr<model::CausalLMImpl>& model, LossKind loss, ReferenceMode mode);

}  // namespace sdpo::train
