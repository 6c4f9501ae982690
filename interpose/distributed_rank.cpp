#include "interpose/distributed_rank.h"

#include <cstdlib>

namespace oomtrace::interpose {
namespace {

// Launchers that set several of these agree; when they do not (a torchrun
// inside a Slurm allocation), the one closest to the program wins: torchrun
// sets RANK for each worker, while SLURM_PROCID names the task that ran
// torchrun itself.
// Kubernetes' Indexed Jobs number each pod (JOB_COMPLETION_INDEX) and set
// nothing else; last, since torchrun or MPI inside a pod know better.
constexpr const char* kRankVariables[] = {"RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK",
                                          "JOB_COMPLETION_INDEX"};
constexpr const char* kLocalRankVariables[] = {"LOCAL_RANK", "SLURM_LOCALID", "OMPI_COMM_WORLD_LOCAL_RANK"};
constexpr const char* kWorldSizeVariables[] = {"WORLD_SIZE", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};

// Digits only, below 2^32; no sign, no spaces, no hex.
std::optional<uint32_t> parse_count(const char* text) {
  if (text == nullptr || *text == '\0') return std::nullopt;
  uint64_t value = 0;
  for (const char* c = text; *c; ++c) {
    if (*c < '0' || *c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(*c - '0');
    if (value > UINT32_MAX) return std::nullopt;
  }
  return static_cast<uint32_t>(value);
}

template <size_t N>
std::optional<uint32_t> first_number(EnvironmentLookup lookup, const char* const (&names)[N]) {
  for (const char* name : names) {
    if (std::optional<uint32_t> value = parse_count(lookup(name))) return value;
  }
  return std::nullopt;
}

}  // namespace

DistributedRank read_distributed_rank(EnvironmentLookup lookup) {
  DistributedRank found;
  found.rank = first_number(lookup, kRankVariables);
  found.local_rank = first_number(lookup, kLocalRankVariables);
  found.world_size = first_number(lookup, kWorldSizeVariables);
  return found;
}

DistributedRank read_distributed_rank() {
  return read_distributed_rank([](const char* name) -> const char* { return std::getenv(name); });
}

}  // namespace oomtrace::interpose
