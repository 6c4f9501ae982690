#include "cli/attach_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "cli/attach/attach_channel.h"
#include "cli/attach/attach_refusals.h"
#include "cli/attach/injector.h"
#include "cli/attach/target_paths.h"
#include "cli/attach/target_process.h"
#include "cli/command_output.h"
#include "cli/messages.h"
#include "cli/self_location.h"

namespace oomtrace::cli {
namespace {

namespace fs = std::filesystem;

// Where the trace goes: the folder the user named, as the target sees it,
// and whether it must be copied out at detach (the target cannot see it).
struct OutputPlan {
  std::string dir_here;
  std::string dir_in_target;
  bool copy_out = false;
};

// Written beside a trace the target writes where the user cannot see it:
// where `detach` copies it to.
constexpr const char* kDestinationFile = ".oomtrace-destination";

std::optional<OutputPlan> plan_output(const TargetProcess& target, const std::string& requested) {
  std::error_code error;
  fs::path dir = requested.empty() ? fs::current_path(error) : fs::absolute(requested, error);
  if (!error) fs::create_directories(dir, error);
  if (error || !fs::is_directory(dir)) {
    print_error("cannot use " + (requested.empty() ? std::string(".") : requested) +
                " as the trace folder: " + (error ? error.message() : "not a folder"));
    return std::nullopt;
  }
  OutputPlan plan;
  plan.dir_here = dir.string();
  if (visible_at_same_path(target, plan.dir_here)) {
    plan.dir_in_target = plan.dir_here;
    return plan;
  }
  plan.copy_out = true;
  plan.dir_in_target = staging_dir_in_target(target) + "/traces-" + std::to_string(target.pid());
  fs::path inside = target.host_view(plan.dir_in_target);
  fs::create_directories(inside, error);
  std::ofstream(inside / kDestinationFile) << plan.dir_here << '\n';
  if (error) {
    print_error("cannot create " + inside.string() + " for the trace: " + error.message());
    return std::nullopt;
  }
  return plan;
}

struct LibraryPlan {
  std::string in_target;
  std::string here;
  std::string python_in_target;  // empty: no bridge
};

// The library as the target will dlopen it: the copy it already has mapped
// (a second attach after a detach; a second copy would only stand aside),
// the same file when the target sees it, else a copy inside the target.
std::optional<LibraryPlan> plan_library(const TargetProcess& target) {
  std::string error;
  if (std::optional<AttachChannel> loaded = AttachChannel::open(target.pid(), error)) {
    LibraryPlan plan{loaded->library_path(), target.host_view(loaded->library_path()), {}};
    fs::path python = fs::path(plan.in_target).parent_path() / "python";
    if (fs::exists(target.host_view(python.string()))) plan.python_in_target = python.string();
    return plan;
  }
  LibraryLookup library = locate_preload_library();
  if (!library.found) {
    print_error("cannot find liboomtrace.so at " + library.path +
                " (set OOMTRACE_LIBRARY to its path)");
    return std::nullopt;
  }
  LibraryPlan plan;
  plan.here = library.path;
  fs::path python_here = fs::path(library.path).parent_path() / "python";
  if (visible_at_same_path(target, library.path)) {
    plan.in_target = library.path;
    if (fs::exists(python_here)) plan.python_in_target = python_here.string();
    return plan;
  }
  std::string staging = staging_dir_in_target(target);
  std::optional<std::string> copied = copy_into_target(target, library.path, staging, error);
  if (!copied) {
    print_error(error);
    return std::nullopt;
  }
  plan.in_target = *copied;
  // The copy is the file the target maps: found there by its inode.
  plan.here = target.host_view(*copied);
  for (const char* bridge_file : {"oomtrace_bridge.py", "sitecustomize.py"}) {
    fs::path source = python_here / bridge_file;
    if (fs::exists(source) && copy_into_target(target, source.string(), staging + "/python", error)) {
      plan.python_in_target = staging + "/python";
    }
  }
  return plan;
}

// The pid as NVML will name it: ours is the outermost namespace we can see.
pid_t outer_pid_of(const TargetProcess& target) {
  std::optional<ProcessStatus> status = target.status();
  return status && !status->ns_pids.empty() ? status->ns_pids.front() : target.pid();
}

std::optional<AttachControlBlock> wait_for_state(pid_t pid, int timeout_s,
                                                 std::initializer_list<AttachState> wanted) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  std::string error;
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::optional<AttachChannel> channel = AttachChannel::open(pid, error)) {
      AttachControlBlock block{};
      if (channel->read(block)) {
        for (AttachState state : wanted) {
          if (static_cast<AttachState>(block.state) == state) return block;
        }
      }
    } else if (!TargetProcess(pid).exists()) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

// A path the target wrote, as the user can open it.
std::string user_view(const TargetProcess& target, const std::string& path_in_target) {
  if (visible_at_same_path(target, fs::path(path_in_target).parent_path().string())) {
    return path_in_target;
  }
  return target.host_view(path_in_target);
}

// The user's own folder for what one command leaves for the next:
// $XDG_RUNTIME_DIR when the session has one, else a folder of its own in
// /tmp that only this user may enter.
std::string attach_scratch_dir() {
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime && *runtime == '/') {
    return std::string(runtime) + "/oomtrace";
  }
  return "/tmp/oomtrace-cli-" + std::to_string(::geteuid());
}

