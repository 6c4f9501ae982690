// `oomtrace run --simulate-gpu SPEC`: runs the command on the simulated CUDA
// device (tests/fake_cuda) instead of a real one, so a program, PyTorch
// included, can be traced on a machine without a GPU.
//
// SPEC is [Nx]SIZE[,others=SIZE]: N devices of SIZE each, and memory held by
// other processes on each of them, e.g. "8GiB", "2x80GiB", "24GiB,others=6GiB".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace oomtrace::cli {

struct SimulatedGpu {
  int devices = 1;
  uint64_t total_bytes = 0;
  uint64_t others_bytes = 0;
};

// nullopt after putting the reason into *error.
std::optional<SimulatedGpu> parse_simulated_gpu(const std::string& spec, std::string* error);

// Where the simulated libraries are: fake_cuda/ beside this executable (the
// build folder, and lib/oomtrace after `cmake --install`). Empty when absent.
std::string locate_simulated_libraries();

// Sets the environment the child inherits: the simulated driver's
// configuration, its folder first on LD_LIBRARY_PATH (libcuda.so.1 and
// libnvidia-ml.so.1 are dlopen()ed by name), both runtimes preloaded after
// liboomtrace.so (wheels reach their own libcudart through an RPATH, which
// only a preloaded library of the same SONAME beats), and
// OOMTRACE_SIMULATED_GPU, which the library records so the report says so.
void apply_simulated_gpu(const SimulatedGpu& gpu, const std::string& spec, const std::string& library_dir);

}  // namespace oomtrace::cli
