// Promise-returning native calls that run off the event loop, on the torch thread (torch_thread.h).
//
// `work` runs on the torch thread and must not touch N-API; `finish` runs back on the JS thread and
// builds the resolved value. Any exception from either rejects the promise: nothing thrown on the
// torch thread can reach Node.
//
// The environment that made a call may end before the call does (a worker thread terminated mid-step):
// Node then frees the call's thread-safe function. A cleanup hook, registered after the function so that
// it runs before Node's own teardown of it, marks the call orphaned under a lock the torch thread takes
// to signal; an orphaned call finishes its work and touches nothing of the environment (measured: without
// this, napi_call_threadsafe_function aborted on the freed function's mutex).
#pragma once
#include <napi.h>

#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "binding/errors.h"
#include "binding/torch_thread.h"

namespace sdpo {

class PromiseWorker {
 public:
  using Work = std::function<void()>;
  using Finish = std::function<Napi::Value(Napi::Env)>;

  // `keepAlive`: JS values (typed arrays whose memory `work` reads, the wrapping object)
  // held until the promise settles, so the GC cannot free them mid-flight.
  static Napi::Promise run(Napi::Env env, const char* name, Work work, Finish finish,
                           const std::vector<Napi::Value>& keepAlive = {}) {
    auto* call = new PromiseWorker(env, std::move(work), std::move(finish));
    for (const auto& v : keepAlive) {
      if (v.IsObject()) call->keepAlive_.push_back(Napi::Persistent(v.As<Napi::Object>()));
    }
    Napi::Promise promise = call->deferred_.Promise();
    // The thread-safe function wakes the JS thread when the work is done, and keeps the event loop
    // alive until then (as a pending libuv work item would).
    call->done_ = Done::New(env, name, 0, 1);
    call->lifetime_ = std::make_shared<Lifetime>();
    call->hook_arg_ = new std::shared_ptr<Lifetime>(call->lifetime_);
    napi_add_env_cleanup_hook(env, &PromiseWorker::envEnding, call->hook_arg_);
    postToTorchThread([call] {
      try {
        call->work_();
      } catch (...) {
        call->error_ = std::current_exception();
      }
      // Copies: `settle` deletes `call` on the JS thread, maybe before BlockingCall returns here.
      Done done = call->done_;
      std::shared_ptr<Lifetime> lifetime = call->lifetime_;
      std::lock_guard<std::mutex> lock(lifetime->mutex);
      if (!lifetime->env_alive) return;  // orphaned: the environment is gone, and `call` with it
      done.BlockingCall(call);
      done.Release();
    });
    return promise;
  }

 private:
  struct Lifetime {
    std::mutex mutex;
    bool env_alive = true;
  };

  // Env cleanup hook: the environment is ending while this call is in flight.
  static void envEnding(void* arg) {
    auto* lifetime = static_cast<std::shared_ptr<Lifetime>*>(arg);
    {
      std::lock_guard<std::mutex> lock((*lifetime)->mutex);  // waits out a signal in progress
      (*lifetime)->env_alive = false;
    }
    delete lifetime;
  }

  static void settle(Napi::Env env, Napi::Function, std::nullptr_t*, PromiseWorker* call) {
    if (call == nullptr) return;
    if (static_cast<napi_env>(env) == nullptr) {
      // The environment is being torn down (its cleanup hook has run): no JS left to settle; its
      // references die with it.
      for (auto& ref : call->keepAlive_) ref.SuppressDestruct();
      delete call;
      return;
    }
    napi_remove_env_cleanup_hook(env, &PromiseWorker::envEnding, call->hook_arg_);
    delete call->hook_arg_;
    Napi::HandleScope scope(env);
    try {
      if (call->error_) {
        call->deferred_.Reject(makeJsError(env, call->error_).Value());
      } else {
        call->deferred_.Resolve(call->finish_ ? call->finish_(env) : env.Undefined());
      }
    } catch (...) {
      try {
        call->deferred_.Reject(makeJsError(env, std::current_exception()).Value());
      } catch (...) {
        // Rejecting failed too (out of memory in V8): nothing more can be reported.
      }
    }
    delete call;
  }

  using Done = Napi::TypedThreadSafeFunction<std::nullptr_t, PromiseWorker, &PromiseWorker::settle>;

  PromiseWorker(Napi::Env env, Work work, Finish finish)
      : deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)), finish_(std::move(finish)) {}

  Napi::Promise::Deferred deferred_;
  Work work_;
  Finish finish_;
  std::exception_ptr error_;
  std::vector<Napi::ObjectReference> keepAlive_;
  Done done_;
  std::shared_ptr<Lifetime> lifetime_;
  std::shared_ptr<Lifetime>* hook_arg_ = nullptr;  // owned by the cleanup hook until it runs or is removed
};

}  // namespace sdpo