// `attach -o FILE` is answered by a later `detach`: the wish waits in the
// user's own folder, named by the pid and the attach's generation so a
// recycled pid or a second attach never inherits it.
fs::path report_output_note(pid_t pid, uint32_t generation) {
  return fs::path(attach_scratch_dir()) / ("report-output." + std::to_string(pid) + "." + std::to_string(generation));
}

void remember_report_output(pid_t pid, uint32_t generation, const std::string& output_path) {
  std::error_code error;
  fs::path absolute = fs::absolute(output_path, error);
  fs::create_directories(attach_scratch_dir(), error);
  ::chmod(attach_scratch_dir().c_str(), 0700);
  std::ofstream note(report_output_note(pid, generation), std::ios::trunc);
  note << (absolute.empty() ? output_path : absolute.string()) << "\n";
  if (!note) print_note("cannot remember -o " + output_path + " for the detach; give it to `oomtrace detach -o` instead");
}

std::optional<std::string> take_report_output(pid_t pid, uint32_t generation) {
  fs::path note_path = report_output_note(pid, generation);
  std::ifstream note(note_path);
  std::string path;
  if (!std::getline(note, path) || path.empty()) return std::nullopt;
  std::error_code error;
  fs::remove(note_path, error);
  return path;
}

bool copy_report_to(const std::string& report_path, const std::string& output_path) {
  std::ifstream report(report_path, std::ios::binary);
  if (!report) {
    print_error("cannot read " + report_path + " to write it to " + output_path);
    return false;
  }
  std::string text((std::istreambuf_iterator<char>(report)), std::istreambuf_iterator<char>());
  return write_command_output(text, output_path);
}

}  // namespace

CLI::App* add_attach_command(CLI::App& app, AttachOptions& options) {
  CLI::App* command = app.add_subcommand(
      "attach", "Load the tracer into a running process (in a container too) and record until it "
                "fails or until `oomtrace detach`");
  command->add_option("pid", options.pid, "The process, by the PID this shell sees")->required();
  command->add_option("--dir", options.dir, "Folder for the trace and the report (default: here)");
  command->add_option("--timeout", options.timeout_s, "Seconds to wait for the library to start")
      ->check(CLI::PositiveNumber);
  command->footer("Example: oomtrace attach 4242 --dir /tmp/oom   ... then: oomtrace detach 4242\n");
  command->add_option("-o,--output", options.output_path,
                      "Also write the text report to FILE when `oomtrace detach` ends the recording")
      ->type_name("FILE");
  return command;
}

CLI::App* add_detach_command(CLI::App& app, DetachOptions& options) {
  CLI::App* command = app.add_subcommand(
      "detach", "Stop recording a process `oomtrace attach` joined, write its report, leave it running");
  command->add_option("pid", options.pid, "The process, by the PID this shell sees")->required();
  command->add_option("--timeout", options.timeout_s, "Seconds to wait for the report")
      ->check(CLI::PositiveNumber);
  add_output_option(*command, options.output_path);
  return command;
}

