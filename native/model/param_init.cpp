// ParamInit (config.h): every parameter of the decoder is allocated here, so a failed allocation names it.
#include <cstdio>
#include <new>
#include <stdexcept>
#include <string>

#include "model/config.h"

namespace sdpo::model {
namespace {

const char* dtypeName(c10::ScalarType t) {
  switch (t) {
    case c10::ScalarType::Float: return "float32";
    case c10::ScalarType::Double: return "float64";
    case c10::ScalarType::BFloat16: return "bfloat16";
    case c10::ScalarType::Half: return "float16";
    default: return c10::toString(t);
  }
}

std::string describe(const std::string& name, at::IntArrayRef shape, const torch::TensorOptions& options) {
  double bytes = static_cast<double>(c10::elementSize(c10::typeMetaToScalarType(options.dtype())));
  std::string dims;
  for (size_t i = 0; i < shape.size(); ++i) {
    dims += (i ? ", " : "") + std::to_string(shape[i]);
    bytes *= static_cast<double>(shape[i]);
  }
  char size[32];
  std::snprintf(size, sizeof size, "%.3g GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  return "parameter '" + name + "' [" + dims + "] " + dtypeName(c10::typeMetaToScalarType(options.dtype())) +
         " (" + size + ") on " + options.device().str();
}

torch::Tensor allocate(const ParamInit& init, const char* name, at::IntArrayRef shape) {
  const std::string full = init.prefix + name;
  try {
    return torch::empty(shape, init.options);
  } catch (const std::bad_alloc&) {
    throw std::runtime_error("out of memory allocating " + describe(full, shape, init.options));
  } catch (const c10::Error& e) {
    const std::string message = e.what_without_backtrace();
    const bool memory = message.find("allocate") != std::string::npos;
    throw std::runtime_error(std::string(memory ? "out of memory allocating " : "allocating ") + describe(full, shape, init.options) +
                             ": " + message);
  }
}

}  // namespace

torch::Tensor ParamInit::normal(const char* name, at::IntArrayRef shape, double std) const {
  torch::Tensor t = allocate(*this, name, shape);
  return random ? t.normal_(0.0, std) : t.zero_();
}

torch::Tensor ParamInit::filled(const char* name, at::IntArrayRef shape, double value) const {
  return allocate(*this, name, shape).fill_(value);
}

}  // namespace sdpo::model
