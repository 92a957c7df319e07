// The one thread every asynchronous native call runs on.
//
// Why one thread, not libuv's pool: glibc gives each thread its own malloc arena and keeps a thread's
// freed tensors cached there. Steps that hop between libuv's four pool threads left four arenas of
// cached activations behind: `sdpo bench` peaked at ~750 MB instead of ~475 MB (K = 3, measured).
// Running every step on one thread reuses one arena, and keeps libtorch's thread-local state (grad
// mode, CUDA device and stream) the same from call to call. Calls run one at a time, in the order
// they were made: they would compete for the same cores anyway.
#pragma once
#include <functional>

namespace sdpo {

// Queues `job` on the torch thread (started on first use, then kept until the process exits).
// `job` must not throw and must not touch N-API; it may run after the caller returned.
void postToTorchThread(std::function<void()> job);

// at::set_num_threads for the calling thread and, before its next job, the torch thread (OpenMP's
// thread count is per thread). Every change of the count goes through here.
void setIntraOpThreads(int n);

}  // namespace sdpo
