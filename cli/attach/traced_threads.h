// Every thread of the target under ptrace, for the few hundred milliseconds
// an injection takes. Threads are seized (PTRACE_SEIZE: no SIGSTOP sent, so
// the process never sees a stop it did not ask for), stopped together when
// a breakpoint must go in or come out, and otherwise left running: a thread
// the injector borrowed may wait for a lock another thread holds.
//
// While traced, every stop of a thread comes here first: signals are passed
// on to the thread unchanged, new threads (PTRACE_O_TRACECLONE) are let go.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace oomtrace::cli {

struct ThreadStop {
  pid_t tid = 0;
  int signal = 0;          // the signal of a signal-delivery stop, else 0
  bool exited = false;     // the thread is gone
  bool group_stop = false;
};

class TracedThreads {
 public:
  explicit TracedThreads(pid_t pid) : pid_(pid) {}
  ~TracedThreads() { release(); }
  TracedThreads(const TracedThreads&) = delete;
  TracedThreads& operator=(const TracedThreads&) = delete;

  // Seizes every thread and stops them all. On failure nothing stays traced
  // and `errno_value` holds ptrace's errno.
  bool seize_and_stop_all(int& errno_value);
  const std::vector<pid_t> thread_ids() const;
  bool is_stopped(pid_t tid) const;

  // Lets every stopped thread but `except` run on (signals it stopped with
  // are delivered).
  void resume_all_except(pid_t except);
  // Stops every running thread and waits until each has. Threads that hit
  // a breakpoint on the way report it through `breakpoint_hits`.
  void stop_all(std::vector<ThreadStop>* other_stops);

  // Runs `tid` until it stops, serving the other threads meanwhile; nullopt
  // on timeout (the thread is still running).
  std::optional<ThreadStop> run_until_stop(pid_t tid, int timeout_ms);
  // Waits up to `timeout_ms` for any thread to stop with SIGTRAP (a
  // breakpoint), serving every other stop.
  std::optional<ThreadStop> wait_for_trap(int timeout_ms);
  // The signal a thread stopped with, to be delivered when it resumes.
  void set_pending_signal(pid_t tid, int signal);

  // Detaches from every thread; each resumes where it was (its pending
  // signal, if any, delivered).
  void release();

 private:
  struct Thread {
    bool stopped = false;
    int pending_signal = 0;
  };
  // Waits for one stop of any traced thread, up to `timeout_ms`; serves it
  // if it is not for the caller (`interesting` says which are).
  std::optional<ThreadStop> next_stop(int timeout_ms);
  bool seize(pid_t tid, int& errno_value);
  void wait_until_stopped(pid_t tid);
  void resume(pid_t tid);
  void note_stop(pid_t tid, int status, ThreadStop& stop);

  pid_t pid_;
  std::map<pid_t, Thread> threads_;
  bool released_ = true;
};

}  // namespace oomtrace::cli
