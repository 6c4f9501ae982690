#include "report/render/text_report.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string_view>
#include <vector>

#include "report/common/format_bytes.h"
#include "report/render/pytorch_text.h"
#include "report/render/stack_folding.h"
#include "report/common/text_wrap.h"

namespace oomtrace::report {
namespace {

constexpr size_t kStackFramesShown = 8;
constexpr size_t kLiveShownPerDevice = 10;

std::string where(int device) {
  return device < 0 ? std::string("the host (pinned memory)") : "GPU " + std::to_string(device);
}

std::string seconds(uint64_t time_ns) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f s", static_cast<double>(time_ns) / 1e9);
  return text;
}

std::string count_phrase(uint64_t count, const char* singular, const char* plural) {
  return std::to_string(count) + " " + (count == 1 ? singular : plural);
}

// Quotes a path for a POSIX shell only when it needs it, so the common case
// stays easy to read and the odd one still pastes correctly.
std::string shell_quoted(const std::string& text) {
  bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("/._-+:,@%=").find(c) != std::string_view::npos;
  });
  if (plain) return text;
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string headline(const FailureReport& f) {
  std::vector<std::string> facts;
  if (f.device_name) facts.push_back(*f.device_name);
  facts.push_back(f.device_total_bytes ? format_bytes(*f.device_total_bytes) + " total" : "total unknown");
  facts.push_back(f.device_free_bytes ? format_bytes(*f.device_free_bytes) + " free" : "free unknown");
  std::string joined;
  for (const std::string& fact : facts) joined += (joined.empty() ? "" : ", ") + fact;
  // A failure the framework raised has no CUDA call: name the framework.
  std::string call = f.api != Api::Unknown ? std::string(api_name(f.api))
                                           : "a " + f.framework.value_or("framework") + " allocation";
  return "CUDA out of memory: " + call + " of " + format_bytes(f.requested_bytes) + " failed on " + where(f.device) +
         " (" + joined + ")\n";
}

std::string outside_holders(const FailureReport& f) {
  if (!f.other_bytes) return "unknown (the driver did not report the device's memory)";
  std::string text = format_bytes(*f.other_bytes);
  if (!f.nvml_known) return text + " (NVML unavailable: cannot name the processes)";
  if (f.other_processes.empty()) return text + " (NVML listed no other process)";
  std::string pids;
  for (const OtherProcess& other : f.other_processes) {
    pids += (pids.empty() ? "" : ", ") + ("pid " + std::to_string(other.pid) + ": " + format_bytes(other.used_bytes));
  }
  return text + " (" + pids + ")";
}

// The program's Python frames come first: they name the line to change.
// Symbolized stacks fold the libraries' frames, so the program's own fit in
// the frames shown.
std::string stack_lines(const std::vector<std::string>& python_stack, const std::vector<std::string>& native,
                        bool fold) {
  if (native.empty() && python_stack.empty()) return "Where: no stack was recorded for this call\n";
  const std::vector<std::string> stack = fold ? fold_plumbing_frames(native) : native;
  std::string text = "Where (innermost first):\n";
  for (const std::string& frame : python_stack) text += "  " + frame + "\n";
  size_t shown = std::min(stack.size(), kStackFramesShown);
  for (size_t i = 0; i < shown; ++i) text += "  " + stack[i] + "\n";
  if (stack.size() > shown) text += "  ... " + count_phrase(stack.size() - shown, "more frame", "more frames") + "\n";
  return text;
}

std::string failure_in_full(const FailureReport& f, bool fold_stack) {
  std::string text = headline(f);
  // A failure read from the framework's message knows the bytes, not the segments.
  text += "This process held: " + format_bytes(f.process_reserved_bytes) +
          (f.process_segments > 0 ? " in " + count_phrase(f.process_segments, "allocation", "allocations") : "") + "\n";
  text += "Other processes and the CUDA context held: " + outside_holders(f) + "\n";
  text += "Verdict: " + (f.verdict ? verdict_name(*f.verdict) : std::string("unknown")) + "\n";
  text += wrap(f.explanation, "Why: ");
  if (!f.suggestions.empty()) {
    text += "Try:\n";
    for (size_t i = 0; i < f.suggestions.size(); ++i) {
      const Suggestion& s = f.suggestions[i];
      text += wrap(s.setting + " -- " + s.reason, "  " + std::to_string(i + 1) + ". ");
    }
  }
  text += stack_lines(f.python_stack, f.stack, fold_stack);
  return text;
}

