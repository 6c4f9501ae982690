#include "cli/attach/target_paths.h"

#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace oomtrace::cli {

bool visible_at_same_path(const TargetProcess& target, const std::string& path) {
  struct stat here{};
  struct stat there{};
  return ::stat(path.c_str(), &here) == 0 && ::stat(target.host_view(path).c_str(), &there) == 0 &&
         here.st_dev == there.st_dev && here.st_ino == there.st_ino;
}

std::string staging_dir_in_target(const TargetProcess&) {
  // One folder per user: another user's copy is not ours to replace.
  return "/tmp/oomtrace-attach-" + std::to_string(geteuid());
}

std::optional<std::string> copy_into_target(const TargetProcess& target, const std::string& file,
                                            const std::string& dir_in_target, std::string& error) {
  namespace fs = std::filesystem;
  std::error_code failure;
  fs::path destination_dir = target.host_view(dir_in_target);
  fs::create_directories(destination_dir, failure);
  fs::path destination = destination_dir / fs::path(file).filename();
  if (!failure) {
    // A library the process already mapped must not be overwritten in place
    // (its pages are the file's): copy beside it and rename over.
    fs::path partial = destination.string() + ".partial";
    fs::copy_file(file, partial, fs::copy_options::overwrite_existing, failure);
    if (!failure) fs::rename(partial, destination, failure);
  }
  if (failure) {
    error = "cannot copy " + file + " into the process's file system at " + destination.string() +
            ": " + failure.message();
    return std::nullopt;
  }
  return dir_in_target + "/" + fs::path(file).filename().string();
}

}  // namespace oomtrace::cli
