// Paths across a mount namespace. The target may live in a container whose
// file system is not ours: /proc/PID/root is its root as we can reach it.
// The library and the Python bridge must be reachable from inside (copied
// in when they are not), and the trace folder the user named must be where
// the user will look (written inside and copied out at detach when the
// target cannot see it).
#pragma once

#include <optional>
#include <string>

#include "cli/attach/target_process.h"

namespace oomtrace::cli {

// True when `path` names the same file or folder here and in the target.
bool visible_at_same_path(const TargetProcess& target, const std::string& path);

// The folder inside the target where the command puts what it copies in.
std::string staging_dir_in_target(const TargetProcess& target);

// Copies `file` into `dir_in_target` (created as needed) unless the same
// file is there already; returns the copy's path as the target sees it.
std::optional<std::string> copy_into_target(const TargetProcess& target, const std::string& file,
                                            const std::string& dir_in_target, std::string& error);

}  // namespace oomtrace::cli
