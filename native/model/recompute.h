// Gradient checkpointing (activation recomputation): a decoder layer runs without keeping its
// intermediate activations; backward runs it again from its saved inputs, with the random state
// (LoRA dropout) restored, so the recomputation is exact. Only the layer's inputs are kept.
#pragma once
#include <torch/torch.h>

#include "model/attention.h"

namespace sdpo::model {

class DecoderLayerImpl;

// Layer `index`'s forward under checkpointing: returns the layer's output and, when ctx.present is
// set, stores the new keys/values in (*ctx.present)[index] as the plain forward does. Not for ctx.cache.
torch::Tensor checkpointed_layer(DecoderLayerImpl& layer, const torch::Tensor& hidden, AttentionContext& ctx,
                                 size_t index);

}  // namespace sdpo::model
