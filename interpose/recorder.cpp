#include "interpose/recorder.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <pthread.h>
#include <string>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "interpose/config.h"
#include "interpose/current_device.h"
#include "interpose/diagnostics.h"
#include "interpose/distributed_rank.h"
#include "interpose/event_clock.h"
#include "interpose/failure_model.h"
#include "interpose/failure_probe.h"
#include "interpose/hook_scope.h"
#include "interpose/instance_guard.h"
#include "interpose/native_stack.h"
#include "interpose/process_identity.h"
#include "interpose/recorder_lock.h"
#include "interpose/signal_report.h"
#include "trace/report_hook.h"
#include "trace/writer.h"

namespace oomtrace::interpose {
namespace {

enum class State { Idle, Recording, Finished, Disabled };

constexpr int kMaxDevices = 64;

struct Recorder {
  // Spins briefly before sleeping in the kernel: the lock is held for a few
  // hundred nanoseconds. (With 8 threads allocating on 2 cores, glibc's
  // adaptive mutex took a pair to 1011 ns where a plain one took 1326.)
  RecorderLock lock;
  // Written under the lock; read without it on the hot path to skip work
  // early (config is complete before the state says Recording).
  std::atomic<State> state{State::Idle};
  Config config;
  trace::TraceWriter writer;
  // Up to date only at a failure: the hot path writes records and nothing else.
  FailureModel model;
  StackInterner stacks;
  std::string trace_path;
  EventClock clock;
  uint64_t start_ns = 0;
  // Set under the lock; read without it first, so that the allocations
  // after a device's first take the lock once, not twice.
  std::atomic<bool> device_described[kMaxDevices] = {};
  bool any_failure = false;
  // The thread holding `lock` (0: none): an exit() from a signal handler
  // that interrupted that very thread must not wait for the lock.
  std::atomic<uint32_t> owner{0};
  // Set by `oomtrace attach`: where the trace goes, and no signal handlers.
  bool attached = false;
  // While an attach patches the import tables one slot at a time, a thread
  // could allocate through a slot not yet patched and free through one that
  // is: nothing is recorded until every path is in place.
  std::atomic<bool> paused{false};
  std::string attach_dir;
};

// Never destroyed: hooks may run during exit, after static destructors.
Recorder& recorder() {
  static Recorder* instance = new Recorder;
  return *instance;
}

uint32_t thread_id();

class Locked {
 public:
  explicit Locked(Recorder& r) : r_(r) {
    r_.lock.lock();
    r_.owner.store(thread_id(), std::memory_order_relaxed);
  }
  ~Locked() {
    r_.owner.store(0, std::memory_order_relaxed);
    r_.lock.unlock();
  }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;

