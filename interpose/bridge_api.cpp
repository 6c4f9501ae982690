// What the framework bridges (interpose/python/) call through ctypes: where
// the trace is, a file to attach to it (a PyTorch memory snapshot saved at an
// out-of-memory), a note on what the bridge could not do, and a framework's
// own out-of-memory message (CuPy and JAX raise theirs in Python, where no
// C++ hook sees them). Not a public API: the
// names carry "bridge" and may change with the bridge.
#include <string>

#include "interpose/export.h"
#include "interpose/hook_scope.h"
#include "interpose/recorder.h"

using namespace oomtrace::interpose;

// Copies the path into the caller's buffer; returns its length, 0 when no
// trace is open (or the buffer is too small).
OOMTRACE_EXPORT size_t oomtrace_bridge_trace_path(char* buffer, size_t capacity) {
  ErrnoKeeper keep_errno;
  std::string path = current_trace_path();
  if (path.empty() || !buffer || path.size() + 1 > capacity) return 0;
  path.copy(buffer, path.size());
  buffer[path.size()] = '\0';
  return path.size();
}

OOMTRACE_EXPORT void oomtrace_bridge_attachment(const char* kind, const char* path) {
  if (!kind || !path) return;
  ErrnoKeeper keep_errno;
  try {
    record_attachment(kind, path);
  } catch (...) {
  }
}

OOMTRACE_EXPORT void oomtrace_bridge_note(const char* note) {
  if (!note) return;
  ErrnoKeeper keep_errno;
  try {
    record_note(note);
  } catch (...) {
  }
}

OOMTRACE_EXPORT void oomtrace_bridge_framework_error(const char* framework, const char* message) {
  if (!framework || !message) return;
  ErrnoKeeper keep_errno;
  try {
    record_framework_error(framework, message);
  } catch (...) {
  }
}
