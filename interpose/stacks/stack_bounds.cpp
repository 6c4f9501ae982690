#include "interpose/stacks/stack_bounds.h"

#include <pthread.h>

namespace oomtrace::interpose::stacks {
namespace {

// initial-exec: read on every stack taken, so no __tls_get_addr call.
thread_local StackBounds tls_stack_bounds __attribute__((tls_model("initial-exec")));

}  // namespace

StackBounds this_thread_stack() {
  if (tls_stack_bounds.high != 0) return tls_stack_bounds;
  pthread_attr_t attributes;
  if (pthread_getattr_np(pthread_self(), &attributes) != 0) return {};
  void* low = nullptr;
  size_t size = 0;
  if (pthread_attr_getstack(&attributes, &low, &size) == 0) {
    tls_stack_bounds = {reinterpret_cast<uintptr_t>(low), reinterpret_cast<uintptr_t>(low) + size};
  }
  pthread_attr_destroy(&attributes);
  return tls_stack_bounds;
}

}  // namespace oomtrace::interpose::stacks
