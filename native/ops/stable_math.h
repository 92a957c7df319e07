// Overflow-free scalar helpers shared by the fused CPU loops.
#pragma once
#include <cmath>

namespace sdpo::ops {

// softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|): finite for every finite x.
template <typename T>
inline T stableSoftplus(T x) {
  return std::max(x, T(0)) + std::log1p(std::exp(-std::abs(x)));
}

// 1 / (1 + e^-x) without overflowing e^-x for very negative x.
template <typename T>
inline T stableSigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

}  // namespace sdpo::ops
