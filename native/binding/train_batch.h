// JS training batch -> sdpo::train::StepBatch (copied into int64 CPU tensors on the JS thread, so
// the step owns its inputs and no JS memory is read off the event loop).
#pragma once
#include <napi.h>

#include <string>

#include "train/train_step.h"

namespace sdpo {

// { promptIds, promptOffsets, responseIds, responseOffsets, responsePrompt: Int32Array,
//   chosenIndex: Int32Array [B], rejectedIndex: Int32Array [B * K] (-1: masked),
//   referenceLogps?: Float64Array [R] }
train::StepBatch stepBatchFromJs(const Napi::Value& value, const std::string& what);

}  // namespace sdpo
