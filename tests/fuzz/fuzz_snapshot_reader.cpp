// libFuzzer target: any bytes given as a PyTorch memory snapshot (a pickle,
// the least trusted input oomtrace reads: users download them from issue
// threads) must end in an analysis, a what-if table or a one-line error:
// nothing executed, no crash, no hang, bounded memory.
#include <cstddef>
#include <cstdint>

#include "report/snapshot/snapshot_analysis.h"
#include "report/snapshot/torch_snapshot.h"
#include "report/whatif/whatif.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  oomtrace::report::TorchSnapshotResult result = oomtrace::report::parse_torch_snapshot(data, size);
  if (!result.snapshot) return 0;
  oomtrace::report::TorchSnapshotAnalysis analysis =
      oomtrace::report::analyze_torch_snapshot(*result.snapshot);
  oomtrace::report::WhatIfOptions options;
  options.capacity = uint64_t{1} << 30;
  options.alternatives = {"expandable_segments:True", "max_split_size_mb:64"};
  oomtrace::report::WhatIfResult whatif = oomtrace::report::analyze_whatif(*result.snapshot, options);
  (void)analysis;
  (void)whatif;
  return 0;
}
