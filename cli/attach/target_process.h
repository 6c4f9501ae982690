// What /proc says about a process `oomtrace attach` is asked to join: its
// status lines, its mapped files and its threads. Read-only; nothing here
// touches the process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace oomtrace::cli {

struct ProcessStatus {
  std::string name;             // Name:
  char state = '?';             // State: R, S, D, T (stopped), t (traced), Z
  uid_t real_uid = 0;           // Uid: real
  uid_t effective_uid = 0;      // Uid: effective
  pid_t tracer = 0;             // TracerPid:
  int seccomp = 0;              // Seccomp: 0 none, 1 strict, 2 filter
  std::vector<pid_t> ns_pids;   // NSpid: outermost (ours) first, innermost last
  uint64_t effective_caps = 0;  // CapEff:
};

struct MappedFile {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t offset = 0;     // file offset of the mapping
  std::string permissions; // "r-xp"
  uint64_t inode = 0;
  std::string path;        // as the process sees it (its mount namespace)
};

class TargetProcess {
 public:
  explicit TargetProcess(pid_t pid) : pid_(pid) {}

  pid_t pid() const { return pid_; }
  bool exists() const;
  std::optional<ProcessStatus> status() const;
  std::vector<MappedFile> mapped_files() const;
  std::vector<pid_t> threads() const;
  // The initial environment (what the process was started with).
  std::vector<std::string> environment() const;
  // /proc/PID/root: the process's file system as seen from here, so that a
  // path inside its mount namespace can be opened from outside.
  std::string root() const { return proc_path("root"); }
  // A path the process sees, as this command can open it.
  std::string host_view(const std::string& path_in_target) const;
  // The load address of the module whose file name (last component) starts
  // with `name_prefix`, and its path; nullopt when none is mapped.
  std::optional<MappedFile> module(const std::string& name_prefix) const;

 private:
  std::string proc_path(const std::string& entry) const;
  pid_t pid_;
};

// Status of any process (the tracer named by TracerPid, ourselves).
std::optional<ProcessStatus> read_process_status(const std::string& status_path);

}  // namespace oomtrace::cli
