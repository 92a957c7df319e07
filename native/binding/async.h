// Promise-returning native calls that run off the event loop (libuv thread pool).
//
// `work` runs on a worker thread and must not touch N-API; `finish` runs back on the JS
// thread and builds the resolved value. Any exception from either rejects the promise:
// nothing thrown on the worker thread can reach Node.
#pragma once
#include <napi.h>

#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "binding/errors.h"

namespace sdpo {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Finish = std::function<Napi::Value(Napi::Env)>;

  // `keepAlive`: JS values (typed arrays whose memory `work` reads, the wrapping object)
  // held until the promise settles, so the GC cannot free them mid-flight.
  static Napi::Promise run(Napi::Env env, const char* name, Work work, Finish finish,
                           const std::vector<Napi::Value>& keepAlive = {}) {
    auto* worker = new PromiseWorker(env, name, std::move(work), std::move(finish));
    for (const auto& v : keepAlive) {
      if (v.IsObject()) worker->keepAlive_.push_back(Napi::Persistent(v.As<Napi::Object>()));
    }
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    try {
      work_();
    } catch (...) {
      error_ = std::current_exception();
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (error_) {
      deferred_.Reject(makeJsError(env, error_).Value());
      return;
    }
    try {
      deferred_.Resolve(finish_ ? finish_(env) : env.Undefined());
    } catch (...) {
      deferred_.Reject(makeJsError(env, std::current_exception()).Value());
    }
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  PromiseWorker(Napi::Env env, const char* name, Work work, Finish finish)
      : Napi::AsyncWorker(env, name),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        finish_(std::move(finish)) {}

  Napi::Promise::Deferred deferred_;
  Work work_;
  Finish finish_;
  std::exception_ptr error_;
  std::vector<Napi::ObjectReference> keepAlive_;
};

}  // namespace sdpo
