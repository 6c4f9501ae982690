// Which process of a distributed job this is, as its launcher told it
// through the environment: torchrun (RANK, LOCAL_RANK, WORLD_SIZE), Slurm
// (SLURM_PROCID, SLURM_LOCALID, SLURM_NTASKS), Open MPI (OMPI_COMM_WORLD_*)
// and MPICH/Hydra or PMI-based launchers (PMI_RANK, PMI_SIZE). Kubernetes
// jobs run one of these launchers, or set RANK themselves.
#pragma once

#include <cstdint>
#include <optional>

namespace oomtrace::interpose {

struct DistributedRank {
  std::optional<uint32_t> rank;
  std::optional<uint32_t> local_rank;
  std::optional<uint32_t> world_size;
};

// getenv, or a stand-in for tests.
using EnvironmentLookup = const char* (*)(const char* name);

// For each field the first variable, in the order above, that holds a
// plain decimal number; a variable that is set but malformed is passed over.
DistributedRank read_distributed_rank(EnvironmentLookup lookup);
DistributedRank read_distributed_rank();

}  // namespace oomtrace::interpose
