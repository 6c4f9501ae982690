// Runs the benchmarks without and with liboomtrace.so in one go and prints
// the table of what the library adds per call, with the targets beside it.
// Ratios come from one run on one machine, so they compare like with like
// even on a shared, noisy machine (absolute numbers vary between runs).
//
//   overhead_table [--min-time SECONDS]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "child_process.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Variant {
  std::string label;
  bool preload = false;
  std::string stacks;  // OOMTRACE_STACKS
  std::string clock;   // OOMTRACE_CLOCK
};

const std::vector<Variant> kVariants = {
    {"without", false, ""},
    {"no stacks", true, "0"},
    {"dwarf stacks", true, "dwarf"},
    {"fp stacks", true, "fp"},
    {"cfi stacks", true, "cfi"},
    // Last, so the columns above keep their places: what reading the TSC
    // instead of clock_gettime saves (interpose/event_clock.h).
    {"no stacks, kernel clock", true, "0", "monotonic"},
};

constexpr double kTargetNoStacksNs = 100;
constexpr double kTargetStacksNs = 500;
constexpr double kTargetBytesPerLive = 64;

using test_support::read_file;

// Runs argv with extra environment; stdout to `out`. Returns the exit code.
int run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
        const fs::path& out) {
  test_support::ChildSpec spec;
  spec.argv = argv;
  spec.set_env = env;
  spec.stdout_path = out;
  test_support::ChildExit exit = test_support::wait_for(test_support::spawn(spec));
  return exit.signal ? 128 + exit.signal : exit.exit_code;
}

std::map<std::string, std::string> environment_for(const Variant& variant, const fs::path& dir) {
  std::map<std::string, std::string> env = {
      {"LD_LIBRARY_PATH", FAKE_CUDA_DIR},
      {"FAKE_CUDA_TOTAL_MIB", "1048576000"},  // room for a million 2 MiB blocks
      {"OOMTRACE_DIR", dir.string()},
      {"OOMTRACE_QUIET", "1"},
      {"LD_PRELOAD", variant.preload ? OOMTRACE_LIBRARY_PATH : ""},
  };
  if (!variant.stacks.empty()) env["OOMTRACE_STACKS"] = variant.stacks;
  if (!variant.clock.empty()) env["OOMTRACE_CLOCK"] = variant.clock;
  return env;
}

// benchmark name -> real time per iteration in ns
std::map<std::string, double> run_benchmarks(const Variant& variant, const fs::path& dir,
                                             const std::string& min_time) {
  fs::path json_out = dir / ("bench-" + std::to_string(std::hash<std::string>{}(variant.label)) + ".json");
  int code = run({ALLOC_BENCH_PATH, "--benchmark_out=" + json_out.string(), "--benchmark_out_format=json",
                  "--benchmark_min_time=" + min_time},
                 environment_for(variant, dir), dir / "bench.stdout");
  std::map<std::string, double> times;
  if (code != 0) {
    std::fprintf(stderr, "overhead_table: benchmark (%s) exited %d\n", variant.label.c_str(), code);
    std::exit(1);
  }
  // Parsed into a variable first: a range-for over a member of a temporary
  // would read it after it is gone.
  json parsed = json::parse(read_file(json_out));
  for (const json& entry : parsed["benchmarks"]) {
    double value = entry["real_time"].get<double>();
    std::string unit = entry["time_unit"].get<std::string>();
    if (unit == "us") value *= 1e3;
    if (unit == "ms") value *= 1e6;
    times[entry["name"].get<std::string>()] = value;
  }
  return times;
}

long live_growth(const Variant& variant, const fs::path& dir, long count) {
  fs::path out = dir / ("live-" + variant.stacks + ".json");
  if (run({LIVE_ALLOCATIONS_PATH, std::to_string(count)}, environment_for(variant, dir), out) != 0) {
    std::fprintf(stderr, "overhead_table: live_allocations failed\n");
    std::exit(1);
  }
  return json::parse(read_file(out))["rss_anon_growth_bytes"].get<long>();
}

uint64_t largest_trace_bytes(const fs::path& dir) {
  uint64_t largest = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".trace") largest = std::max<uint64_t>(largest, entry.file_size());
  }
  return largest;
}

