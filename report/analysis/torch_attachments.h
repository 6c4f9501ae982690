// The PyTorch snapshots a trace lists as attachments (kind "torch_snapshot",
// saved by the Python bridge when PyTorch runs out of memory), read and tied
// to the failures they describe.
#pragma once

#include "report/verdicts/report.h"
#include "trace/reader.h"

namespace oomtrace::report {

inline constexpr char kTorchSnapshotAttachment[] = "torch_snapshot";

// Reads each torch_snapshot attachment (a relative path is relative to the
// trace's folder) into report.pytorch. A missing or unreadable one is never
// an error: the notes returned say what could not be used. A failing CUDA
// call belongs to the first snapshot recorded at or after it (PyTorch saves
// it after its retries failed, just before raising); the exception PyTorch
// raised, to the last one saved before it. When that snapshot has the
// failure's device, the failure takes process_allocated_bytes,
// largest_free_block_bytes, fragmentation and the Python stack of the
// failing allocation from it. Call before the failures are judged: the verdict reads those figures.
std::vector<std::string> apply_torch_snapshots(const trace::Trace& trace, Report& report);

// For a suspected leak: the last snapshot's live memory by Python line, into
// report.leak_suspected.python_sites (most bytes first, at most `limit`).
void add_python_leak_sites(Report& report, size_t limit);

}  // namespace oomtrace::report
