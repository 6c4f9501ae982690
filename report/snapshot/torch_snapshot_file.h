// A PyTorch snapshot read from disk. Bounded: the file's size is checked
// before anything is read, because the report may be written from inside a
// dying program and reading costs a few times the file's size in memory.
#pragma once

#include <cstdint>
#include <string>

#include "report/snapshot/torch_snapshot.h"

namespace oomtrace::report {

// Far above real snapshots (tens of MB with 100,000 history entries).
inline constexpr uint64_t kMaxTorchSnapshotFileBytes = uint64_t{512} << 20;

// The error, if any, is one line that starts with the path.
TorchSnapshotResult load_torch_snapshot(const std::string& path);

// Whether the file starts like a pickle (see looks_like_pickle); false when
// it cannot be read, so the caller's usual error for that path applies.
bool file_starts_like_pickle(const std::string& path);

}  // namespace oomtrace::report
