// The process's one c10d process group: TCPStore rendezvous + ProcessGroupGloo (CPU tensors) or
// ProcessGroupNCCL (CUDA tensors, where the libtorch was built with it). libtorch's own engine, as
// PyTorch's DDP uses it; this file only opens it, names failures and sums tensors through it.
//
// Collectives block the calling thread (the torch thread) until every rank has joined or the timeout
// passed; a failure is rethrown as std::runtime_error naming this rank, the phase and the cause.
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace sdpo::dist {

struct GroupOptions {
  int rank = 0;
  int world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string backend = "gloo";  // "gloo" | "nccl"
  std::chrono::milliseconds timeout{600000};
  // torchrun's agent already serves the TCPStore at MASTER_ADDR:MASTER_PORT
  // (TORCHELASTIC_USE_AGENT_STORE=True): every rank is then a client; otherwise rank 0 serves it.
  bool agent_store = false;
  // nccl: the CUDA device of this rank (LOCAL_RANK); its tensors and the model's live there.
  int device_index = 0;
};

// Which backends this build of the addon carries (compile-time: gloo headers / NCCL in the libtorch).
bool glooAvailable();
bool ncclAvailable();

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual const GroupOptions& options() const = 0;
  // In-place sum of every tensor over all ranks (one collective for the list; tensors on the
  // backend's device: CPU for gloo, CUDA for nccl). `phase` names the caller in errors.
  virtual void allReduceSum(std::vector<torch::Tensor>& tensors, const std::string& phase) = 0;
  // Tears the connections down; later collectives throw.
  virtual void shutdown() = 0;
};

// Opens the process group (rendezvous: blocks until all ranks arrived or the timeout passed), once per
// process: a second call with the same options returns the same group, with other options throws.
std::shared_ptr<ProcessGroup> initProcessGroup(const GroupOptions& options);
// The open group, or nullptr.
std::shared_ptr<ProcessGroup> currentProcessGroup();
// Closes the open group (if any); a later initProcessGroup opens a new one.
void destroyProcessGroup();

}  // namespace sdpo::dist
