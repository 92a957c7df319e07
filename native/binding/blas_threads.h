// Which threads libtorch's BLAS runs matrix products on, to choose the intra-op thread count.
#pragma once
#include <string>

namespace sdpo {

// "openblas-pthreads": OpenBLAS with its own pool of pthreads (Debian's libopenblas0-pthread);
// "openblas-openmp", "openblas-serial"; "other": not OpenBLAS (MKL in PyTorch's libtorch, reference BLAS).
std::string blasThreading();

}  // namespace sdpo