 private:
  Recorder& r_;
};

// Nanoseconds since the trace began. Under the lock (event_clock.h).
uint64_t since_start_ns(Recorder& r) { return r.clock.now_ns() - r.start_ns; }

thread_local uint32_t tls_thread_id __attribute__((tls_model("initial-exec"))) = 0;

uint32_t thread_id() {
  if (tls_thread_id == 0) tls_thread_id = static_cast<uint32_t>(syscall(SYS_gettid));
  return tls_thread_id;
}

bool create_trace_file(Recorder& r) {
  // oomtrace.<host>.<pid>, or oomtrace.<host>.rank<R>.<pid> in a distributed
  // job, so that traces copied from every host into one folder sort by rank
  // and never collide.
  std::optional<uint32_t> rank = read_distributed_rank().rank;
  std::string stem = r.config.output_dir + "/oomtrace." + host_name() + "." +
                     (rank ? "rank" + std::to_string(*rank) + "." : std::string()) + std::to_string(getpid());
  // A recycled pid (containers restart at 1) must not clobber an old trace.
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string path = stem + (attempt ? "." + std::to_string(attempt) : "") + ".trace";
    if (r.writer.create(path)) {
      r.trace_path = path;
      return true;
    }
    if (errno != EEXIST) break;
  }
  warn_once(Warning::CannotCreateTrace,
            "cannot create a trace in " + r.config.output_dir + " (" + std::strerror(errno) +
                "); the program runs on untraced. Set OOMTRACE_DIR to a writable folder.");
  return false;
}

void write_preamble(Recorder& r) {
  r.writer.write_process(describe_this_process());
  for (const char* name : allocator_setting_names()) {
    if (const char* value = std::getenv(name)) r.writer.write_setting({name, value});
  }
}

// Under the lock. True when events can be written.
bool ensure_recording(Recorder& r) {
  if (r.state == State::Recording) return true;
  if (r.state != State::Idle) return false;
  r.config = read_config();
  if (r.attached) r.config.output_dir = r.attach_dir;
  warn_all_once(Warning::Config, r.config.problems);
  if (!create_trace_file(r)) {
    r.state = State::Disabled;
    return false;
  }
  r.clock.start(r.config.tsc_clock);
  r.start_ns = r.clock.now_ns();
  r.state = State::Recording;
  write_preamble(r);
  // Handlers installed into a program that is already running could change
  // what it does on a signal; an attached trace cut short stays readable.
  if (!r.attached) arm_signal_report(r.config.cli_path, r.trace_path);
  return true;
}

void stop_if_unhealthy(Recorder& r) {
  if (r.writer.healthy()) return;
  warn_once(Warning::TraceWriteFailed,
            "cannot extend " + r.trace_path + " (" + std::strerror(errno) +
                "); recording stopped, the trace keeps everything up to here.");
  r.writer.abandon();
  r.state = State::Disabled;
}

// Device name and capacity, once per device, asked outside the lock.
void describe_device_once(Recorder& r, int device) {
  if (device < 0 || device >= kMaxDevices) return;
  if (r.device_described[device].load(std::memory_order_relaxed)) return;
  {
    Locked guard(r);
    if (r.state != State::Recording || r.device_described[device].load(std::memory_order_relaxed)) return;
    r.device_described[device].store(true, std::memory_order_relaxed);
  }
  trace::DeviceInfo info = describe_device(device);
  Locked guard(r);
  if (r.state == State::Recording) r.writer.write_device(info);
}

Event make_event(EventType type, Api api, int device, uint64_t address, uint64_t size,
                 uint64_t stream) {
  Event event;
  event.type = type;
  event.api = api;
  event.device = static_cast<int16_t>(device);
  event.address = address;
  event.size = size;
  event.stream = stream;
  event.thread = thread_id();
  return event;
}

void write_event(Recorder& r, Event event, const RawStack* stack) {
  Locked guard(r);
  if (!ensure_recording(r)) return;
  event.time_ns = since_start_ns(r);
  if (stack) event.stack_id = r.stacks.intern(*stack, r.writer);
  // A pool block is written with no device (kHostDevice): every reader
  // takes it from the segment that holds the block, as the model does.
  r.writer.write_event(event);
  stop_if_unhealthy(r);
}

bool wants_stacks(Recorder& r) {
  // Read without the lock: a stale answer costs one stack more or less.
  return r.state == State::Idle || (r.state == State::Recording && r.config.stacks != StackMode::Off);
}

// The stack of an allocation, the configured way. Before the trace is open
// the settings are not read yet: the unwinder, right for any code. A
// failure always gets the unwinder's stack: it is rare and worth the most.
void capture_allocation_stack(Recorder& r, RawStack& stack) {
  if (r.state == State::Recording && r.config.stacks == StackMode::FramePointers) {
    capture_frame_pointer_stack(stack);
  } else if (r.state == State::Recording && r.config.stacks == StackMode::CachedCfi) {
    capture_cfi_stack(stack);
  } else {
    capture_native_stack(stack);
  }
}

// A second copy of the library in the process records nothing (instance_guard.h).
bool accepting(Recorder& r) {
  return (r.state == State::Idle || r.state == State::Recording) &&
         !r.paused.load(std::memory_order_relaxed) && this_instance_records();
}

}  // namespace

void record_allocation(Api api, int device, uint64_t address, uint64_t size, uint64_t stream) {
  Recorder& r = recorder();
  if (!accepting(r)) return;
  RawStack stack;
  bool with_stack = wants_stacks(r);
  if (with_stack) capture_allocation_stack(r, stack);
  write_event(r, make_event(EventType::Alloc, api, device, address, size, stream),
              with_stack ? &stack : nullptr);
  if (device != kHostDevice) describe_device_once(r, device);
}

void record_release(Api api, uint64_t address, uint64_t stream) {
  Recorder& r = recorder();
  if (!accepting(r)) return;
  write_event(r, make_event(EventType::Free, api, kHostDevice, address, 0, stream), nullptr);
}

