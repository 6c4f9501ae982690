// Where events go: the wrappers call these after the real function returned.
// The recorder opens the trace lazily, on the first event, so a process that
// never allocates GPU memory writes no file at all. It feeds each event to
// the trace and to the in-process model of what the process holds.
#pragma once

#include <cstdint>
#include <string>

#include "allocator/api.h"
#include "trace/format.h"

namespace oomtrace::interpose {

void record_allocation(Api api, int device, uint64_t address, uint64_t size, uint64_t stream = 0);
void record_release(Api api, uint64_t address, uint64_t stream = 0);
void record_mapping(uint64_t address, uint64_t size, uint64_t handle);
void record_unmapping(uint64_t address, uint64_t size);
// Called for every out-of-memory result: gathers the device's state first.
// `pool`: the pool a stream-ordered call named (cuMemAllocFromPoolAsync);
// 0 for the device's current pool.
void record_failure(Api api, int device, uint64_t requested, int result, uint64_t stream = 0,
                    uint64_t pool = 0);
// The public pool API (pool_api.cpp): a block handed out of, or given back
// to, memory the process holds. The model finds its device.
void record_pool_block(Api api, uint64_t address, uint64_t size);

// From the framework bridges (cxa_throw_hook.cpp, bridge_api.cpp).
void record_framework_error(const std::string& framework, const std::string& message);
void record_attachment(const std::string& kind, const std::string& path);
// A sentence for the report's notes: what a bridge could not do.
void record_note(const std::string& note);
// The trace being written, empty when none is open.
std::string current_trace_path();

// `oomtrace attach` (attach/attach_control.cpp): opens a new trace in `dir`
// now, after a detached one if there was one. No signal handler is armed:
// an attached process keeps its own. False when a trace is being written
// already (the library was preloaded) or cannot be created.
// The trace starts paused: nothing is recorded until
// resume_attached_recording(), once every path to the driver is patched.
bool start_attached_recording(const std::string& dir, std::string* trace_path);
void record_attach(const trace::AttachInfo& attach);
void resume_attached_recording();

// Exit paths (lifecycle.cpp).
void finish_recording(const char* reason);
void finish_recording_from_signal(int signal_number);
void prepare_fork();
void after_fork_in_parent();
void after_fork_in_child();

}  // namespace oomtrace::interpose
