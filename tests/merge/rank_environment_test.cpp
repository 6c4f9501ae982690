// Which rank a process is, from the launchers' environment variables, and
// the rank's round trip through the trace (format 1.4, 1.3 still read).
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "interpose/distributed_rank.h"
#include "trace/reader.h"
#include "trace/writer.h"
#include "trace_builder.h"

using namespace oomtrace;

namespace {

std::map<std::string, std::string> g_environment;

const char* fake_getenv(const char* name) {
  auto found = g_environment.find(name);
  return found == g_environment.end() ? nullptr : found->second.c_str();
}

interpose::DistributedRank rank_under(std::map<std::string, std::string> environment) {
  g_environment = std::move(environment);
  return interpose::read_distributed_rank(fake_getenv);
}

}  // namespace

TEST_CASE("RANK wins over SLURM_PROCID, Open MPI, PMI, then Kubernetes' pod index", "[rank]") {
  std::map<std::string, std::string> all = {{"RANK", "3"},     {"SLURM_PROCID", "1"},        {"OMPI_COMM_WORLD_RANK", "2"},
                                            {"PMI_RANK", "4"}, {"JOB_COMPLETION_INDEX", "6"}};
  CHECK(rank_under(all).rank == 3u);
  all.erase("RANK");
  CHECK(rank_under(all).rank == 1u);
  all.erase("SLURM_PROCID");
  CHECK(rank_under(all).rank == 2u);
  all.erase("OMPI_COMM_WORLD_RANK");
  CHECK(rank_under(all).rank == 4u);
  all.erase("PMI_RANK");
  CHECK(rank_under(all).rank == 6u);
  all.erase("JOB_COMPLETION_INDEX");
  CHECK_FALSE(rank_under(all).rank.has_value());
}

TEST_CASE("local rank and world size follow the same order", "[rank]") {
  interpose::DistributedRank torchrun =
      rank_under({{"LOCAL_RANK", "1"}, {"SLURM_LOCALID", "0"}, {"WORLD_SIZE", "8"}, {"SLURM_NTASKS", "2"}});
  CHECK(torchrun.local_rank == 1u);
  CHECK(torchrun.world_size == 8u);

  interpose::DistributedRank slurm = rank_under({{"SLURM_LOCALID", "2"}, {"SLURM_NTASKS", "16"}, {"PMI_SIZE", "4"}});
  CHECK(slurm.local_rank == 2u);
  CHECK(slurm.world_size == 16u);

  interpose::DistributedRank mpi = rank_under({{"OMPI_COMM_WORLD_LOCAL_RANK", "5"}, {"OMPI_COMM_WORLD_SIZE", "6"}});
  CHECK(mpi.local_rank == 5u);
  CHECK(mpi.world_size == 6u);

  CHECK(rank_under({{"PMI_SIZE", "12"}}).world_size == 12u);
}

TEST_CASE("a malformed variable is passed over for the next one", "[rank]") {
  CHECK(rank_under({{"RANK", ""}, {"SLURM_PROCID", "7"}}).rank == 7u);
  CHECK(rank_under({{"RANK", "-1"}, {"PMI_RANK", "2"}}).rank == 2u);
  CHECK(rank_under({{"RANK", "0x10"}}).rank == std::nullopt);
  CHECK(rank_under({{"RANK", " 3"}}).rank == std::nullopt);
  CHECK(rank_under({{"RANK", "4294967296"}}).rank == std::nullopt);
  CHECK(rank_under({{"RANK", "4294967295"}}).rank == 4294967295u);
  CHECK(rank_under({{"RANK", "0"}}).rank == 0u);
}

TEST_CASE("the rank survives the trace; a trace without one reads as unknown", "[rank][trace]") {
  test::TempDir dir;
  trace::ProcessInfo info;
  info.pid = 77;
  info.host = "node2";
  info.argv = {"python", "train.py"};
  info.rank = 0;  // rank 0 is a rank, not "unknown"
  info.local_rank = 0;
  info.world_size = 64;
  test::TraceBuilder ranked;
  ranked.process(info).finish();
  trace::Trace back = ranked.build(dir.file("ranked.trace"));
  REQUIRE(back.process);
  CHECK(back.process->rank == 0u);
  CHECK(back.process->local_rank == 0u);
  CHECK(back.process->world_size == 64u);
  CHECK(back.process->argv.size() == 2);

  info.rank.reset();
  info.local_rank.reset();
  info.world_size.reset();
  test::TraceBuilder plain;
  plain.process(info).finish();
  trace::Trace unranked = plain.build(dir.file("plain.trace"));
  REQUIRE(unranked.process);
  CHECK_FALSE(unranked.process->rank.has_value());
  CHECK_FALSE(unranked.process->world_size.has_value());
}

TEST_CASE("a 1.3 Process record, which ends after argv, still reads", "[rank][trace]") {
  // Header of version 1.3, then one Process record: type, length, payload
  // (pid 42, ppid 1, host "h", executable "", start 5, argc 1, "x").
  std::vector<uint8_t> bytes = {'O', 'O', 'M', 'T', 'R', 'A', 'C', 'E', 1, 0, 3, 0, 0, 0, 0, 0};
  std::vector<uint8_t> payload = {42, 1, 1, 'h', 0, 5, 1, 1, 'x'};
  bytes.push_back(static_cast<uint8_t>(trace::RecordType::Process));
  bytes.push_back(static_cast<uint8_t>(payload.size()));
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  trace::ReadResult read = trace::parse_trace(bytes.data(), bytes.size(), "old.trace");
  REQUIRE(read.trace);
  REQUIRE(read.trace->process);
  CHECK(read.trace->format_minor == 3);
  CHECK(read.trace->process->pid == 42);
  CHECK(read.trace->process->host == "h");
  CHECK(read.trace->process->argv == std::vector<std::string>{"x"});
  CHECK_FALSE(read.trace->process->rank.has_value());
  CHECK_FALSE(read.trace->process->local_rank.has_value());
}
