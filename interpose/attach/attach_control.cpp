// The library's side of `oomtrace attach` and `oomtrace detach`.
//
// The injector borrows one thread of the program for two calls: dlopen of
// this library, then oomtrace_attach_begin, which only copies its options
// and starts a thread of the library's own. Everything else (the baseline,
// patching the GOT, CUPTI, the Python bridge) runs on that thread, never on
// the borrowed one, which may be anywhere in the program.
//
// The command and the thread talk through oomtrace_attach_control
// (attach_control_block.h): the thread publishes its state there and polls
// the command's requests. Detach restores every patched slot, stops CUPTI
// and the bridge, and writes the report; the library stays loaded (a
// wrapper pointer handed out while attached may still be called, and then
// passes straight through), and a later attach starts a new trace.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>
#include <ctime>
#include <pthread.h>
#include <string>
#include <unistd.h>
#include <vector>

#include "interpose/attach/attach_baseline.h"
#include "interpose/attach/attach_control_block.h"
#include "interpose/attach/attach_options.h"
#include "interpose/attach/cupti_subscriber.h"
#include "interpose/attach/got_patching.h"
#include "interpose/attach/python_attach.h"
#include "interpose/diagnostics.h"
#include "interpose/export.h"
#include "interpose/hook_table.h"
#include "interpose/recorder.h"

extern "C" {
__attribute__((visibility("default"))) oomtrace::AttachControlBlock oomtrace_attach_control = {
    {'O', 'O', 'M', 'A', 'T', 'T', '0', '1'}, 0, 0, 0, 0, {}, {}};
}

namespace oomtrace::interpose {
namespace {

AttachControlBlock& control() { return oomtrace_attach_control; }

void publish_state(AttachState state) {
  __atomic_store_n(&control().state, static_cast<uint32_t>(state), __ATOMIC_RELEASE);
}

AttachState current_state() {
  return static_cast<AttachState>(__atomic_load_n(&control().state, __ATOMIC_ACQUIRE));
}

AttachRequest pending_request() {
  return static_cast<AttachRequest>(__atomic_load_n(&control().request, __ATOMIC_ACQUIRE));
}

void copy_text(char* out, size_t capacity, const std::string& text) {
  size_t length = std::min(text.size(), capacity - 1);
  std::memcpy(out, text.data(), length);
  out[length] = '\0';
}

uint64_t unix_ns() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec);
}

std::vector<trace::AttachPath> describe_paths(const GotPatchSummary& got, const CuptiCoverage& cupti,
                                              const PythonBridgeOutcome& python) {
  std::vector<trace::AttachPath> paths;
  paths.push_back({"got", true,
                   "calls through the import tables (PLT/GOT): " + std::to_string(got.slots) +
                       " slots patched in " + std::to_string(got.modules) + " modules"});
  paths.push_back({"dlopen", true, "modules loaded after attach are patched when dlopen returns"});
  paths.push_back({"cupti", cupti.active, cupti.detail});
  paths.push_back(
      {"resolved_before_attach", cupti.active,
       cupti.active ? "driver functions resolved before attach (cudart's table, cuGetProcAddress "
                      "or dlsym pointers) are seen through CUPTI"
                    : "driver functions resolved before attach (cudart's table, cuGetProcAddress "
                      "or dlsym pointers) are not seen: their allocations show only as memory the "
                      "device reports used"});
  if (python.python_present) paths.push_back({"pytorch_bridge", python.started, python.detail});
  return paths;
}

std::string summarize(const std::vector<trace::AttachPath>& paths) {
  std::string covered;
  std::string missing;
  for (const trace::AttachPath& path : paths) {
    std::string& list = path.covered ? covered : missing;
    list += (list.empty() ? "" : ", ") + path.name;
  }
  return "covered: " + covered + (missing.empty() ? "" : "; not covered: " + missing);
}

// The process as NVML names it: its own pid, and the pid the command saw,
// which differs when the process runs in a PID namespace (NVML reports pids
// of the host's namespace, where the command usually runs).
std::vector<uint32_t> pids_of_this_process(const AttachOptions& options) {
  std::vector<uint32_t> pids{static_cast<uint32_t>(getpid())};
  if (options.outer_pid != 0) pids.push_back(options.outer_pid);
  return pids;
}

