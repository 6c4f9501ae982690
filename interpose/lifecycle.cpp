// Start and end of the traced process. Loading the library does nothing
// visible: no file, no handler, no CUDA call until the first allocation.
#include <pthread.h>

#include "interpose/recorder.h"

namespace {

__attribute__((constructor)) void oomtrace_on_load() {
  pthread_atfork(&oomtrace::interpose::prepare_fork, &oomtrace::interpose::after_fork_in_parent,
                 &oomtrace::interpose::after_fork_in_child);
}

// Destructors of preloaded libraries run after every atexit handler, so the
// frees a framework makes while shutting down are in the trace first.
__attribute__((destructor)) void oomtrace_on_unload() {
  oomtrace::interpose::finish_recording("exit");
}

}  // namespace