int attach_command(const AttachOptions& options) {
  if (std::optional<std::string> refusal = refuse_attach(options.pid)) {
    print_error(*refusal);
    return kExitBadInput;
  }
  TargetProcess target(options.pid);
  std::optional<OutputPlan> output = plan_output(target, options.dir);
  if (!output) return kExitBadInput;
  std::optional<LibraryPlan> library = plan_library(target);
  if (!library) return kExitBadInput;

  InjectionRequest request;
  request.pid = options.pid;
  request.library_in_target = library->in_target;
  request.library_here = library->here;
  request.options = "dir=" + output->dir_in_target + "\npid=" + std::to_string(outer_pid_of(target)) +
                    "\n" + (library->python_in_target.empty() ? "" : "python=" + library->python_in_target + "\n");
  InjectionResult injected = inject_library(request);
  if (injected.ptrace_errno != 0) {
    print_error(explain_ptrace_failure(options.pid, injected.ptrace_errno));
    return kExitBadInput;
  }
  if (!injected.ok) {
    print_error("could not load the tracer into process " + std::to_string(options.pid) + ": " +
                injected.error + "; the process runs on as it was");
    return kExitBadInput;
  }
  if (injected.begin_result == 1) {
    print_error("oomtrace is already attached to process " + std::to_string(options.pid) +
                "; run `oomtrace detach " + std::to_string(options.pid) + "` first");
    return kExitBadInput;
  }
  if (injected.begin_result != 0) {
    print_error("the tracer in process " + std::to_string(options.pid) +
                " refused to start (code " + std::to_string(injected.begin_result) + ")");
    return kExitBadInput;
  }
  std::optional<AttachControlBlock> block =
      wait_for_state(options.pid, options.timeout_s, {AttachState::Attached, AttachState::Failed});
  if (!block) {
    print_error("the tracer in process " + std::to_string(options.pid) + " did not start within " +
                std::to_string(options.timeout_s) + " s (or the process ended)");
    return kExitBadInput;
  }
  if (static_cast<AttachState>(block->state) == AttachState::Failed) {
    print_error("the tracer in process " + std::to_string(options.pid) + " could not start: " +
                block->message);
    return kExitBadInput;
  }
  std::string trace = output->copy_out
                          ? target.host_view(block->trace_path) + " (copied to " + output->dir_here +
                                " at detach)"
                          : std::string(block->trace_path);
  print_note("attached to process " + std::to_string(options.pid) + "; trace: " + trace);
  print_note(std::string("paths ") + block->message);
  if (!options.output_path.empty()) remember_report_output(options.pid, block->generation, options.output_path);
  print_note("stop with: oomtrace detach " + std::to_string(options.pid));
  return 0;
}

namespace {

// A trace written inside a container, where the user cannot see it: copied
// with its report to the folder the user named at attach.
std::string deliver(const TargetProcess& target, const std::string& trace_in_target) {
  fs::path inside = target.host_view(trace_in_target);
  std::ifstream destination_file(inside.parent_path() / kDestinationFile);
  std::string destination;
  if (!std::getline(destination_file, destination) || destination.empty()) {
    return user_view(target, trace_in_target);
  }
  std::string stem = inside.string().substr(0, inside.string().size() - std::string(".trace").size());
  std::error_code error;
  for (const std::string& file : {inside.string(), stem + ".report.txt", stem + ".report.json"}) {
    if (fs::exists(file)) {
      fs::copy_file(file, fs::path(destination) / fs::path(file).filename(),
                    fs::copy_options::overwrite_existing, error);
    }
  }
  return (fs::path(destination) / inside.filename()).string();
}

}  // namespace

int detach_command(const DetachOptions& options) {
  if (std::optional<std::string> refusal = refuse_detach(options.pid)) {
    print_error(*refusal);
    return kExitBadInput;
  }
  std::string error;
  std::optional<AttachChannel> channel = AttachChannel::open(options.pid, error);
  if (!channel || !channel->request_detach()) {
    print_error("cannot ask process " + std::to_string(options.pid) + " to detach" +
                (error.empty() ? "" : ": " + error));
    return kExitBadInput;
  }
  std::optional<AttachControlBlock> block =
      wait_for_state(options.pid, options.timeout_s, {AttachState::Detached});
  if (!block) {
    print_error("process " + std::to_string(options.pid) + " did not finish its report within " +
                std::to_string(options.timeout_s) + " s (or it ended; its trace stays readable)");
    return kExitBadInput;
  }
  TargetProcess target(options.pid);
  std::string trace = deliver(target, block->trace_path);
  std::string stem = trace.substr(0, trace.size() - std::string(".trace").size());
  print_note("detached from process " + std::to_string(options.pid) + ", which runs on; report: " +
             stem + ".report.txt");
  std::string output_path = options.output_path;
  std::optional<std::string> remembered = take_report_output(options.pid, block->generation);
  if (output_path.empty() && remembered) output_path = *remembered;
  if (!output_path.empty()) return copy_report_to(stem + ".report.txt", output_path) ? 0 : kExitBadInput;
  return 0;
}

}  // namespace oomtrace::cli