void record_mapping(uint64_t address, uint64_t size, uint64_t handle) {
  Recorder& r = recorder();
  if (!accepting(r)) return;
  Event event = make_event(EventType::Alloc, Api::cuMemMap, kHostDevice, address, size, 0);
  event.handle = handle;
  write_event(r, event, nullptr);
}

void record_unmapping(uint64_t address, uint64_t size) {
  Recorder& r = recorder();
  if (!accepting(r)) return;
  write_event(r, make_event(EventType::Free, Api::cuMemUnmap, kHostDevice, address, size, 0),
              nullptr);
}

void record_pool_block(Api api, uint64_t address, uint64_t size) {
  Recorder& r = recorder();
  // A block lies inside memory a CUDA call handed out, and that call opened
  // the trace: with none open, no segment could hold the block.
  if (r.state != State::Recording || r.paused.load(std::memory_order_relaxed)) return;
  EventType type = api_is_free(api) ? EventType::Free : EventType::Alloc;
  RawStack stack;
  bool with_stack = type == EventType::Alloc && wants_stacks(r);
  if (with_stack) capture_allocation_stack(r, stack);
  write_event(r, make_event(type, api, kHostDevice, address, size, 0),
              with_stack ? &stack : nullptr);
}

void record_failure(Api api, int device, uint64_t requested, int result, uint64_t stream,
                    uint64_t pool) {
  Recorder& r = recorder();
  if (!accepting(r)) return;
  trace::FailureContext failure;
  failure.event = make_event(EventType::AllocFailed, api, device, 0, requested, stream);
  failure.event.result = result;
  if (device != kHostDevice) {
    probe_device_memory(device, failure);
    probe_processes(device, failure);
    if (api_is_stream_ordered(api)) probe_pool(device, pool, failure);
  }
  RawStack stack;
  capture_native_stack(stack);
  {
    Locked guard(r);
    if (!ensure_recording(r)) return;
    failure.event.time_ns = since_start_ns(r);
    failure.event.stack_id = r.stacks.intern(stack, r.writer);
    // Every record before this one is whole (the lock): the model reads
    // them back and holds what the process held when the call failed.
    if (device != kHostDevice && r.model.catch_up(r.writer)) {
      const DeviceFigures& figures = r.model.memory().device(device);
      failure.process_reserved_bytes = figures.reserved_bytes;
      failure.process_segments = figures.segment_count;
    }
    r.writer.write_failure(failure);
    r.any_failure = true;
    stop_if_unhealthy(r);
  }
  if (device != kHostDevice) describe_device_once(r, device);
}

void record_framework_error(const std::string& framework, const std::string& message) {
  Recorder& r = recorder();
  if (!accepting(r)) return;
  Locked guard(r);
  // A framework can fail before any CUDA call did (PyTorch's memory
  // fraction): the error alone is worth a trace.
  if (!ensure_recording(r)) return;
  trace::FrameworkError error;
  error.time_ns = since_start_ns(r);
  error.thread = thread_id();
  error.framework = framework;
  // Bounded: a record must stay far below the reader's limit.
  error.message = message.substr(0, 64 << 10);
  r.writer.write_framework_error(error);
  r.any_failure = true;
  stop_if_unhealthy(r);
}

void record_attachment(const std::string& kind, const std::string& path) {
  Recorder& r = recorder();
  Locked guard(r);
  if (r.state != State::Recording) return;
  trace::Attachment attachment;
  attachment.time_ns = since_start_ns(r);
  attachment.kind = kind.substr(0, 256);
  attachment.path = path.substr(0, 4096);
  r.writer.write_attachment(attachment);
  stop_if_unhealthy(r);
}

void record_note(const std::string& note) {
  Recorder& r = recorder();
  // Notes count while an attach is paused: the bridge speaks then.
  if ((r.state != State::Idle && r.state != State::Recording) || !this_instance_records()) return;
  Locked guard(r);
  // The bridge speaks at CUDA's lazy initialisation, before the first
  // allocation opens the trace: what it could not do is worth one.
  if (!ensure_recording(r)) return;
  r.writer.write_note(note.substr(0, 4096));
  stop_if_unhealthy(r);
}

