// Data-parallel gradient averaging: the trainable parameters' gradients, summed over all ranks.
//
// Gradients are flattened into buckets (one dtype and device each, at most `bucket_bytes`) so a step
// costs a few large collectives rather than one per tensor. Each bucket ends with one presence flag per
// parameter, so a parameter that got no gradient on any rank keeps none (AdamW then leaves it alone, as
// on one process), and one that got a gradient on some ranks only gets theirs (zeros elsewhere).
// The micro-batches were already weighted by their share of the global batch, so a sum is the average.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "distributed/process_group.h"
#include "train/adamw.h"

namespace sdpo::dist {

constexpr int64_t kDefaultBucketBytes = 25 << 20;  // PyTorch DDP's default bucket cap

struct GradientBucket {
  std::vector<size_t> params;  // indices into the parameter list
  int64_t numel = 0;           // gradient elements (flags not counted)
};

// Buckets in parameter order; a parameter larger than bucket_bytes gets a bucket of its own.
// bucket_bytes <= 0: one bucket per parameter (the per-tensor reference).
std::vector<GradientBucket> planBuckets(const std::vector<train::NamedTensor>& params, int64_t bucket_bytes);

// Sums every parameter's .grad() over the group, in place. `phase` names the step in errors.
void allReduceGradients(ProcessGroup& group, const std::vector<train::NamedTensor>& params, int64_t bucket_bytes,
                        const std::string& phase);

}  // namespace sdpo::dist
