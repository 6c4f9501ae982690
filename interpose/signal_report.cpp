#include "interpose/signal_report.h"

#include <atomic>
#include <csignal>
#include <cstring>
#include <ctime>
#include <dlfcn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "interpose/recorder.h"

extern char** environ;

namespace oomtrace::interpose {
namespace {

constexpr int kHandledSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
constexpr int kReportTimeoutMs = 30000;

// Filled when the trace is created, read from the handler: fixed buffers,
// no allocation there.
char g_cli_path[4096];
char g_trace_path[4096];
std::atomic<bool> g_armed{false};
std::atomic<bool> g_installed{false};
volatile sig_atomic_t g_in_handler = 0;
// glibc's _Fork (2.34), looked up when armed rather than imported, so that
// the library still loads on an older glibc (glibc_baseline.h).
using ForkFunction = pid_t (*)();
std::atomic<ForkFunction> g_fork{nullptr};

void write_stderr(const char* text) {
  ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

pid_t fork_in_signal_handler() {
  // _Fork (glibc 2.34) runs no atfork handlers and takes no malloc locks.
  if (ForkFunction fork_function = g_fork.load()) return fork_function();
  return static_cast<pid_t>(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
}

void wait_bounded(pid_t child) {
  timespec pause{0, 10 * 1000 * 1000};
  for (int waited = 0; waited < kReportTimeoutMs; waited += 10) {
    int status = 0;
    pid_t done = ::waitpid(child, &status, WNOHANG);
    if (done == child || (done < 0 && errno != EINTR)) return;
    ::nanosleep(&pause, nullptr);
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}

void write_report_in_child_process() {
  if (g_cli_path[0] == '\0') {
    write_stderr("oomtrace: trace kept at ");
    write_stderr(g_trace_path);
    write_stderr("; read it with: oomtrace report ");
    write_stderr(g_trace_path);
    write_stderr("\n");
    return;
  }
  pid_t child = fork_in_signal_handler();
  if (child == 0) {
    char report[] = "report";
    char write_flag[] = "--write";
    char* argv[] = {g_cli_path, report, write_flag, g_trace_path, nullptr};
    ::execve(g_cli_path, argv, environ);
    ::_exit(127);
  }
  if (child > 0) wait_bounded(child);
}

void take_default_course(int signal_number) {
  struct sigaction action{};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  ::sigaction(signal_number, &action, nullptr);
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, signal_number);
  ::pthread_sigmask(SIG_UNBLOCK, &unblock, nullptr);
  ::raise(signal_number);
}

void on_fatal_signal(int signal_number) {
  int saved_errno = errno;
  if (!g_in_handler) {
    g_in_handler = 1;
    if (g_armed.load()) {
      finish_recording_from_signal(signal_number);
      write_report_in_child_process();
    }
  }
  errno = saved_errno;
  take_default_course(signal_number);
}

void install_handlers_once() {
  if (g_installed.exchange(true)) return;
  for (int signal_number : kHandledSignals) {
    struct sigaction current{};
    if (::sigaction(signal_number, nullptr, &current) != 0) continue;
    if (current.sa_handler != SIG_DFL || (current.sa_flags & SA_SIGINFO)) continue;
    struct sigaction action{};
    action.sa_handler = &on_fatal_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(signal_number, &action, nullptr);
  }
}

void copy_bounded(char* out, size_t capacity, const std::string& text) {
  size_t length = std::min(text.size(), capacity - 1);
  std::memcpy(out, text.data(), length);
  out[length] = '\0';
}

void find_fork_function() {
  if (g_fork.load()) return;
  void* found = dlvsym(RTLD_DEFAULT, "_Fork", "GLIBC_2.34");
  if (!found) {
    dlerror();  // an older glibc: our failed lookup must not show in the program's dlerror()
    return;
  }
  g_fork.store(reinterpret_cast<ForkFunction>(found));
}

}  // namespace

void arm_signal_report(const std::string& cli_path, const std::string& trace_path) {
  find_fork_function();
  copy_bounded(g_cli_path, sizeof g_cli_path, cli_path);
  copy_bounded(g_trace_path, sizeof g_trace_path, trace_path);
  g_armed.store(true);
  install_handlers_once();
}

void disarm_signal_report() { g_armed.store(false); }

void write_report_out_of_process() {
  if (g_armed.exchange(false)) write_report_in_child_process();
}

const char* signal_exit_reason(int signal_number) {
  switch (signal_number) {
    case SIGTERM: return "signal SIGTERM";
    case SIGINT: return "signal SIGINT";
    case SIGHUP: return "signal SIGHUP";
    case SIGABRT: return "signal SIGABRT";
    case SIGSEGV: return "signal SIGSEGV";
    case SIGBUS: return "signal SIGBUS";
    case SIGFPE: return "signal SIGFPE";
    case SIGILL: return "signal SIGILL";
    default: return "signal";
  }
}

}  // namespace oomtrace::interpose
