// What other bindings (the training step) need from the Model binding.
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "model/causal_lm.h"

namespace sdpo {

// The decoder behind a JS Model. Throws sdpo::TypeError if `v` is not a Model (`what` names the
// argument) and an Error if the Model was disposed.
std::shared_ptr<model::CausalLMImpl> unwrapModel(const Napi::Value& v, const std::string& what);

// Copies a PackedResponsesInput ({promptIds, promptOffsets, responseIds, responseOffsets,
// responsePrompt}, Int32Arrays) into CPU int64 tensors. Shapes and types are checked here; values
// (offsets, ids in the vocabulary) by model::validate_packed_responses, which score() runs.
model::PackedResponses readPackedResponses(const Napi::Value& v, const std::string& what);

}  // namespace sdpo
