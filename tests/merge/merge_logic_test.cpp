// report/merge on synthetic traces: the first failure by wall clock, file
// order for traces without a rank, unreadable files listed, the balance rule.
#include <catch2/catch.hpp>

#include <fstream>

#include "report/merge/merge.h"
#include "trace_builder.h"

using namespace oomtrace;
using namespace oomtrace::test;
using report::MergedRank;

namespace {

constexpr uint64_t kStart = 1800000000000000000ull;  // 2027-01-15T08:00:00Z

trace::ProcessInfo worker(uint32_t pid, std::optional<uint32_t> rank, uint64_t start_unix_ns) {
  trace::ProcessInfo info;
  info.pid = pid;
  info.host = "node" + std::to_string(rank.value_or(99) / 4);
  info.rank = rank;
  info.local_rank = rank ? std::optional<uint32_t>(*rank % 4) : std::nullopt;
  info.world_size = rank ? std::optional<uint32_t>(8) : std::nullopt;
  info.start_unix_ns = start_unix_ns;
  return info;
}

// A rank that holds held_mib on a 16 GiB GPU, and then asks for more than
// is left when it fails.
void write_rank(const std::string& path, const trace::ProcessInfo& info, uint64_t held_mib, bool fails) {
  TraceBuilder builder;
  builder.process(info).device(0, 16 * GiB, "H200").alloc(0, 0x100000, held_mib * MiB);
  if (fails) {
    FailureSpec spec;
    spec.request = 16 * GiB - held_mib * MiB + 1 * GiB;
    spec.total = 16 * GiB;
    spec.free = 16 * GiB - held_mib * MiB;
    spec.reserved = held_mib * MiB;
    spec.segments = 1;
    builder.fail(spec).finish("exit");
  } else {
    builder.free(0, 0x100000).finish("exit");
  }
  builder.write(path);
}

MergedRank rank_with(uint32_t number, uint64_t peak, const std::string& name = "H200", uint64_t total = 16 * GiB) {
  report::MergedRank rank;
  rank.rank = number;
  report::MergedDevice device;
  device.name = name;
  device.total_bytes = total;
  device.peak_reserved_bytes = peak;
  rank.devices.push_back(device);
  return rank;
}

}  // namespace

TEST_CASE("the first failure is the earliest by wall clock, not the lowest rank", "[merge]") {
  TempDir dir;
  // Rank 2 started ten seconds after rank 6, so its failure, a few
  // milliseconds into its trace, comes later on the wall clock.
  write_rank(dir.file("oomtrace.node0.rank2.100.trace"), worker(100, 2, kStart + 10'000'000'000ull), 15000, true);
  write_rank(dir.file("oomtrace.node1.rank6.200.trace"), worker(200, 6, kStart), 15000, true);
  write_rank(dir.file("oomtrace.node0.rank0.300.trace"), worker(300, 0, kStart), 15000, false);
  std::string error;
  auto files = report::find_trace_files(dir.path(), &error);
  REQUIRE(files);
  REQUIRE(files->size() == 3);
  std::vector<std::string> seen;
  report::MergeReport merged = report::merge_traces(dir.path(), *files, [&](size_t done, size_t total, const std::string& path) {
    CHECK(total == 3);
    if (done < total) seen.push_back(path);
  });
  CHECK(seen == *files);
  REQUIRE(merged.ranks.size() == 3);
  CHECK(merged.ranks[0].rank == 0);
  CHECK(merged.ranks[1].rank == 2);
  CHECK(merged.ranks[2].rank == 6);
  REQUIRE(merged.first_failure);
  const MergedRank& first = merged.ranks[*merged.first_failure];
  CHECK(first.rank == 6);
  CHECK(first.host == "node1");
  CHECK(first.pid == 200u);
  REQUIRE(first.failure->unix_ns);
  CHECK(*first.failure->unix_ns == kStart + first.failure->time_ns);
  CHECK(first.failure->verdict == report::Verdict::Exhausted);
  CHECK(merged.ranks[0].devices.at(0).headroom_bytes == 16 * GiB - 15000 * MiB);

  std::string json = report::render_merge_json(merged);
  CHECK_THAT(json, Catch::Contains("\"first_failure\"") && Catch::Contains("\"iso\": \"2027-01-15T08:00:00.00"));
}

TEST_CASE("traces without a rank are numbered by file order and marked; bad files are listed", "[merge]") {
  TempDir dir;
  write_rank(dir.file("a.trace"), worker(11, std::nullopt, kStart), 1000, false);
  write_rank(dir.file("b.trace"), worker(12, std::nullopt, kStart), 1000, false);
  std::ofstream(dir.file("c.trace")) << "not a trace at all";
  std::ofstream(dir.file("notes.txt")) << "ignored";
  std::string error;
  auto files = report::find_trace_files(dir.path(), &error);
  REQUIRE(files);
  CHECK(files->size() == 3);  // notes.txt is no trace
  report::MergeReport merged = report::merge_traces(dir.path(), *files);
  REQUIRE(merged.ranks.size() == 2);
  CHECK(merged.ranks[0].rank == 0);
  CHECK(merged.ranks[1].rank == 1);
  CHECK(merged.ranks[0].rank_source == report::RankSource::FileOrder);
  REQUIRE(merged.unreadable.size() == 1);
  CHECK_THAT(merged.unreadable[0].error, Catch::Contains("c.trace"));
  CHECK_FALSE(merged.first_failure);
  CHECK_THAT(report::render_merge_text(merged), Catch::Contains("numbered by") && Catch::Contains("No rank ran out"));
  CHECK_THAT(report::render_merge_json(merged), Catch::Contains("\"first_failure\": null") &&
                                                    Catch::Contains("\"rank_source\": \"file_order\""));
}

TEST_CASE("a folder that is not one is refused", "[merge]") {
  std::string error;
  CHECK_FALSE(report::find_trace_files("/nonexistent/oomtrace-merge", &error));
  CHECK_THAT(error, Catch::Contains("not a folder"));
}

TEST_CASE("balance: within 10% of the median on the same kind of GPU", "[merge][balance]") {
  std::vector<MergedRank> even = {rank_with(0, 10 * GiB), rank_with(1, 10 * GiB + 900 * MiB), rank_with(2, 9 * GiB + 600 * MiB)};
  report::Balance balanced = report::judge_balance(even);
  CHECK(balanced.balanced == true);
  CHECK(balanced.outliers.empty());

  std::vector<MergedRank> skewed = even;
  skewed.push_back(rank_with(3, 14 * GiB));
  report::Balance judged = report::judge_balance(skewed);
  CHECK(judged.balanced == false);
  REQUIRE(judged.outliers.size() == 1);
  CHECK(skewed[judged.outliers[0].rank_index].rank == 3);
  CHECK(judged.outliers[0].deviation > 0.10);

  // An 80 GiB GPU is not compared with 16 GiB ones: each alone is not judged.
  std::vector<MergedRank> mixed = {rank_with(0, 10 * GiB), rank_with(1, 60 * GiB, "H100", 80 * GiB)};
  CHECK_FALSE(report::judge_balance(mixed).balanced.has_value());
}

TEST_CASE("wall clock in ISO 8601, UTC, to the nanosecond", "[merge]") {
  CHECK(report::iso_utc(0) == "1970-01-01T00:00:00.000000000Z");
  CHECK(report::iso_utc(1800000000123456789ull) == "2027-01-15T08:00:00.123456789Z");
}