bool start(const AttachOptions& options) {
  std::string trace_path;
  if (!start_attached_recording(options.output_dir, &trace_path)) {
    copy_text(control().message, sizeof control().message,
              "cannot start a trace in " + options.output_dir +
                  " (the library already records this process, or the folder is not writable)");
    return false;
  }
  copy_text(control().trace_path, sizeof control().trace_path, trace_path);
  trace::AttachInfo attach;
  attach.unix_ns = unix_ns();
  if (options.outer_pid != static_cast<uint32_t>(getpid())) attach.outer_pid = options.outer_pid;
  attach.devices = measure_attach_baseline(pids_of_this_process(options));
  resolve_all_real_functions();
  set_patching_new_modules(true);
  GotPatchSummary got = patch_loaded_modules();
  CuptiCoverage cupti = start_cupti_driver_callbacks();
  PythonBridgeOutcome python;
  if (!options.python_dir.empty()) python = start_python_bridge(options.python_dir);
  attach.paths = describe_paths(got, cupti, python);
  record_attach(attach);
  // Every path is in place: from here each call is seen whole.
  resume_attached_recording();
  copy_text(control().message, sizeof control().message, summarize(attach.paths));
  return true;
}

// The trace ends first, then the paths are taken down: taking them down one
// slot at a time while still recording would record half of some calls.
void stop() {
  stop_python_bridge();
  finish_recording("detach");
  set_patching_new_modules(false);
  restore_patched_slots();
  stop_cupti_driver_callbacks();
}

// How often the thread looks for a request. A detach waits at most this
// long; the thread costs the process one wake-up per interval.
constexpr timespec kPollInterval = {0, 50 * 1000 * 1000};

void* attach_thread(void* raw_options) {
  AttachOptions options = *static_cast<AttachOptions*>(raw_options);
  delete static_cast<AttachOptions*>(raw_options);
  if (!start(options)) {
    publish_state(AttachState::Failed);
    return nullptr;
  }
  publish_state(AttachState::Attached);
  while (pending_request() != AttachRequest::Detach) {
    nanosleep(&kPollInterval, nullptr);
    // Modules a program loads without dlopen from a patched module (the
    // loader's own dependencies of a dlopen()ed library are patched at
    // that dlopen; this catches what slipped past) are patched here.
    patch_loaded_modules();
  }
  publish_state(AttachState::Detaching);
  stop();
  __atomic_store_n(&control().request, static_cast<uint32_t>(AttachRequest::None), __ATOMIC_RELEASE);
  publish_state(AttachState::Detached);
  return nullptr;
}

// A forked child inherits the block saying "attached" but not the thread
// that would answer a detach: it records on its own (its import tables are
// the parent's, patched), and a detach of the child must be refused, not
// wait for nobody.
void forget_attach_in_child() {
  __atomic_store_n(&control().request, static_cast<uint32_t>(AttachRequest::None), __ATOMIC_RELAXED);
  publish_state(AttachState::Loaded);
}

// The thread blocks every signal, so the program's signal routing stays as
// it was: a signal meant for the process never lands on our thread.
bool start_attach_thread(AttachOptions* options) {
  static pthread_once_t fork_handler_once = PTHREAD_ONCE_INIT;
  pthread_once(&fork_handler_once, [] { pthread_atfork(nullptr, nullptr, &forget_attach_in_child); });
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  int error = pthread_create(&thread, &attributes, &attach_thread, options);
  pthread_attr_destroy(&attributes);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return error == 0;
}

}  // namespace
}  // namespace oomtrace::interpose

// Runs on the borrowed thread: copy the options, start the thread, return.
// 0: started; 1: already attached or starting; 2: bad options; 3: no thread.
OOMTRACE_EXPORT int oomtrace_attach_begin(const char* options_text) {
  using namespace oomtrace;
  using namespace oomtrace::interpose;
  AttachState state = current_state();
  if (state == AttachState::Starting || state == AttachState::Attached ||
      state == AttachState::Detaching) {
    return 1;
  }
  auto* options = new AttachOptions;
  if (!options_text || !parse_attach_options(options_text, *options)) {
    delete options;
    return 2;
  }
  __atomic_store_n(&control().request, static_cast<uint32_t>(AttachRequest::None), __ATOMIC_RELEASE);
  __atomic_add_fetch(&control().generation, 1, __ATOMIC_ACQ_REL);
  publish_state(AttachState::Starting);
  if (!start_attach_thread(options)) {
    delete options;
    publish_state(AttachState::Failed);
    return 3;
  }
  return 0;
}
