#include "binding/torch_thread.h"

#include <ATen/Parallel.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include <pthread.h>

namespace sdpo {
namespace {

std::atomic<int> requestedThreads{0};  // 0: never set, libtorch's default

// Held while a job runs, and by a thread that forks (pthread_atfork). OpenBLAS shuts its thread pool
// down before every fork(); with a product in flight on the torch thread that left the product waiting
// forever for workers that were gone (measured: a worker thread's spawnSync during a training step).
// A fork now waits for the running job to end, and no job starts until the fork is done.
std::mutex& jobMutex() {
  static std::mutex* mutex = new std::mutex();  // leaked: fork handlers may run during exit
  return *mutex;
}
thread_local bool onTorchThread = false;  // a job that forked would wait for itself
thread_local bool lockedForFork = false;
void lockForFork() {
  if (onTorchThread) return;
  jobMutex().lock();
  lockedForFork = true;
}
void unlockAfterFork() {
  if (!lockedForFork) return;
  lockedForFork = false;
  jobMutex().unlock();
}

class TorchThread {
 public:
  TorchThread() {
    // Registered after OpenBLAS's handlers (it was loaded first), so ours run before them at a fork.
    pthread_atfork(lockForFork, unlockAfterFork, unlockAfterFork);
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
    onTorchThread = true;
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [this] { return !jobs_.empty(); });
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      std::lock_guard<std::mutex> running(jobMutex());
      // Only on a change: at::set_num_threads also rebuilds libtorch's pthreadpool (new threads).
      const int wanted = requestedThreads.load();
      if (wanted > 0 && wanted != appliedThreads) {
        at::set_num_threads(wanted);
        appliedThreads = wanted;
      }
      job();
    }
  }

  int appliedThreads = 0;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
};

}  // namespace

void setIntraOpThreads(int n) {
  at::set_num_threads(n);
  requestedThreads.store(n);
}

void postToTorchThread(std::function<void()> job) {
  // Leaked on purpose: a static's destructor would run at exit while the thread may still be in a job.
  static TorchThread* thread = new TorchThread();
  thread->post(std::move(job));
}

}  // namespace sdpo
