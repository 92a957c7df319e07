// Promise-returning native calls that run off the event loop, on the torch thread (torch_thread.h).
//
// `work` runs on the torch thread and must not touch N-API; `finish` runs back on the JS thread and
// builds the resolved value. Any exception from either rejects the promise: nothing thrown on the
// torch thread can reach Node.
#pragma once
#include <napi.h>

#include <exception>
#include <functional>
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
    postToTorchThread([call] {
      try {
        call->work_();
      } catch (...) {
        call->error_ = std::current_exception();
      }
      // `settle` deletes `call` on the JS thread, maybe before BlockingCall returns here.
      Done done = call->done_;
      done.BlockingCall(call);
      done.Release();
    });
    return promise;
  }

 private:
  static void settle(Napi::Env env, Napi::Function, std::nullptr_t*, PromiseWorker* call) {
    if (call == nullptr) return;
    if (static_cast<napi_env>(env) == nullptr) {
      // The environment is being torn down: no JS left to settle; its references die with it.
      for (auto& ref : call->keepAlive_) ref.SuppressDestruct();
      delete call;
      return;
    }
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
};

}  // namespace sdpo
