#include "binding/torch_thread.h"

#include <ATen/Parallel.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#if defined(__linux__)
#include <pthread.h>
#endif

namespace sdpo {
namespace {

class TorchThread {
 public:
  TorchThread() {
    std::thread([this] { loop(); }).detach();  // never joined: it waits for work until the process exits
  }

  void post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    ready_.notify_one();
  }

 private:
  void loop() {
#if defined(__linux__)
    pthread_setname_np(pthread_self(), "sdpo-torch");
#endif
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [this] { return !jobs_.empty(); });
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      // OpenMP thread counts are per thread: take up what at::set_num_threads last set.
      at::init_num_threads();
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
};

}  // namespace

void postToTorchThread(std::function<void()> job) {
  // Leaked on purpose: a static's destructor would run at exit while the thread may still be in a job.
  static TorchThread* thread = new TorchThread();
  thread->post(std::move(job));
}

}  // namespace sdpo