std::string failure_in_one_line(const FailureReport& f) {
  return "  - at " + seconds(f.time_ns) + ": " + std::string(api_name(f.api)) + " of " +
         format_bytes(f.requested_bytes) + " on " + where(f.device) + ", " +
         (f.verdict ? verdict_name(*f.verdict) : std::string("verdict unknown")) + ", " +
         (f.recovered ? "recovered" : "not recovered") + "\n";
}

// The last unrecovered failure first: nothing succeeded after it, so it is
// the one that most likely stopped the process (an earlier unrecovered one is
// often a probe the program handled). Then the other unrecovered ones and the
// recovered ones, each group in call order.
std::vector<const FailureReport*> by_importance(const std::vector<FailureReport>& failures) {
  std::vector<const FailureReport*> ordered;
  for (const FailureReport& f : failures) ordered.push_back(&f);
  auto recovered_begin = std::stable_partition(ordered.begin(), ordered.end(),
                                               [](const FailureReport* f) { return !f->recovered; });
  if (recovered_begin != ordered.begin()) std::rotate(ordered.begin(), recovered_begin - 1, recovered_begin);
  return ordered;
}

std::string failures_section(const Report& report) {
  std::vector<const FailureReport*> ordered = by_importance(report.failures);
  std::string text = failure_in_full(*ordered.front(), report.symbolized);
  if (ordered.size() > 1) {
    text += "\nOther out-of-memory failures (" + std::to_string(ordered.size() - 1) + "):\n";
    for (size_t i = 1; i < ordered.size(); ++i) text += failure_in_one_line(*ordered[i]);
  }
  return text;
}

std::string device_label(const Report& report, int index) {
  for (const DeviceSummary& device : report.devices) {
    if (device.index == index && device.name) return "GPU " + std::to_string(index) + " (" + *device.name + ")";
  }
  return "GPU " + std::to_string(index);
}

std::string summary_paragraph(const Report& report) {
  std::string text = "No CUDA out-of-memory failure. The process made " +
                     count_phrase(report.totals.allocations, "allocation", "allocations") + " and " +
                     count_phrase(report.totals.frees, "free", "frees") + ".";
  for (const DeviceSummary& device : report.devices) {
    text += " Peak reserved on " + device_label(report, device.index) + ": " +
            format_bytes(device.peak_reserved_bytes) +
            (device.total_bytes ? " of " + format_bytes(*device.total_bytes) : std::string()) + ".";
  }
  for (const LiveOnDevice& live : report.live_at_end) {
    text += " Live at end on GPU " + std::to_string(live.device) + ": " + format_bytes(live.bytes) + " in " +
            count_phrase(live.count, "allocation", "allocations") + ".";
  }
  if (report.host_pinned.peak_bytes > 0) {
    text += " Host-pinned peak: " + format_bytes(report.host_pinned.peak_bytes) + ".";
  }
  // A plain exit is the expected case; anything else (a signal) is news.
  if (report.trace.exit_reason && !report.trace.exit_reason->empty() && *report.trace.exit_reason != "exit") {
    text += " The process ended with: " + *report.trace.exit_reason + ".";
  }
  return wrap(text, "");
}

std::string live_allocation_line(const LiveAllocationSummary& allocation, bool symbolized) {
  std::string line = "  " + format_bytes(allocation.size) + "  " + std::string(api_name(allocation.api)) +
                     "  at " + seconds(allocation.time_ns);
  if (!allocation.stack.empty()) {
    line += "  in " + (symbolized ? first_program_frame(allocation.stack) : allocation.stack.front());
  }
  return line + "\n";
}

std::string killed_paragraph(const Report& report) {
  std::string sentence = report.trace.description + ".";
  sentence[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(sentence[0])));
  return wrap(sentence, "");
}

// After a kill nothing was freed at exit, so what was live is what the
// process held when it died.
std::string live_at_last_event(const Report& report) {
  std::string text;
  for (const LiveOnDevice& live : report.live_at_end) {
    if (live.count == 0) continue;
    if (text.empty()) text += "Live allocations at the last event:\n";
    text += device_label(report, live.device) + ": " + format_bytes(live.bytes) + " in " +
            count_phrase(live.count, "allocation", "allocations") + (live.count > 1 ? ", largest first" : "") +
            "\n";
    size_t shown = std::min(live.top.size(), kLiveShownPerDevice);
    for (size_t i = 0; i < shown; ++i) text += live_allocation_line(live.top[i], report.symbolized);
  }
  return text.empty() ? "No device memory was live at the last event.\n" : text;
}

