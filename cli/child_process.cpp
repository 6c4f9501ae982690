#include "cli/child_process.h"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <iterator>
#include <sys/wait.h>
#include <unistd.h>

namespace oomtrace::cli {
namespace {

constexpr int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP};

volatile sig_atomic_t child_pid = 0;

void forward_signal(int signal, siginfo_t* info, void*) {
  // A signal from the terminal (Ctrl-C, hangup) comes from the kernel and
  // reaches the whole foreground process group, the child included; passing
  // it on would deliver it twice. Only signals sent to us by kill() are
  // forwarded.
  if (info && info->si_code == SI_KERNEL) return;
  if (child_pid > 0) ::kill(child_pid, signal);
}

class ForwardingSignals {
 public:
  ForwardingSignals() {
    struct sigaction action{};
    action.sa_sigaction = forward_signal;
    action.sa_flags = SA_SIGINFO;  // no SA_RESTART: waitpid must see EINTR and retry
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < std::size(kForwardedSignals); ++i) {
      ::sigaction(kForwardedSignals[i], &action, &previous_[i]);
    }
  }
  ~ForwardingSignals() {
    for (size_t i = 0; i < std::size(kForwardedSignals); ++i) {
      ::sigaction(kForwardedSignals[i], &previous_[i], nullptr);
    }
  }

 private:
  struct sigaction previous_[std::size(kForwardedSignals)]{};
};

sigset_t forwarded_set() {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : kForwardedSignals) sigaddset(&set, signal);
  return set;
}

[[noreturn]] void exec_in_child(const std::vector<std::string>& command, int error_pipe,
                                const sigset_t& original_mask) {
  // The child must not forward to itself: default dispositions, and the
  // mask the user started us with.
  for (int signal : kForwardedSignals) ::signal(signal, SIG_DFL);
  ::sigprocmask(SIG_SETMASK, &original_mask, nullptr);
  std::vector<char*> argv;
  for (const std::string& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());
  int error = errno;
  ssize_t ignored = ::write(error_pipe, &error, sizeof error);
  (void)ignored;
  ::_exit(127);
}

// The exec error the child sent over the close-on-exec pipe; 0 when the
// pipe closed empty because exec succeeded.
int read_exec_error(int error_pipe) {
  int error = 0;
  ssize_t got;
  do {
    got = ::read(error_pipe, &error, sizeof error);
  } while (got < 0 && errno == EINTR);
  return got == static_cast<ssize_t>(sizeof error) ? error : 0;
}

int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return 128;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 128;
}

}  // namespace

ChildOutcome run_child(const std::vector<std::string>& command) {
  ChildOutcome outcome;
  int error_pipe[2];
  if (command.empty() || ::pipe2(error_pipe, O_CLOEXEC) != 0) {
    outcome.exec_error = command.empty() ? ENOENT : errno;
    return outcome;
  }
  ForwardingSignals forwarding;
  // Blocked across fork so that no signal finds child_pid unset in the
  // parent, or the forwarding handler still installed in the child.
  sigset_t blocked = forwarded_set();
  sigset_t original_mask;
  ::sigprocmask(SIG_BLOCK, &blocked, &original_mask);
  pid_t pid = ::fork();
  if (pid == 0) exec_in_child(command, error_pipe[1], original_mask);
  int fork_error = errno;
  ::close(error_pipe[1]);
  if (pid < 0) {
    ::sigprocmask(SIG_SETMASK, &original_mask, nullptr);
    ::close(error_pipe[0]);
    outcome.exec_error = fork_error;
    return outcome;
  }
  child_pid = pid;
  ::sigprocmask(SIG_SETMASK, &original_mask, nullptr);

  outcome.exec_error = read_exec_error(error_pipe[0]);
  ::close(error_pipe[0]);
  outcome.exit_code = wait_for(pid);
  child_pid = 0;
  return outcome;
}

}  // namespace oomtrace::cli