void print_overhead(const std::vector<std::map<std::string, double>>& results) {
  if (results[0].empty()) {
    std::fprintf(stderr, "overhead_table: the benchmarks reported no results\n");
    std::exit(1);
  }
  std::printf("%-40s %8s", "ns per pair (20 frames deep)", "without");
  for (size_t v = 1; v < kVariants.size(); ++v) std::printf(" %16s %7s", kVariants[v].label.c_str(), "added");
  std::printf("\n");
  std::vector<double> worst(kVariants.size(), 0);
  for (const auto& [name, base] : results[0]) {
    std::printf("%-40s %8.0f", name.c_str(), base);
    for (size_t v = 1; v < kVariants.size(); ++v) {
      double with = results[v].at(name);
      std::printf(" %16.0f %+7.0f", with, with - base);
      worst[v] = std::max(worst[v], with - base);
    }
    std::printf("\n");
  }
  auto verdict = [](double added, double target) { return added < target ? "holds" : "MISSED"; };
  std::printf("target: < %.0f ns added without stacks: %s (worst %+.0f)\n", kTargetNoStacksNs,
              verdict(worst[1], kTargetNoStacksNs), worst[1]);
  std::printf("target: < %.0f ns added with native stacks: cached CFI (default) %s (worst %+.0f), frame "
              "pointers %s (worst %+.0f), libgcc's unwinder %s (worst %+.0f)\n",
              kTargetStacksNs, verdict(worst[4], kTargetStacksNs), worst[4], verdict(worst[3], kTargetStacksNs),
              worst[3], verdict(worst[2], kTargetStacksNs), worst[2]);
  std::printf("clock: without stacks, stamping with clock_gettime instead of the TSC adds %+.0f ns to the worst "
              "pair (%+.0f against %+.0f)\n",
              worst[5] - worst[1], worst[5], worst[1]);
}

// heaptrack on a host malloc+free pair 22 frames deep: the cost people
// already accept from a host-memory profiler.
void print_heaptrack_anchor(const fs::path& dir, const std::string& min_time) {
  if (std::system("command -v heaptrack >/dev/null 2>&1") != 0) {
    std::printf("anchor: heaptrack not installed; skipped\n");
    return;
  }
  // CPU time of the program's thread: heaptrack hands each record to a
  // second process (heaptrack_interpret) through a pipe, and on a busy
  // machine the program's wall time mostly measures waiting for it.
  struct Times {
    double real = std::nan("");
    double cpu = std::nan("");
  };
  auto measure = [&](std::vector<std::string> prefix) {
    fs::path out = dir / "host.json";
    prefix.insert(prefix.end(), {HOST_BENCH_PATH, "--benchmark_out=" + out.string(), "--benchmark_out_format=json",
                                 "--benchmark_min_time=" + min_time});
    Times times;
    if (run(prefix, {{"LD_PRELOAD", ""}}, dir / "host.stdout") != 0) return times;
    json parsed = json::parse(read_file(out));
    times.real = parsed["benchmarks"][0]["real_time"].get<double>();
    times.cpu = parsed["benchmarks"][0]["cpu_time"].get<double>();
    return times;
  };
  Times bare = measure({});
  Times traced = measure({"heaptrack", "-o", (dir / "heaptrack.anchor").string()});
  std::printf("anchor: heaptrack adds %+.0f ns of the program's CPU time to a host malloc+free pair 22 frames "
              "deep (%.0f -> %.0f; wall time %.0f -> %.0f, waiting on its interpreter)\n",
              traced.cpu - bare.cpu, bare.cpu, traced.cpu, bare.real, traced.real);
}

}  // namespace

int main(int argc, char** argv) {
  std::string min_time = "0.5";
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--min-time") min_time = argv[i + 1];
  }
  fs::path dir = test_support::fresh_dir("oomtrace-bench");

  std::vector<std::map<std::string, double>> results;
  for (const Variant& variant : kVariants) results.push_back(run_benchmarks(variant, dir, min_time));
  std::printf("oomtrace overhead on the simulated device, one run of each variant\n\n");
  print_overhead(results);

  // The simulated device places blocks first-fit in O(live) each, so the
  // count stays moderate; the per-allocation figure does not depend on it.
  constexpr long kLive = 20000;
  fs::path live_dir = dir / "live";
  fs::create_directories(live_dir);
  long without = live_growth(kVariants[0], live_dir, kLive);
  long with_library = live_growth(kVariants[1], live_dir, kLive);
  double per_live = static_cast<double>(with_library - without) / kLive;
  std::printf("\nmemory per live allocation: %.1f bytes (target < %.0f, stacks apart): %s\n", per_live,
              kTargetBytesPerLive, per_live < kTargetBytesPerLive ? "holds" : "MISSED");
  std::printf("trace bytes per event: %.1f (%ld allocations, no stacks)\n",
              static_cast<double>(largest_trace_bytes(live_dir)) / (kLive + 1), kLive);
  print_heaptrack_anchor(dir, min_time);
  fs::remove_all(dir);
  return 0;
}
