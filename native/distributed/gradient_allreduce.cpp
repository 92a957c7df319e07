#include "distributed/gradient_allreduce.h"

#include <map>
#include <tuple>

namespace sdpo::dist {

std::vector<GradientBucket> planBuckets(const std::vector<train::NamedTensor>& params, int64_t bucket_bytes) {
  std::vector<GradientBucket> closed;
  // One open bucket per (dtype, device): a bucket is a single flat tensor.
  std::map<std::tuple<int, int, int>, GradientBucket> open;
  for (size_t i = 0; i < params.size(); ++i) {
    const torch::Tensor& p = params[i].tensor;
    const auto key = std::make_tuple(static_cast<int>(p.scalar_type()), static_cast<int>(p.device().type()),
                                     static_cast<int>(p.device().index()));
    GradientBucket& bucket = open[key];
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    const int64_t held = bucket.numel * static_cast<int64_t>(p.element_size());
    if (!bucket.params.empty() && (bucket_bytes <= 0 || held + bytes > bucket_bytes)) {
      closed.push_back(std::move(bucket));
      bucket = GradientBucket();
    }
    bucket.params.push_back(i);
    bucket.numel += p.numel();
  }
  for (auto& entry : open) {
    if (!entry.second.params.empty()) closed.push_back(std::move(entry.second));
  }
  return closed;
}

void allReduceGradients(ProcessGroup& group, const std::vector<train::NamedTensor>& params, int64_t bucket_bytes,
                        const std::string& phase) {
  torch::NoGradGuard no_grad;
  const auto buckets = planBuckets(params, bucket_bytes);
  for (size_t b = 0; b < buckets.size(); ++b) {
    const GradientBucket& bucket = buckets[b];
    const int64_t flags = static_cast<int64_t>(bucket.params.size());
    const torch::Tensor& first = params[bucket.params.front()].tensor;
    torch::Tensor flat = torch::zeros({bucket.numel + flags}, first.options());
    int64_t offset = 0;
    for (size_t j = 0; j < bucket.params.size(); ++j) {
      const torch::Tensor& p = params[bucket.params[j]].tensor;
      const torch::Tensor& grad = p.grad();
      if (grad.defined()) {
        flat.narrow(0, offset, p.numel()).copy_(grad.reshape(-1));
        flat[bucket.numel + static_cast<int64_t>(j)] = 1;
      }
      offset += p.numel();
    }
    std::vector<torch::Tensor> tensors{flat};
    group.allReduceSum(tensors, phase + " (gradient bucket " + std::to_string(b + 1) + " of " +
                                    std::to_string(buckets.size()) + ")");
    torch::Tensor present = flat.narrow(0, bucket.numel, flags).to(torch::kCPU);
    offset = 0;
    for (size_t j = 0; j < bucket.params.size(); ++j) {
      torch::Tensor p = params[bucket.params[j]].tensor;
      torch::Tensor summed = flat.narrow(0, offset, p.numel()).view(p.sizes());
      offset += p.numel();
      if (present[static_cast<int64_t>(j)].item<double>() == 0) continue;  // no rank had a gradient
      if (p.grad().defined()) {
        p.mutable_grad().copy_(summed);
      } else {
        p.mutable_grad() = summed.clone();
      }
    }
  }
}

}  // namespace sdpo::dist
