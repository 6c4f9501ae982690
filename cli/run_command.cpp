#include "cli/run_command.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "cli/child_process.h"
#include "cli/messages.h"
#include "cli/run_results.h"
#include "cli/self_location.h"
#include "cli/simulated_gpu.h"

namespace oomtrace::cli {
namespace {

// Our library goes first so its hooks see every allocation; whatever the
// user preloads already stays.
void prepend_to_preload(const std::string& library) {
  const char* existing = std::getenv("LD_PRELOAD");
  std::string value = library;
  if (existing && *existing) value += std::string(":") + existing;
  ::setenv("LD_PRELOAD", value.c_str(), 1);
}

// Creates --dir and hands it to the library; without --dir the library's
// own default applies. Returns the folder the traces will land in, or
// empty after printing an error.
std::string prepare_output_dir(const std::string& requested) {
  std::error_code error;
  if (requested.empty()) {
    const char* configured = std::getenv("OOMTRACE_DIR");
    if (configured && *configured) return configured;
    std::filesystem::path cwd = std::filesystem::current_path(error);
    return error ? std::string(".") : cwd.string();
  }
  std::filesystem::path absolute = std::filesystem::absolute(requested, error);
  if (!error) std::filesystem::create_directories(absolute, error);
  if (error || !std::filesystem::is_directory(absolute)) {
    print_error("cannot use " + requested + " as the trace folder: " +
                (error ? error.message() : std::string("not a directory")));
    return {};
  }
  ::setenv("OOMTRACE_DIR", absolute.c_str(), 1);
  return absolute.string();
}

// The Python bridge (sitecustomize.py) sits in python/ beside the library:
// on PYTHONPATH it lets the library see inside PyTorch's allocator.
// OOMTRACE_PYTHON=0 leaves PYTHONPATH alone.
void prepend_python_bridge(const std::string& library) {
  const char* disabled = std::getenv("OOMTRACE_PYTHON");
  if (disabled && std::string(disabled) == "0") return;
  std::filesystem::path bridge = std::filesystem::path(library).parent_path() / "python";
  std::error_code error;
  if (!std::filesystem::exists(bridge / "sitecustomize.py", error)) return;
  const char* existing = std::getenv("PYTHONPATH");
  std::string value = bridge.string();
  if (existing && *existing) value += std::string(":") + existing;
  ::setenv("PYTHONPATH", value.c_str(), 1);
}

int exec_failure(const std::string& program, int error) {
  print_error("cannot run " + program + ": " + std::strerror(error));
  return error == ENOENT ? kExitCommandNotFound : kExitCannotExecute;
}

}  // namespace

CLI::App* add_run_command(CLI::App& app, RunOptions& options) {
  CLI::App* command = app.add_subcommand("run", "Run a command with oomtrace preloaded, then explain what it wrote");
  command->add_option("--dir", options.dir, "folder for traces and reports (created if missing)");
  command->add_option("--simulate-gpu", options.simulate_gpu,
                      "run on a simulated GPU instead of a real one: [Nx]SIZE[,others=SIZE], e.g. 8GiB, "
                      "2x80GiB, 24GiB,others=6GiB (others: memory other processes hold on each GPU)");
  command->add_option("command", options.command, "the command and its arguments, after --")->required();
  command->add_option("-o,--output", options.output_path,
                      "write the reports of the run to FILE instead of standard error")
      ->type_name("FILE");
  command->footer("Example: oomtrace run --dir /tmp/oom -- python train.py --batch 64\n"
                  "         oomtrace run --simulate-gpu 8GiB -- python train.py   (no GPU needed)\n");
  return command;
}

int run_command(const RunOptions& options) {
  LibraryLookup library = locate_preload_library();
  if (!library.found) {
    print_error("liboomtrace.so not found at " + library.path + " (set OOMTRACE_LIBRARY to its path)");
    return kExitBadInput;
  }
  if (!options.simulate_gpu.empty()) {
    std::string problem;
    std::optional<SimulatedGpu> gpu = parse_simulated_gpu(options.simulate_gpu, &problem);
    if (!gpu) {
      print_error("--simulate-gpu " + options.simulate_gpu + ": " + problem);
      return kExitUsage;
    }
    std::string simulated = locate_simulated_libraries();
    if (simulated.empty()) {
      print_error("--simulate-gpu needs the simulated CUDA libraries in fake_cuda/ beside " +
                  self_executable_path() + "; build with the tests (scripts/test.sh) to get them");
      return kExitBadInput;
    }
    apply_simulated_gpu(*gpu, options.simulate_gpu, simulated);
  }
  std::string output_dir = prepare_output_dir(options.dir);
  if (output_dir.empty()) return kExitBadInput;
  prepend_to_preload(library.path);
  prepend_python_bridge(library.path);
  // The library's signal path runs `oomtrace report --write` through this.
  std::string self = self_executable_path();
  if (!self.empty()) ::setenv("OOMTRACE_CLI", self.c_str(), 1);
  // This command prints the reports itself; the library's exit line would
  // only repeat where they are.
  ::setenv("OOMTRACE_QUIET", "1", 0);

  timespec start = file_clock_now();
  ChildOutcome outcome = run_child(options.command);
  if (outcome.exec_error != 0) return exec_failure(options.command.front(), outcome.exec_error);
  tell_run_results(traces_written_since(output_dir, start), options.output_path);
  return outcome.exit_code;
}

}  // namespace oomtrace::cli
