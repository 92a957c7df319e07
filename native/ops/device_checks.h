// Input checks whose verdict is computed on the device. Reading a CUDA verdict costs a device-to-host
// sync, so inside a DeviceCheckScope the verdicts are queued and read together by one flush() (once per
// training step or op call, where the caller syncs anyway); outside a scope, and for CPU tensors, a
// check is read and thrown at once.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <vector>

namespace sdpo::ops {

// `first_bad`: a 0-d int64 tensor holding the first offending index, or `none` when every entry passed.
// `fail(index)` throws the error for that index (it may read tensors: it runs after the sync).
struct DeviceCheck {
  torch::Tensor first_bad;
  int64_t none = 0;
  std::function<void(int64_t)> fail;
};

// Runs `check` now, or queues it when a DeviceCheckScope is open on this thread and the verdict is on CUDA.
void runDeviceCheck(DeviceCheck check);

// The first index where `bad` [n] (bool, n >= 1) is true, or n: a 0-d int64 tensor on bad's device, no sync.
torch::Tensor firstTrueIndex(const torch::Tensor& bad);

// While alive, CUDA checks on this thread are queued. flush() reads them all with one copy and throws the
// first failure; the owner calls it before any result of the checked ops is used. Scopes nest: an inner
// scope queues into the outermost one, and only the outermost flush reads.
class DeviceCheckScope {
 public:
  DeviceCheckScope();
  ~DeviceCheckScope();
  DeviceCheckScope(const DeviceCheckScope&) = delete;
  DeviceCheckScope& operator=(const DeviceCheckScope&) = delete;
  void flush();

 private:
  bool outermost_;
  std::vector<DeviceCheck> pending_;
  friend void runDeviceCheck(DeviceCheck check);
};

// While alive, checks on this thread are read at once even inside a DeviceCheckScope: for code that would
// index memory with values a queued check has not yet vetted (the plain token log-probs gather with the
// labels; a bad index there is a device-side assert, which ends the CUDA context).
class DeviceChecksNow {
 public:
  DeviceChecksNow();
  ~DeviceChecksNow();
  DeviceChecksNow(const DeviceChecksNow&) = delete;
  DeviceChecksNow& operator=(const DeviceChecksNow&) = delete;

 private:
  DeviceCheckScope* suspended_;
};

}  // namespace sdpo::ops
