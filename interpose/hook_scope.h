// Every wrapper opens a HookScope. Calls made while another wrapper on the
// same thread is active (cudaMalloc -> cuMemAlloc_v2 inside the runtime, our
// own cuMemGetInfo at a failure) are passed through unrecorded, so each
// allocation is counted once, under the API the application called.
#pragma once

#include <cerrno>

namespace oomtrace::interpose {

// initial-exec: no __tls_get_addr call (which may allocate) on the hot path.
inline thread_local int tls_hook_depth __attribute__((tls_model("initial-exec"))) = 0;

class HookScope {
 public:
  HookScope() { ++tls_hook_depth; }
  ~HookScope() { --tls_hook_depth; }
  HookScope(const HookScope&) = delete;
  HookScope& operator=(const HookScope&) = delete;

  bool outermost() const { return tls_hook_depth == 1; }
};

// Recording may touch files; the host program must see the errno the real
// call left.
class ErrnoKeeper {
 public:
  ErrnoKeeper() : saved_(errno) {}
  ~ErrnoKeeper() { errno = saved_; }
  ErrnoKeeper(const ErrnoKeeper&) = delete;
  ErrnoKeeper& operator=(const ErrnoKeeper&) = delete;

 private:
  int saved_;
};

}  // namespace oomtrace::interpose
