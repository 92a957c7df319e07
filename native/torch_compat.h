// The few places where libtorch 1.13 (Debian) and 2.x differ.
#pragma once
#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
#define SDPO_TORCH2 1
#else
#define SDPO_TORCH2 0
#endif
