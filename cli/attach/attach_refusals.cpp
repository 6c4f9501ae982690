#include "cli/attach/attach_refusals.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <pwd.h>
#include <unistd.h>

#include "cli/attach/attach_channel.h"
#include "cli/attach/target_process.h"

namespace oomtrace::cli {
namespace {

constexpr int kCapSysPtrace = 19;

std::string pid_text(pid_t pid) { return "process " + std::to_string(pid); }

std::optional<ProcessStatus> own_status() { return read_process_status("/proc/self/status"); }

bool we_have_cap_sys_ptrace() {
  std::optional<ProcessStatus> self = own_status();
  return self && (self->effective_caps >> kCapSysPtrace) & 1;
}

std::string user_name(uid_t uid) {
  passwd* entry = getpwuid(uid);
  return entry ? std::string(entry->pw_name) : "uid " + std::to_string(uid);
}

// Yama's setting. OOMTRACE_PTRACE_SCOPE_FILE points elsewhere so the tests
// can check every answer on machines without Yama.
std::optional<int> yama_ptrace_scope() {
  const char* override_path = std::getenv("OOMTRACE_PTRACE_SCOPE_FILE");
  std::ifstream in(override_path && *override_path ? override_path
                                                   : "/proc/sys/kernel/yama/ptrace_scope");
  int scope = 0;
  if (in >> scope) return scope;
  return std::nullopt;
}

bool is_ancestor_of(pid_t pid) {
  pid_t self = getpid();
  for (int depth = 0; depth < 64 && pid > 1; ++depth) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t close = text.rfind(')');
    if (close == std::string::npos) return false;
    char state = 0;
    long parent = 0;
    if (sscanf(text.c_str() + close + 1, " %c %ld", &state, &parent) != 2) return false;
    if (parent == self) return true;
    pid = static_cast<pid_t>(parent);
  }
  return false;
}

std::optional<std::string> refuse_by_yama(pid_t pid) {
  std::optional<int> scope = yama_ptrace_scope();
  if (!scope || *scope == 0) return std::nullopt;
  std::string setting = "kernel.yama.ptrace_scope is " + std::to_string(*scope);
  if (*scope >= 3) {
    return setting + ": ptrace is disabled on this machine until it reboots, so no tool can "
                     "attach; start the program under `oomtrace run` instead";
  }
  if (we_have_cap_sys_ptrace()) return std::nullopt;
  if (*scope == 2) {
    return setting + ": only a process with CAP_SYS_PTRACE may attach; run oomtrace attach as "
                     "root (in a container: --cap-add SYS_PTRACE)";
  }
  if (is_ancestor_of(pid)) return std::nullopt;
  return setting + ": only a parent may trace " + pid_text(pid) +
         " without CAP_SYS_PTRACE; run oomtrace attach as root, or set "
         "`sysctl kernel.yama.ptrace_scope=0`";
}

std::optional<std::string> refuse_other_user(pid_t pid, const ProcessStatus& status) {
  uid_t self = geteuid();
  if ((status.real_uid == self && status.effective_uid == self) || we_have_cap_sys_ptrace()) {
    return std::nullopt;
  }
  if (self == 0) {
    return pid_text(pid) + " belongs to " + user_name(status.real_uid) +
           ", and this command runs as root without CAP_SYS_PTRACE (containers drop it: docker "
           "run --cap-add SYS_PTRACE, kubectl debug --profile=general)";
  }
  return pid_text(pid) + " belongs to " + user_name(status.real_uid) + ", not to " +
         user_name(self) + "; run oomtrace attach as that user or as root";
}

std::optional<std::string> refuse_by_state(pid_t pid, const ProcessStatus& status) {
  if (status.tracer != 0) {
    std::optional<ProcessStatus> tracer =
        read_process_status("/proc/" + std::to_string(status.tracer) + "/status");
    std::string name = tracer ? " (" + tracer->name + ")" : "";
    return pid_text(pid) + " is already traced by PID " + std::to_string(status.tracer) + name +
           "; a process has one tracer at a time: detach that one first";
  }
  if (status.state == 'Z' || status.state == 'X') return pid_text(pid) + " has exited";
  if (status.state == 'T' || status.state == 't') {
    return pid_text(pid) + " is stopped; resume it (kill -CONT " + std::to_string(pid) +
           ") and attach again";
  }
  return std::nullopt;
}

// musl's loader and C library are one file, named ld-musl-ARCH.so.1 or
// installed under a musl folder (Debian: /usr/lib/x86_64-linux-musl/libc.so).
bool runs_on_musl(const TargetProcess& target) {
  for (const MappedFile& file : target.mapped_files()) {
    if (file.path.find("musl") != std::string::npos) return true;
  }
  return false;
}

std::optional<std::string> refuse_by_libraries(pid_t pid, const TargetProcess& target) {
  if (runs_on_musl(target)) {
    return pid_text(pid) + " runs on musl libc, and liboomtrace.so is built for glibc; use an "
                           "image based on glibc (Debian, Ubuntu, UBI) for oomtrace";
  }
  if (!target.module("libcuda.so")) {
    return pid_text(pid) + " has not loaded the CUDA driver (libcuda.so.1), so it holds no GPU "
                           "memory to watch yet; attach once it uses CUDA, or start it under "
                           "`oomtrace run -- COMMAND`";
  }
  for (const std::string& variable : target.environment()) {
    if (variable.rfind("LD_PRELOAD=", 0) == 0 && variable.find("liboomtrace") != std::string::npos) {
      return pid_text(pid) + " already runs under oomtrace (liboomtrace.so is in its LD_PRELOAD); "
                             "its report is written when it exits";
    }
  }
  return std::nullopt;
}

std::optional<std::string> refuse_second_attach(pid_t pid) {
  std::string error;
  std::optional<AttachChannel> channel = AttachChannel::open(pid, error);
  if (!channel) return error.empty() ? std::nullopt : std::optional<std::string>(error);
  AttachControlBlock block{};
  if (!channel->read(block)) return std::nullopt;
  auto state = static_cast<AttachState>(block.state);
  if (state == AttachState::Starting || state == AttachState::Attached ||
      state == AttachState::Detaching) {
    return "oomtrace is already attached to " + pid_text(pid) + " (trace " + block.trace_path +
           "); run `oomtrace detach " + std::to_string(pid) + "` first";
  }
  return std::nullopt;
}

std::optional<std::string> refuse_missing(pid_t pid, const TargetProcess& target) {
  if (pid <= 0) return "a PID is a positive number, not " + std::to_string(pid);
  if (!target.exists()) {
    return "no process with PID " + std::to_string(pid) +
           " (a process in a container has another PID outside it: use the PID this shell sees)";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> refuse_attach(pid_t pid) {
  TargetProcess target(pid);
  if (auto missing = refuse_missing(pid, target)) return missing;
  std::optional<ProcessStatus> status = target.status();
  if (!status) return "cannot read /proc/" + std::to_string(pid) + "/status";
  if (auto refusal = refuse_other_user(pid, *status)) return refusal;
  if (auto refusal = refuse_by_yama(pid)) return refusal;
  if (auto refusal = refuse_by_state(pid, *status)) return refusal;
  if (auto refusal = refuse_by_libraries(pid, target)) return refusal;
  return refuse_second_attach(pid);
}

std::optional<std::string> refuse_detach(pid_t pid) {
  TargetProcess target(pid);
  if (auto missing = refuse_missing(pid, target)) return missing;
  std::optional<ProcessStatus> status = target.status();
  if (!status) return "cannot read /proc/" + std::to_string(pid) + "/status";
  if (auto refusal = refuse_other_user(pid, *status)) return refusal;
  std::string error;
  std::optional<AttachChannel> channel = AttachChannel::open(pid, error);
  if (!channel) {
    return error.empty() ? "oomtrace is not attached to " + pid_text(pid) + " (no liboomtrace.so in it)"
                         : error;
  }
  AttachControlBlock block{};
  if (!channel->read(block)) {
    return "cannot read the memory of " + pid_text(pid) + ": " + std::strerror(errno);
  }
  if (static_cast<AttachState>(block.state) != AttachState::Attached) {
    return "oomtrace is not attached to " + pid_text(pid) + " now; attach with `oomtrace attach " +
           std::to_string(pid) + "`";
  }
  return std::nullopt;
}

std::string explain_ptrace_failure(pid_t pid, int errno_value) {
  std::string what = "ptrace refused to attach to " + pid_text(pid) + " (" +
                     std::strerror(errno_value) + ")";
  std::optional<ProcessStatus> self = own_status();
  if (self && self->seccomp == 2 && (errno_value == EPERM || errno_value == ENOSYS || errno_value == EACCES)) {
    return what + ": a seccomp filter on oomtrace itself forbids ptrace (Seccomp: 2 in "
                  "/proc/self/status); in Docker run with --cap-add SYS_PTRACE or "
                  "--security-opt seccomp=unconfined";
  }
  if (errno_value == EPERM && !we_have_cap_sys_ptrace()) {
    return what + ": this command lacks CAP_SYS_PTRACE (containers drop it: docker --cap-add "
                  "SYS_PTRACE, kubectl debug --profile=general) or kernel.yama.ptrace_scope forbids it";
  }
  return what + ": a security module (AppArmor, SELinux) may forbid it";
}

}  // namespace oomtrace::cli
