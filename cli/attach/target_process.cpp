#include "cli/attach/target_process.h"

#include <algorithm>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace oomtrace::cli {
namespace {

std::string file_name_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::vector<pid_t> numbers(std::istringstream& in) {
  std::vector<pid_t> values;
  long value = 0;
  while (in >> value) values.push_back(static_cast<pid_t>(value));
  return values;
}

}  // namespace

std::optional<ProcessStatus> read_process_status(const std::string& status_path) {
  std::ifstream in(status_path);
  if (!in) return std::nullopt;
  ProcessStatus status;
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    std::istringstream value(line.substr(colon + 1));
    if (key == "Name") {
      value >> status.name;
    } else if (key == "State") {
      value >> status.state;
    } else if (key == "Uid") {
      value >> status.real_uid >> status.effective_uid;
    } else if (key == "TracerPid") {
      value >> status.tracer;
    } else if (key == "Seccomp") {
      value >> status.seccomp;
    } else if (key == "NSpid") {
      status.ns_pids = numbers(value);
    } else if (key == "CapEff") {
      std::string hex;
      value >> hex;
      status.effective_caps = std::stoull(hex, nullptr, 16);
    }
  }
  return status;
}

std::string TargetProcess::proc_path(const std::string& entry) const {
  return "/proc/" + std::to_string(pid_) + "/" + entry;
}

bool TargetProcess::exists() const {
  struct stat info{};
  return ::stat(proc_path("status").c_str(), &info) == 0;
}

std::optional<ProcessStatus> TargetProcess::status() const {
  return read_process_status(proc_path("status"));
}

std::vector<MappedFile> TargetProcess::mapped_files() const {
  std::vector<MappedFile> files;
  std::ifstream in(proc_path("maps"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string range, permissions, offset, device, inode, path;
    fields >> range >> permissions >> offset >> device >> inode;
    std::getline(fields >> std::ws, path);
    if (path.empty() || path[0] != '/') continue;
    MappedFile file;
    size_t dash = range.find('-');
    file.start = std::stoull(range.substr(0, dash), nullptr, 16);
    file.end = std::stoull(range.substr(dash + 1), nullptr, 16);
    file.offset = std::stoull(offset, nullptr, 16);
    file.permissions = permissions;
    file.inode = std::stoull(inode);
    file.path = path;
    files.push_back(std::move(file));
  }
  return files;
}

std::optional<MappedFile> TargetProcess::module(const std::string& name_prefix) const {
  std::optional<MappedFile> lowest;
  for (const MappedFile& file : mapped_files()) {
    if (file_name_of(file.path).rfind(name_prefix, 0) != 0) continue;
    // The load address is where the file's first byte is mapped.
    if (file.offset == 0 && (!lowest || file.start < lowest->start)) lowest = file;
  }
  return lowest;
}

std::vector<pid_t> TargetProcess::threads() const {
  std::vector<pid_t> tids;
  DIR* directory = opendir(proc_path("task").c_str());
  if (!directory) return tids;
  while (dirent* entry = readdir(directory)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    tids.push_back(static_cast<pid_t>(std::stol(entry->d_name)));
  }
  closedir(directory);
  std::sort(tids.begin(), tids.end());
  return tids;
}

std::vector<std::string> TargetProcess::environment() const {
  std::vector<std::string> variables;
  std::ifstream in(proc_path("environ"), std::ios::binary);
  std::string variable;
  while (std::getline(in, variable, '\0')) variables.push_back(variable);
  return variables;
}

std::string TargetProcess::host_view(const std::string& path_in_target) const {
  return root() + path_in_target;
}

}  // namespace oomtrace::cli
