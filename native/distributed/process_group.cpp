#include "distributed/process_group.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef SDPO_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef SDPO_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>
#include <mutex>
#include <stdexcept>

namespace sdpo::dist {
namespace {

std::string whoAmI(const GroupOptions& o) {
  return "rank " + std::to_string(o.rank) + " of " + std::to_string(o.world_size) + " (" + o.backend + ")";
}

// c10::Error's what() carries a C++ backtrace; the message alone is what a user can act on.
template <class Fn>
auto rethrowNamed(const std::string& context, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    throw std::runtime_error(context + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw std::runtime_error(context + ": " + e.what());
  }
}

bool isLoopback(const std::string& addr) {
  return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

template <class Backend>
class C10dGroup final : public ProcessGroup {
 public:
  C10dGroup(GroupOptions options, c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<Backend> backend)
      : options_(std::move(options)), store_(std::move(store)), backend_(std::move(backend)) {}

  const GroupOptions& options() const override { return options_; }

  void allReduceSum(std::vector<torch::Tensor>& tensors, const std::string& phase) override {
    if (!backend_) throw std::runtime_error(whoAmI(options_) + ": " + phase + ": the process group was closed");
    // After a failed collective the ranks are out of step for good: later calls fail at once, with the cause.
    if (!failure_.empty()) {
      throw std::runtime_error(whoAmI(options_) + ": " + phase + ": the process group failed earlier (" + failure_ +
                               "); destroy it and start the run again");
    }
    if (tensors.empty()) return;
    try {
      rethrowNamed(whoAmI(options_) + ": all-reduce of " + phase +
                       " failed (a peer rank exited, crashed, or did not get there within " +
                       std::to_string(options_.timeout.count()) + " ms)",
                   [&] {
                     auto work = backend_->allreduce(tensors, c10d::AllreduceOptions());
                     work->wait(options_.timeout);
                   });
    } catch (const std::exception& e) {
      failure_ = e.what();
      throw;
    }
  }

  void shutdown() override {
    backend_.reset();
    store_.reset();
  }

 private:
  GroupOptions options_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<Backend> backend_;
  std::string failure_;  // the first failed collective's message
};

// Keys of each group live under their own prefix, so a group reopened on the same store (torchrun's
// agent store outlives our groups) cannot read the previous one's addresses.
int64_t next_generation = 0;  // touched by the one rendezvous under way (initProcessGroup's `opening`)

c10::intrusive_ptr<c10d::Store> rendezvous(const GroupOptions& o) {
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<std::uint16_t>(o.master_port);
  store_options.isServer = !o.agent_store && o.rank == 0;
  if (!o.agent_store) store_options.numWorkers = static_cast<std::size_t>(o.world_size);
  store_options.waitWorkers = !o.agent_store;
  store_options.timeout = o.timeout;
  auto tcp = c10::make_intrusive<c10d::TCPStore>(o.master_addr, store_options);
  tcp->setTimeout(o.timeout);
  // torchrun's agent keeps its store across worker restarts: each attempt gets its own keys, as in PyTorch.
  const char* attempt = std::getenv("TORCHELASTIC_RESTART_COUNT");
  std::string prefix = "sdpo/";
  if (o.agent_store && attempt) prefix += "attempt_" + std::string(attempt) + "/";
  return c10::make_intrusive<c10d::PrefixStore>(prefix + std::to_string(next_generation++), tcp);
}

std::shared_ptr<ProcessGroup> openGroup(const GroupOptions& o) {
  const std::string where = whoAmI(o) + ": rendezvous at " + o.master_addr + ":" + std::to_string(o.master_port);
  auto store = rethrowNamed(where + " failed (did every rank start, with the same MASTER_ADDR/MASTER_PORT, within " +
                                std::to_string(o.timeout.count()) + " ms?)",
                            [&] { return rendezvous(o); });
  if (o.backend == "gloo") {
#ifdef SDPO_WITH_GLOO
    return rethrowNamed(where + ": connecting the gloo process group failed", [&]() -> std::shared_ptr<ProcessGroup> {
      auto options = c10d::ProcessGroupGloo::Options::create(o.timeout);
      const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
      if (ifname && *ifname) {
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      } else if (isLoopback(o.master_addr)) {
        // All ranks on this machine: loopback, whatever the host name resolves to.
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      } else {
        options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      auto backend = c10::make_intrusive<c10d::ProcessGroupGloo>(store, o.rank, o.world_size, options);
      return std::make_shared<C10dGroup<c10d::ProcessGroupGloo>>(o, store, backend);
    });
#else
    throw std::runtime_error(where + ": this build of the addon has no gloo (its libtorch's gloo headers were not "
                             "found at build time; on Debian: apt-get install libgloo-dev, then rebuild)");
#endif
  }
  if (o.backend == "nccl") {
#ifdef SDPO_WITH_NCCL
    // Blocking wait: a collective that fails or passes the timeout throws here instead of hanging the stream.
    setenv("TORCH_NCCL_BLOCKING_WAIT", "1", 0);
    setenv("NCCL_BLOCKING_WAIT", "1", 0);
    return rethrowNamed(where + ": connecting the nccl process group failed", [&]() -> std::shared_ptr<ProcessGroup> {
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = o.timeout;
      auto backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, o.rank, o.world_size, options);
      return std::make_shared<C10dGroup<c10d::ProcessGroupNCCL>>(o, store, backend);
    });
#else
    throw std::runtime_error(where + ": this build of the addon has no nccl (it needs a CUDA libtorch built with "
                             "NCCL); use backend 'gloo'");
#endif
  }
  throw std::invalid_argument("distributed backend must be 'gloo' or 'nccl' (got '" + o.backend + "')");
}

std::mutex group_mutex;
std::shared_ptr<ProcessGroup> the_group;
bool opening = false;  // a rendezvous is under way (outside the lock)

bool sameOptions(const GroupOptions& a, const GroupOptions& b) {
  return a.rank == b.rank && a.world_size == b.world_size && a.master_addr == b.master_addr &&
         a.master_port == b.master_port && a.backend == b.backend && a.timeout == b.timeout &&
         a.agent_store == b.agent_store && a.device_index == b.device_index;
}

}  // namespace

bool glooAvailable() {
#ifdef SDPO_WITH_GLOO
  return true;
#else
  return false;
#endif
}

bool ncclAvailable() {
#ifdef SDPO_WITH_NCCL
  return true;
#else
  return false;
#endif
}

std::shared_ptr<ProcessGroup> initProcessGroup(const GroupOptions& options) {
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    throw std::invalid_argument("distributed: rank " + std::to_string(options.rank) + " is not in [0, world size " +
                                std::to_string(options.world_size) + ")");
  }
  if (options.master_port < 1 || options.master_port > 65535) {
    throw std::invalid_argument("distributed: master port " + std::to_string(options.master_port) +
                                " is not in [1, 65535]");
  }
  if (options.timeout.count() < 1) throw std::invalid_argument("distributed: timeout must be >= 1 ms");
  {
    std::lock_guard<std::mutex> lock(group_mutex);
    if (the_group) {
      if (sameOptions(the_group->options(), options)) return the_group;
      throw std::runtime_error("distributed: this process already belongs to a process group (" +
                               whoAmI(the_group->options()) + " at " + the_group->options().master_addr + ":" +
                               std::to_string(the_group->options().master_port) +
                               "); one group per process, destroy it first");
    }
    if (opening) throw std::runtime_error("distributed: a rendezvous of this process is already under way");
    opening = true;
  }
  // The rendezvous blocks up to the timeout: without the lock, so currentProcessGroup() never waits on it.
  std::shared_ptr<ProcessGroup> group;
  try {
    group = openGroup(options);
  } catch (...) {
    std::lock_guard<std::mutex> lock(group_mutex);
    opening = false;
    throw;
  }
  std::lock_guard<std::mutex> lock(group_mutex);
  opening = false;
  the_group = group;
  return the_group;
}

std::shared_ptr<ProcessGroup> currentProcessGroup() {
  std::lock_guard<std::mutex> lock(group_mutex);
  return the_group;
}

void destroyProcessGroup() {
  std::lock_guard<std::mutex> lock(group_mutex);
  if (the_group) the_group->shutdown();
  the_group.reset();
}

}  // namespace sdpo::dist
