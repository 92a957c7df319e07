// Errors of bad arguments, thrown by the native core (ops, model, train, distributed) and known to nothing but
// the C++ standard library: the binding (binding/errors.h) turns them into JS TypeError / RangeError, and
// every other exception (std::exception, c10::Error) into a JS Error.
#pragma once
#include <stdexcept>

namespace sdpo {

// Wrong type of argument (not a typed array, wrong dtype, mixed dtypes, ...): JS TypeError.
struct TypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Right type, wrong value (length, range, NaN, K = 0, ids out of vocabulary, ...): JS RangeError.
struct RangeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace sdpo
