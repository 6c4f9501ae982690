// How fast the caching-allocator model replays a recording (oomtrace
// whatif replays each input a few times per setting): a synthetic training
// run of a million events, and the largest real snapshot in the fixtures.
// Each benchmark reports events/s; the bar is 2 million per second on one
// core.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "allocator/caching_allocator/initial_state.h"
#include "allocator/caching_allocator/replayer.h"
#include "report/snapshot/torch_snapshot_file.h"
#include "report/whatif/whatif_inputs.h"

using namespace oomtrace;
using caching::ReplayAction;

namespace {

constexpr uint64_t kMiB = caching::kMiB;

// A model's tensors: mostly small (biases, norms, scalars), some large
// (activations, weights, up to 64 MiB), sizes spread log-uniformly; about
// 4,000 live at once, freed in random order, on two streams.
uint64_t tensor_size(std::mt19937_64& random) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  bool small = unit(random) < 0.6;
  double low = small ? 9.0 : 20.0;   // log2: 512 bytes .. 1 MiB, 1 MiB .. 64 MiB
  double high = small ? 20.0 : 26.0;
  return static_cast<uint64_t>(std::exp2(low + (high - low) * unit(random)));
}

caching::Recording synthetic_run(size_t events) {
  std::mt19937_64 random(20240611);
  caching::Recording recording;
  recording.events.reserve(events);
  std::vector<uint64_t> live;
  uint64_t next_address = uint64_t{1} << 40;
  while (recording.events.size() + 2 <= events) {
    bool allocate = live.size() < 2000 || (live.size() < 6000 && random() % 2 == 0);
    if (allocate) {
      uint64_t address = next_address;
      next_address += 64 * kMiB;
      recording.events.push_back({ReplayAction::Alloc, address, tensor_size(random), random() % 2,
                                  recording.events.size()});
      live.push_back(address);
      continue;
    }
    size_t victim = random() % live.size();
    uint64_t address = live[victim];
    live[victim] = live.back();
    live.pop_back();
    recording.events.push_back({ReplayAction::FreeRequested, address, 0, 0, recording.events.size()});
    recording.events.push_back({ReplayAction::FreeCompleted, address, 0, 0, recording.events.size()});
  }
  return recording;
}

void replay_repeatedly(benchmark::State& state, const caching::Recording& recording,
                       const caching::InitialState& initial, const caching::ReplayOptions& options) {
  for (auto _ : state) {
    caching::ReplayResult result = caching::replay(recording, initial, options);
    benchmark::DoNotOptimize(result.peak_reserved_bytes);
  }
  auto events = static_cast<double>(recording.events.size()) * static_cast<double>(state.iterations());
  state.counters["events/s"] = benchmark::Counter(events, benchmark::Counter::kIsRate);
}

void BM_ReplaySynthetic(benchmark::State& state, const char* conf) {
  static const caching::Recording recording = synthetic_run(1'000'000);
  caching::ReplayOptions options;
  options.config = caching::parse_alloc_conf(conf).config.value();
  replay_repeatedly(state, recording, {}, options);
}

// The largest fixture, reproduced with its recorded addresses as the
// fidelity check does.
void BM_ReplayLargestFixture(benchmark::State& state) {
  report::TorchSnapshotResult loaded =
      report::load_torch_snapshot(std::string(OOMTRACE_TORCH_SNAPSHOTS) + "/cs336_memory_ctx128_fullstep.pickle");
  if (!loaded.snapshot) {
    state.SkipWithError(loaded.error.c_str());
    return;
  }
  report::WhatIfInputResult input = report::whatif_input_from_snapshot(*loaded.snapshot, std::nullopt);
  if (!input.input) {
    state.SkipWithError(input.error.c_str());
    return;
  }
  const caching::Recording& recording = input.input->recording;
  caching::InitialState initial = caching::reconstruct_initial_state(recording);
  caching::ReplayOptions options{recording.config, caching::SimulatedDevice::kUnlimited, true, false};
  replay_repeatedly(state, recording, initial, options);
}

}  // namespace

BENCHMARK_CAPTURE(BM_ReplaySynthetic, defaults, "")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ReplaySynthetic, max_split_size_mb_128, "max_split_size_mb:128")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ReplaySynthetic, expandable_segments, "expandable_segments:True")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReplayLargestFixture)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
