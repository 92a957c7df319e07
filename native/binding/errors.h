// Exceptions crossing the N-API boundary.
//
// Native code throws sdpo::TypeError / sdpo::RangeError for bad arguments and plain
// std::exception (or c10::Error from libtorch) for everything else. At the boundary every
// exception becomes a JS error object: nothing is allowed to unwind into Node and abort it.
#pragma once
#include <napi.h>

#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

namespace sdpo {

// Wrong type of argument (not a typed array, wrong dtype, mixed dtypes, ...): JS TypeError.
struct TypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Right type, wrong value (length, range, NaN, K = 0, ids out of vocabulary, ...): JS RangeError.
struct RangeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

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
