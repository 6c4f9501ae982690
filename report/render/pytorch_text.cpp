#include "report/render/pytorch_text.h"

#include <algorithm>
#include <cstdio>

#include "report/common/format_bytes.h"
#include "report/render/text_report.h"
#include "report/common/text_wrap.h"

namespace oomtrace::report {
namespace {

constexpr size_t kSitesShown = 5;
constexpr size_t kBlocksShown = 3;
constexpr size_t kFramesShown = 4;
constexpr size_t kFailureTimesShown = 3;

std::string seconds(uint64_t time_ns) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f s", static_cast<double>(time_ns) / 1e9);
  return text;
}

std::string hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

std::string percent(double ratio) {
  char text[16];
  std::snprintf(text, sizeof text, "%.1f%%", ratio * 100.0);
  return text;
}

std::string count_phrase(uint64_t count, const char* singular, const char* plural) {
  return std::to_string(count) + " " + (count == 1 ? singular : plural);
}

std::string failure_times(const Report& report, const PytorchSnapshotReport& snapshot) {
  std::string times;
  size_t shown = std::min(snapshot.failures.size(), kFailureTimesShown);
  for (size_t i = 0; i < shown; ++i) {
    times += (i == 0 ? "" : ", ") + seconds(report.failures[snapshot.failures[i]].time_ns);
  }
  if (snapshot.failures.size() > shown) times += ", ...";
  return times;
}

// The path on a line of its own, so it can be copied whole.
std::string heading(const Report& report, const PytorchSnapshotReport& snapshot) {
  std::string text = std::string("PyTorch memory snapshot (") + torch_snapshot_format_name(snapshot.analysis.format) +
                     " format): " + snapshot.path + "\n";
  if (!snapshot.time_ns) return text;
  std::string when = "Saved at " + seconds(*snapshot.time_ns);
  if (!snapshot.failures.empty()) {
    // PyTorch saves it between its failed CUDA calls and the exception.
    when += snapshot.failures.size() == 1 ? ", for the failure at " : ", for the failures at ";
    when += failure_times(report, snapshot);
  }
  return text + wrap(when + ".", "");
}

std::string held_lines(const TorchDeviceMemory& d) {
  std::string segments = count_phrase(d.segments, "segment", "segments") + " (" + std::to_string(d.large_segments) +
                         " large, " + std::to_string(d.small_segments) + " small" +
                         (d.expandable_segments ? ", " + std::to_string(d.expandable_segments) + " expandable" : "") +
                         ")";
  std::string text = "GPU " + std::to_string(d.device) + ": " + format_bytes(d.reserved_bytes) + " reserved in " +
                     segments + "\n";
  text += "  allocated: " + format_bytes(d.allocated_bytes) + " in " +
          count_phrase(d.active_allocated.blocks, "block", "blocks") + "\n";
  if (d.active_pending_free.blocks > 0) {
    text += "  pending free: " + format_bytes(d.pending_free_bytes) + " in " +
            count_phrase(d.active_pending_free.blocks, "block", "blocks") + " (freed, waiting on a stream)\n";
  }
  text += "  cached free: " + format_bytes(d.cached_free_bytes);
  if (d.inactive.blocks > 0) {
    text += " in " + count_phrase(d.inactive.blocks, "free block", "free blocks") + ", the largest " +
            format_bytes(d.largest_free_block_bytes);
  }
  text += "\n";
  if (d.fragmentation) text += "  fragmentation: " + percent(*d.fragmentation) + "\n";
  return text;
}

std::string sites_lines(const TorchDeviceMemory& d) {
  if (d.top_sites.empty()) return "";
  std::string text = "  Live memory by where it was allocated:\n";
  for (size_t i = 0; i < d.top_sites.size() && i < kSitesShown; ++i) {
    const TorchAllocationSite& site = d.top_sites[i];
    text += "    " + format_bytes(site.bytes) + " in " + count_phrase(site.blocks, "block", "blocks") + "  " +
            site.site + "\n";
  }
  return text;
}

std::string block_lines(const TorchLargeBlock& block) {
  std::string text = "    " + format_bytes(block.size) + " " + torch_block_state_name(block.state) + " at " +
                     hex(block.address);
  if (block.python_stack.empty()) return text + ": " + block.site + "\n";
  text += ", allocated at:\n";
  size_t shown = std::min(block.python_stack.size(), kFramesShown);
  for (size_t i = 0; i < shown; ++i) text += "      " + block.python_stack[i] + "\n";
  if (block.python_stack.size() > shown) text += "      ...\n";
  return text;
}

std::string largest_lines(const TorchDeviceMemory& d) {
  if (d.largest_blocks.empty()) return "";
  std::string text = "  Largest blocks in use:\n";
  for (size_t i = 0; i < d.largest_blocks.size() && i < kBlocksShown; ++i) text += block_lines(d.largest_blocks[i]);
  return text;
}

std::string history_lines(const TorchDeviceMemory& d) {
  std::string text;
  if (d.trace_events > 0) {
    std::string actions;
    for (const TorchActionCount& action : d.trace_actions) {
      actions += (actions.empty() ? "" : ", ") + std::to_string(action.count) + " " + action.action;
    }
    text += wrap("History: " + count_phrase(d.trace_events, "event", "events") + " (" + actions + ")", "  ");
  }
  if (d.last_oom) {
    std::string oom = "Last out-of-memory in the history: " + format_bytes(d.last_oom->requested_bytes) + " requested";
    if (d.last_oom->device_free_bytes) oom += ", " + format_bytes(*d.last_oom->device_free_bytes) + " free on the device";
    text += wrap(oom, "  ");
  }
  return text;
}

std::string settings_line(const std::vector<TorchSetting>& settings) {
  if (settings.empty()) return "";
  std::string text;
  for (const TorchSetting& setting : settings) text += (text.empty() ? "" : ", ") + setting.key + "=" + setting.json_value;
  return wrap("Allocator settings: " + text, "");
}

std::string snapshot_text(const Report& report, const PytorchSnapshotReport& snapshot) {
  std::string text = heading(report, snapshot);
  if (snapshot.analysis.devices.empty()) text += "The snapshot holds no segments.\n";
  for (const TorchDeviceMemory& device : snapshot.analysis.devices) {
    text += held_lines(device) + sites_lines(device) + largest_lines(device) + history_lines(device);
  }
  text += settings_line(snapshot.analysis.allocator_settings);
  for (const std::string& note : snapshot.analysis.notes) text += wrap(note, "Note: ");
  return text;
}

}  // namespace

std::string pytorch_text(const Report& report) {
  std::string text;
  for (const PytorchSnapshotReport& snapshot : report.pytorch) {
    text += (text.empty() ? "" : "\n") + snapshot_text(report, snapshot);
  }
  return text;
}

std::string render_torch_snapshot_text(const Report& report) {
  return pytorch_text(report) + "\n" + full_report_command(report.trace.path) + "\n";
}

}  // namespace oomtrace::report
