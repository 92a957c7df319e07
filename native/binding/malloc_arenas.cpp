// Caps glibc's malloc arenas when the addon loads.
//
// Why: every long native call runs on one of libuv's pool threads, a different one from call to call,
// and glibc gives each thread its own arena; the freed tensors of a training step stay cached in the
// arena of the thread that ran it. With 4 pool threads plus the OpenMP workers a full fine-tuning run
// of `sdpo bench` grew from ~460 MB to ~850 MB peak RSS over 8 steps (measured, MALLOC_ARENA_MAX=2:
// flat at ~470 MB). Capping the arenas makes the threads share (and so reuse) the cached memory.
//
// SDPO_MALLOC_ARENA_MAX=<n> picks the cap (0: leave glibc's default); MALLOC_ARENA_MAX set by the
// user is respected as is. Arenas created before the addon loaded keep working (the cap applies to
// new ones). Not glibc: nothing to do.
#include <napi.h>

#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "binding/registry.h"

namespace sdpo {
namespace {

constexpr int kDefaultArenaMax = 2;

void capMallocArenas(Napi::Env, Napi::Object) {
#if defined(__GLIBC__)
  if (std::getenv("MALLOC_ARENA_MAX")) return;  // the user's choice, already read by glibc
  int cap = kDefaultArenaMax;
  if (const char* value = std::getenv("SDPO_MALLOC_ARENA_MAX")) cap = std::atoi(value);
  if (cap > 0) mallopt(M_ARENA_MAX, cap);
#endif
}

}  // namespace

SDPO_REGISTER_BINDING(malloc_arenas, capMallocArenas);

}  // namespace sdpo
