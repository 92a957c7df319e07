#include "ops/device_checks.h"

namespace sdpo::ops {
namespace {

thread_local DeviceCheckScope* open_scope = nullptr;

void readAndThrow(const DeviceCheck& check, int64_t first_bad) {
  if (first_bad != check.none) check.fail(first_bad);
}

}  // namespace

void runDeviceCheck(DeviceCheck check) {
  if (open_scope && check.first_bad.is_cuda()) {
    open_scope->pending_.push_back(std::move(check));
    return;
  }
  readAndThrow(check, check.first_bad.item<int64_t>());
}

torch::Tensor firstTrueIndex(const torch::Tensor& bad) {
  const int64_t n = bad.size(0);
  const torch::Tensor index = torch::arange(n, bad.options().dtype(torch::kLong));
  return torch::where(bad, index, torch::full({}, n, index.options())).min();
}

DeviceCheckScope::DeviceCheckScope() : outermost_(open_scope == nullptr) {
  if (outermost_) open_scope = this;
}

DeviceCheckScope::~DeviceCheckScope() {
  if (outermost_) open_scope = nullptr;
}

void DeviceCheckScope::flush() {
  if (!outermost_ || pending_.empty()) return;
  std::vector<DeviceCheck> checks = std::move(pending_);
  pending_.clear();
  std::vector<torch::Tensor> verdicts;
  verdicts.reserve(checks.size());
  for (const DeviceCheck& check : checks) verdicts.push_back(check.first_bad.reshape({1}).to(checks[0].first_bad.device()));
  const torch::Tensor host = torch::cat(verdicts).cpu();  // the one sync
  const int64_t* first_bad = host.data_ptr<int64_t>();
  for (size_t i = 0; i < checks.size(); ++i) readAndThrow(checks[i], first_bad[i]);
}

DeviceChecksNow::DeviceChecksNow() : suspended_(open_scope) { open_scope = nullptr; }

DeviceChecksNow::~DeviceChecksNow() { open_scope = suspended_; }

}  // namespace sdpo::ops
