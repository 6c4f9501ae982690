#include "report/analysis/leak_detection.h"

#include <algorithm>
#include <unordered_map>

#include "report/common/format_bytes.h"
#include "report/analysis/stack_text.h"

namespace oomtrace::report {
namespace {

struct SiteFigures {
  uint64_t bytes = 0;
  uint64_t count = 0;
};

using SiteMap = std::unordered_map<uint32_t, SiteFigures>;

bool is_device_memory(const Event& event) {
  MemoryKind kind = api_memory_kind(event.api);
  return kind == MemoryKind::Device || kind == MemoryKind::PhysicalHandle;
}

bool is_device_step(const Event& event) {
  if (!is_device_memory(event)) return false;
  if (event.type == EventType::Alloc) return event.device != kHostDevice;
  return event.type == EventType::Free;
}

// Device memory live at each step, by allocation site.
class LiveDeviceMemory {
 public:
  void apply(const Event& event) {
    auto& blocks = api_memory_kind(event.api) == MemoryKind::PhysicalHandle ? handles_ : pointers_;
    if (event.type == EventType::Alloc) {
      if (!blocks.emplace(event.address, Block{event.size, event.stack_id}).second) return;
      bytes_ += event.size;
      SiteFigures& site = sites_[event.stack_id];
      site.bytes += event.size;
      ++site.count;
      return;
    }
    auto found = blocks.find(event.address);
    if (found == blocks.end()) return;  // allocated before tracing began
    bytes_ -= found->second.size;
    SiteFigures& site = sites_[found->second.stack_id];
    site.bytes -= found->second.size;
    --site.count;
    blocks.erase(found);
  }

  uint64_t bytes() const { return bytes_; }
  const SiteMap& sites() const { return sites_; }

 private:
  struct Block {
    uint64_t size;
    uint32_t stack_id;
  };
  std::unordered_map<uint64_t, Block> pointers_;
  std::unordered_map<uint64_t, Block> handles_;
  uint64_t bytes_ = 0;
  SiteMap sites_;
};

struct Trough {
  size_t step = 0;  // index into the device steps
  uint64_t bytes = 0;
};

struct Series {
  std::vector<const Event*> steps;
  std::vector<uint64_t> live;  // after each step
  uint64_t peak = 0;
};

Series device_series(const trace::Trace& trace) {
  Series series;
  // Nearly every event of a long run is a step: sized once, not by doubling.
  series.steps.reserve(trace.events.size());
  series.live.reserve(trace.events.size());
  LiveDeviceMemory memory;
  for (const Event& event : trace.events) {
    if (!is_device_step(event)) continue;
    memory.apply(event);
    series.steps.push_back(&event);
    series.live.push_back(memory.bytes());
    series.peak = std::max(series.peak, memory.bytes());
  }
  return series;
}

std::vector<Trough> window_troughs(const Series& series) {
  std::vector<Trough> troughs;
  size_t count = series.live.size();
  for (size_t window = 0; window < kLeakWindows; ++window) {
    size_t begin = window * count / kLeakWindows;
    size_t end = (window + 1) * count / kLeakWindows;
    auto lowest = std::min_element(series.live.begin() + begin, series.live.begin() + end);
    troughs.push_back({static_cast<size_t>(lowest - series.live.begin()), *lowest});
  }
  return troughs;
}

size_t rises(const std::vector<Trough>& troughs) {
  size_t count = 0;
  for (size_t i = 1; i < troughs.size(); ++i) count += troughs[i].bytes > troughs[i - 1].bytes;
  return count;
}

bool grows_steadily(const std::vector<Trough>& troughs, uint64_t peak) {
  uint64_t noise = peak / 100;
  for (size_t i = 1; i < troughs.size(); ++i) {
    if (troughs[i].bytes + noise < troughs[i - 1].bytes) return false;
  }
  const Trough& first = troughs.front();
  const Trough& last = troughs.back();
  bool still_rising = last.bytes > troughs[troughs.size() / 2 - 1].bytes;
  bool large = last.bytes > first.bytes && last.bytes - first.bytes >= peak / 10;
  return rises(troughs) * 2 >= troughs.size() - 1 && still_rising && large;
}

SiteMap sites_after(const Series& series, size_t step) {
  LiveDeviceMemory memory;
  for (size_t i = 0; i <= step; ++i) memory.apply(*series.steps[i]);
  return memory.sites();
}

// The frame a person would look at: the first outside the CUDA libraries
// and oomtrace itself.
std::string telling_frame(const std::vector<std::string>& stack) {
  for (const std::string& frame : stack) {
    bool plumbing = frame.find("libcudart") != std::string::npos || frame.find("libcuda.") != std::string::npos ||
                    frame.find("liboomtrace") != std::string::npos;
    if (!plumbing) return frame;
  }
  return stack.empty() ? std::string() : stack.front();
}

std::vector<LeakSite> growing_sites(const trace::Trace& trace, const Series& series, const Trough& from,
                                    const Trough& to, FrameSymbolizer* symbolizer) {
  SiteMap before = sites_after(series, from.step);
  SiteMap after = sites_after(series, to.step);
  std::vector<LeakSite> sites;
  for (const auto& [stack_id, figures] : after) {
    const SiteFigures& old = before[stack_id];
    if (figures.bytes <= old.bytes) continue;
    LeakSite site;
    site.stack = describe_stack(trace, stack_id, symbolizer);
    site.frame = telling_frame(site.stack);
    site.growth_bytes = figures.bytes - old.bytes;
    site.count = figures.count > old.count ? figures.count - old.count : 0;
    sites.push_back(std::move(site));
  }
  std::sort(sites.begin(), sites.end(), [](const LeakSite& a, const LeakSite& b) {
    return a.growth_bytes != b.growth_bytes ? a.growth_bytes > b.growth_bytes : a.frame < b.frame;
  });
  if (sites.size() > kLeakSitesShown) sites.resize(kLeakSitesShown);
  return sites;
}

std::string leak_explanation(const std::vector<Trough>& troughs, uint64_t peak) {
  uint64_t growth = troughs.back().bytes - troughs.front().bytes;
  auto percent = static_cast<uint64_t>(static_cast<unsigned __int128>(growth) * 100 / peak);
  return "Live device memory grew steadily: its low point rose in " + std::to_string(rises(troughs)) + " of " +
         std::to_string(troughs.size() - 1) + " stretches of the run, from " + format_bytes(troughs.front().bytes) +
         " to " + format_bytes(troughs.back().bytes) + " (+" + format_bytes(growth) + ", " +
         std::to_string(percent) + "% of the " + format_bytes(peak) +
         " peak), and never came back down. Memory allocated and kept, such as a tensor held from one iteration "
         "to the next, grows like this.";
}

}  // namespace

LeakSignal detect_leak(const trace::Trace& trace, FrameSymbolizer* symbolizer) {
  LeakSignal signal;
  Series series = device_series(trace);
  if (series.live.size() < kLeakMinimumEvents) {
    signal.explanation = "Too few device allocations and frees (" + std::to_string(series.live.size()) +
                         ") to tell a trend.";
    return signal;
  }
  std::vector<Trough> troughs = window_troughs(series);
  if (!grows_steadily(troughs, series.peak)) {
    signal.explanation = "Live device memory did not grow steadily over the run.";
    return signal;
  }
  signal.suspected = true;
  signal.growth_bytes = troughs.back().bytes - troughs.front().bytes;
  signal.explanation = leak_explanation(troughs, series.peak);
  signal.sites = growing_sites(trace, series, troughs.front(), troughs.back(), symbolizer);
  return signal;
}

}  // namespace oomtrace::report
