#include "binding/blas_threads.h"

#if defined(__linux__)
#include <dlfcn.h>
#endif

namespace sdpo {

std::string blasThreading() {
#if defined(__linux__)
  // libtorch was loaded with the addon, so its BLAS is already mapped: look it up without loading
  // anything. Debian's libtorch links the generic libblas.so.3 (an alternatives link to OpenBLAS).
  for (const char* soname : {"libblas.so.3", "libopenblas.so.0"}) {
    void* lib = dlopen(soname, RTLD_LAZY | RTLD_NOLOAD);
    if (lib == nullptr) continue;
    using GetParallel = int (*)();
    auto getParallel = reinterpret_cast<GetParallel>(dlsym(lib, "openblas_get_parallel"));
    int parallel = getParallel ? getParallel() : -1;
    dlclose(lib);  // drops the reference NOLOAD took; the library stays mapped
    switch (parallel) {
      case 0: return "openblas-serial";
      case 1: return "openblas-pthreads";
      case 2: return "openblas-openmp";
      default: break;
    }
  }
#endif
  return "other";
}

}  // namespace sdpo