// One line: the JSON report has the sites and their stacks.
// failing_line: the innermost Python frame of the last failure, when known.
std::string leak_line(const LeakSignal& leak, const std::optional<std::string>& failing_line) {
  std::string line = "Leak suspected: live device memory grew by " + format_bytes(leak.growth_bytes) +
                     " over the run and never came back down";
  // A Python line says more than the native frame of the framework's
  // allocator, so it replaces it when known.
  if (!leak.python_sites.empty()) {
    const TorchAllocationSite& top = leak.python_sites.front();
    line += ". PyTorch's last snapshot holds most live memory from " + top.site + " (" + format_bytes(top.bytes) +
            " in " + count_phrase(top.blocks, "block", "blocks") + "): look for what keeps those tensors alive.";
  } else if (failing_line) {
    line += ". The allocation that ran out of memory was made at " + *failing_line +
            "; OOMTRACE_TORCH_HISTORY=1 names the line of every live block.";
  } else if (!leak.sites.empty() && !leak.sites.front().frame.empty()) {
    line += " (most at " + leak.sites.front().frame + ", +" + format_bytes(leak.sites.front().growth_bytes) + ").";
  } else {
    line += ".";
  }
  return wrap(line, "");
}

// A process `oomtrace attach` joined: what it held then, and what the
// library could and could not see, so the reader knows what the figures
// above leave out.
std::string attach_section(const AttachSummary& attach) {
  std::string text = "\nAttached mid-run (oomtrace attach): the totals above count what happened after it.\n";
  for (const AttachDevice& device : attach.devices) {
    std::string line = "GPU " + std::to_string(device.device) + ": " +
                       format_bytes(device.held_bytes) + " held before attach, origin unknown";
    if (device.total_bytes && device.free_bytes) {
      line += " (device used " + format_bytes(*device.total_bytes - *device.free_bytes) + " of " +
              format_bytes(*device.total_bytes) + ")";
    }
    text += wrap(line + ".", "  ");
  }
  for (const AttachPathSummary& path : attach.paths) {
    text += wrap(path.detail + ".", path.covered ? "  covered:     " : "  not covered: ");
  }
  return text;
}

// Which process of a distributed job wrote the trace: with many ranks'
// reports side by side, the first thing to know about each.
std::string rank_line(const ProcessSummary& process) {
  std::string line = "Rank " + std::to_string(*process.rank);
  if (process.world_size) line += " of " + std::to_string(*process.world_size);
  if (process.local_rank) line += " (local rank " + std::to_string(*process.local_rank) + ")";
  if (!process.host.empty()) line += " on " + process.host;
  if (process.pid) line += ", pid " + std::to_string(*process.pid);
  return line + "\n";
}

// Reports written at exit come from inside the traced process, which never
// reads debug information: say which command adds the source lines.
std::string source_lines_hint(const Report& report) {
  bool native_stack = std::any_of(report.failures.begin(), report.failures.end(),
                                  [](const FailureReport& f) { return !f.stack.empty(); });
  if (report.symbolized || !native_stack) return {};
  return "File and line of each native frame: oomtrace report " + shell_quoted(report.trace.path) + "\n";
}

}  // namespace

std::string full_report_command(const std::string& trace_path) {
  return "Full report: oomtrace report --format json " + shell_quoted(trace_path);
}

std::string render_text(const Report& report) {
  if (report.input == ReportInput::TorchSnapshot) return render_torch_snapshot_text(report);
  std::string text;
  if (!report.failures.empty()) {
    text = failures_section(report);
    if (!report.trace.complete) text += "\n" + killed_paragraph(report) + live_at_last_event(report);
  } else if (!report.trace.complete) {
    // Killed without a CUDA failure (often the kernel's OOM killer): the
    // kill is the news.
    text = killed_paragraph(report) + "\n" + summary_paragraph(report) + live_at_last_event(report);
  } else {
    text = summary_paragraph(report);
  }
  if (report.leak_suspected.suspected) {
    std::optional<std::string> failing_line;
    if (!report.failures.empty() && !report.failures.back().python_stack.empty()) {
      failing_line = report.failures.back().python_stack.front();
    }
    text += "\n" + leak_line(report.leak_suspected, failing_line);
  }
  if (!report.pytorch.empty()) text += "\n" + pytorch_text(report);
  if (report.attach) text += attach_section(*report.attach);
  if (!report.notes.empty()) {
    text += "\nNotes:\n";
    for (const std::string& note : report.notes) text += wrap(note, "  - ");
  }
  if (report.simulated_gpu) {
    text += "\nSimulated GPU (" + *report.simulated_gpu +
            "): this run used oomtrace's simulated device, not a real one.\n";
  }
  if (report.process.rank) text += "\n" + rank_line(report.process);
  return text + "\n" + source_lines_hint(report) + full_report_command(report.trace.path) + "\n";
}

}  // namespace oomtrace::report