namespace {

// Back to a recorder that has seen nothing, as a forked child's is.
void forget_everything(Recorder& r) {
  r.writer.reset();
  r.model.reset();
  r.stacks.clear();
  r.trace_path.clear();
  for (auto& described : r.device_described) described.store(false, std::memory_order_relaxed);
  r.any_failure = false;
  r.state = State::Idle;
}

}  // namespace

bool start_attached_recording(const std::string& dir, std::string* trace_path) {
  Recorder& r = recorder();
  if (!this_instance_records()) return false;
  Locked guard(r);
  if (r.state == State::Recording) return false;
  // Each attach after a detach is a trace of its own.
  if (r.state != State::Idle) forget_everything(r);
  r.attached = true;
  r.attach_dir = dir;
  r.paused.store(true, std::memory_order_relaxed);
  if (!ensure_recording(r)) {
    r.paused.store(false, std::memory_order_relaxed);
    return false;
  }
  r.any_failure = false;
  if (trace_path) *trace_path = r.trace_path;
  return true;
}

void resume_attached_recording() { recorder().paused.store(false, std::memory_order_release); }

void record_attach(const trace::AttachInfo& attach) {
  Recorder& r = recorder();
  Locked guard(r);
  if (r.state != State::Recording) return;
  trace::AttachInfo stamped = attach;
  stamped.time_ns = since_start_ns(r);
  r.writer.write_attach(stamped);
  stop_if_unhealthy(r);
}

std::string current_trace_path() {
  Recorder& r = recorder();
  Locked guard(r);
  return r.state == State::Recording ? r.trace_path : std::string{};
}

namespace {

// Writes the trailer if no thread holds the recorder, without waiting,
// locking or allocating: for signal handlers and exits that interrupted a
// hook. Otherwise the trace stays without a trailer, which readers accept
// as "ended abruptly".
// With the lock held and the trace open: the trailer, and no more records.
void write_trailer(Recorder& r, const char* reason) {
  trace::Trailer trailer;
  trailer.events = r.writer.events_written();
  trailer.end_time_ns = since_start_ns(r);
  trailer.exit_reason = reason;
  r.writer.finish(trailer);
  r.state = State::Finished;
}

void finish_without_blocking(Recorder& r, const char* reason) {
  if (!r.lock.try_lock()) return;
  if (r.state == State::Recording) write_trailer(r, reason);
  r.lock.unlock();
}

}  // namespace

void finish_recording(const char* reason) {
  Recorder& r = recorder();
  // exit() called from a signal handler that interrupted this thread inside
  // a hook, which may hold the recorder's lock or malloc's: waiting for the
  // lock or allocating here would hang the exit. Take the signal path: the
  // trailer if the lock is free, the report from a child process.
  if (tls_hook_depth > 0 || r.owner.load(std::memory_order_relaxed) == thread_id()) {
    finish_without_blocking(r, reason);
    write_report_out_of_process();
    return;
  }
  std::string path;
  bool quiet = false;
  bool any_failure = false;
  {
    Locked guard(r);
    if (r.state != State::Recording) return;
    write_trailer(r, reason);
    path = r.trace_path;
    quiet = r.config.quiet;
    any_failure = r.any_failure;
  }
  disarm_signal_report();
  trace::ReportWriter writer = trace::report_writer();
  std::string error;
  if (!writer || !writer(path, &error)) {
    warn_once(Warning::ReportFailed, "no report written for " + path + ": " + error +
                                         " (read the trace with: oomtrace report " + path + ")");
    return;
  }
  std::string stem = path.substr(0, path.size() - std::strlen(".trace"));
  if (any_failure && !quiet) {
    inform("CUDA out of memory recorded; report: " + stem + ".report.txt");
  }
}

void finish_recording_from_signal(int signal_number) {
  // The interrupted thread may hold the lock: then no trailer.
  finish_without_blocking(recorder(), signal_exit_reason(signal_number));
}

void prepare_fork() { recorder().lock.lock(); }

void after_fork_in_parent() { recorder().lock.unlock(); }

void after_fork_in_child() {
  Recorder& r = recorder();
  // The parent's trace stays the parent's: the child starts from nothing and
  // opens its own file on its first allocation.
  forget_everything(r);
  tls_thread_id = 0;
  reset_current_device_after_fork();
  reset_warnings_after_fork();
  disarm_signal_report();
  // The forking thread took the lock in prepare_fork and is this thread now.
  r.lock.unlock();
}

}  // namespace oomtrace::interpose
