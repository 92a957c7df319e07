// Exceptions crossing the N-API boundary.
//
// Native code throws sdpo::TypeError / sdpo::RangeError (argument_errors.h) for bad arguments and plain
// std::exception (or c10::Error from libtorch) for everything else. At the boundary every
// exception becomes a JS error object: nothing is allowed to unwind into Node and abort it.
#pragma once
#include <napi.h>

#include <exception>
#include <string>
#include <utility>

#include "argument_errors.h"

namespace sdpo {

// Converts a caught exception into a JS error (TypeError, RangeError or Error).
Napi::Error makeJsError(Napi::Env env, std::exception_ptr error);

// Runs `fn` for a synchronous binding; any C++ exception is rethrown as a JS exception.
template <class Fn>
Napi::Value guard(Napi::Env env, Fn&& fn) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw makeJsError(env, std::current_exception());
  }
}

// Same for callbacks that return nothing (setters, dispose).
template <class Fn>
void guardVoid(Napi::Env env, Fn&& fn) {
  try {
    fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw makeJsError(env, std::current_exception());
  }
}

}  // namespace sdpo
