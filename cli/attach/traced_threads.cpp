#include "cli/attach/traced_threads.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <thread>

#include "cli/attach/target_process.h"

namespace oomtrace::cli {
namespace {

using Clock = std::chrono::steady_clock;

// A thread in uninterruptible sleep stops only when it wakes; past this the
// injector gives up on it rather than hang.
constexpr int kStopTimeoutMs = 10000;

int event_of(int status) { return status >> 16; }

void pause_briefly() { std::this_thread::sleep_for(std::chrono::microseconds(500)); }

}  // namespace

bool TracedThreads::seize(pid_t tid, int& errno_value) {
  if (ptrace(PTRACE_SEIZE, tid, nullptr, reinterpret_cast<void*>(PTRACE_O_TRACECLONE)) == 0) {
    threads_[tid] = Thread{};
    return true;
  }
  errno_value = errno;
  return false;
}

bool TracedThreads::seize_and_stop_all(int& errno_value) {
  released_ = false;
  TargetProcess target(pid_);
  // Threads started before their creator was seized are not followed by
  // PTRACE_O_TRACECLONE: list again until no thread is new.
  for (int round = 0; round < 20; ++round) {
    std::vector<pid_t> fresh;
    for (pid_t tid : target.threads()) {
      if (!threads_.count(tid)) fresh.push_back(tid);
    }
    if (fresh.empty()) return !threads_.empty() || (errno_value = ESRCH, false);
    for (pid_t tid : fresh) {
      int error = 0;
      if (seize(tid, error)) continue;
      if (error == ESRCH) continue;  // the thread ended meanwhile
      errno_value = error;
      release();
      return false;
    }
    for (pid_t tid : fresh) {
      if (!threads_.count(tid)) continue;
      ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
      wait_until_stopped(tid);
    }
  }
  return true;
}

const std::vector<pid_t> TracedThreads::thread_ids() const {
  std::vector<pid_t> ids;
  for (const auto& [tid, thread] : threads_) ids.push_back(tid);
  return ids;
}

bool TracedThreads::is_stopped(pid_t tid) const {
  auto found = threads_.find(tid);
  return found != threads_.end() && found->second.stopped;
}

void TracedThreads::note_stop(pid_t tid, int status, ThreadStop& stop) {
  stop.tid = tid;
  if (WIFEXITED(status) || WIFSIGNALED(status)) {
    stop.exited = true;
    threads_.erase(tid);
    return;
  }
  Thread& thread = threads_[tid];  // a new thread may report before its creator
  thread.stopped = true;
  int event = event_of(status);
  int signal = WSTOPSIG(status);
  if (event == PTRACE_EVENT_CLONE) {
    unsigned long child = 0;
    if (ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &child) == 0 && !threads_.count(child)) {
      threads_[static_cast<pid_t>(child)] = Thread{};
    }
  } else if (event == PTRACE_EVENT_STOP) {
    stop.group_stop = signal == SIGSTOP || signal == SIGTSTP || signal == SIGTTIN || signal == SIGTTOU;
  } else if (event == 0) {
    stop.signal = signal;
    thread.pending_signal = signal;
  }
}

void TracedThreads::wait_until_stopped(pid_t tid) {
  auto deadline = Clock::now() + std::chrono::milliseconds(kStopTimeoutMs);
  while (threads_.count(tid) && !threads_[tid].stopped && Clock::now() < deadline) {
    int status = 0;
    pid_t got = waitpid(tid, &status, __WALL | WNOHANG);
    if (got == tid) {
      ThreadStop stop;
      note_stop(tid, status, stop);
    } else if (got < 0 && errno == ECHILD) {
      threads_.erase(tid);
    } else {
      pause_briefly();
    }
  }
}

void TracedThreads::resume(pid_t tid) {
  auto found = threads_.find(tid);
  if (found == threads_.end() || !found->second.stopped) return;
  int signal = found->second.pending_signal;
  found->second.pending_signal = 0;
  found->second.stopped = false;
  ptrace(PTRACE_CONT, tid, nullptr, reinterpret_cast<void*>(static_cast<long>(signal)));
}

void TracedThreads::set_pending_signal(pid_t tid, int signal) {
  auto found = threads_.find(tid);
  if (found != threads_.end()) found->second.pending_signal = signal;
}

void TracedThreads::resume_all_except(pid_t except) {
  for (pid_t tid : thread_ids()) {
    if (tid != except) resume(tid);
  }
}

void TracedThreads::stop_all(std::vector<ThreadStop>* other_stops) {
  for (pid_t tid : thread_ids()) {
    if (!is_stopped(tid)) ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
  }
  // Threads may be created meanwhile (they appear in threads_ at their
  // creator's clone event), so wait until a pass finds none running.
  for (int pass = 0; pass < 20; ++pass) {
    bool all_stopped = true;
    for (pid_t tid : thread_ids()) {
      if (is_stopped(tid)) continue;
      all_stopped = false;
      auto deadline = Clock::now() + std::chrono::milliseconds(kStopTimeoutMs);
      while (threads_.count(tid) && !is_stopped(tid) && Clock::now() < deadline) {
        int status = 0;
        pid_t got = waitpid(tid, &status, __WALL | WNOHANG);
        if (got != tid) {
          if (got < 0 && errno == ECHILD) threads_.erase(tid);
          pause_briefly();
          continue;
        }
        ThreadStop stop;
        note_stop(tid, status, stop);
        if (!stop.exited && other_stops) other_stops->push_back(stop);
      }
      if (threads_.count(tid) && !is_stopped(tid)) ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
    }
    if (all_stopped) return;
  }
}

std::optional<ThreadStop> TracedThreads::next_stop(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int status = 0;
    pid_t got = waitpid(-1, &status, __WALL | WNOHANG);
    if (got > 0) {
      ThreadStop stop;
      note_stop(got, status, stop);
      return stop;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    pause_briefly();
  }
}

std::optional<ThreadStop> TracedThreads::run_until_stop(pid_t tid, int timeout_ms) {
  resume(tid);
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    std::optional<ThreadStop> stop = next_stop(static_cast<int>(remaining.count()) + 1);
    if (!stop) break;
    if (stop->tid == tid) return stop;
    if (!stop->exited) resume(stop->tid);
  }
  return std::nullopt;
}

std::optional<ThreadStop> TracedThreads::wait_for_trap(int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    std::optional<ThreadStop> stop = next_stop(static_cast<int>(remaining.count()) + 1);
    if (!stop) break;
    if (stop->exited) continue;
    if (stop->signal == SIGTRAP) return stop;
    resume(stop->tid);
  }
  return std::nullopt;
}

void TracedThreads::release() {
  if (released_) return;
  released_ = true;
  // PTRACE_DETACH needs a stopped thread.
  stop_all(nullptr);
  for (const auto& [tid, thread] : threads_) {
    ptrace(PTRACE_DETACH, tid, nullptr,
           reinterpret_cast<void*>(static_cast<long>(thread.pending_signal)));
  }
  threads_.clear();
}

}  // namespace oomtrace::cli
