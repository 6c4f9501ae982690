#include "allocator/api.h"

#include <array>

namespace oomtrace {
namespace {

struct ApiInfo {
  std::string_view name;
  MemoryKind kind;
  bool is_free;
  bool stream_ordered;
};

// The stream-ordered (pool) calls are the ones named ...Async...: decided
// here, at compile time, not by a string search on every event.
constexpr bool named_async(std::string_view name) { return name.find("Async") != std::string_view::npos; }

constexpr std::array<ApiInfo, static_cast<size_t>(Api::Count)> kApis = {{
    {"unknown", MemoryKind::Device, false, false},
#define OOMTRACE_API_INFO(name, kind, is_free) {#name, MemoryKind::kind, is_free, named_async(#name)},
    OOMTRACE_API_LIST(OOMTRACE_API_INFO)
#undef OOMTRACE_API_INFO
}};

const ApiInfo& info(Api api) {
  auto index = static_cast<size_t>(api);
  return index < kApis.size() ? kApis[index] : kApis[0];
}

}  // namespace

std::string_view api_name(Api api) { return info(api).name; }

std::optional<Api> api_from_name(std::string_view name) {
  for (size_t i = 1; i < kApis.size(); ++i) {
    if (kApis[i].name == name) return static_cast<Api>(i);
  }
  return std::nullopt;
}

MemoryKind api_memory_kind(Api api) { return info(api).kind; }

bool api_is_free(Api api) { return info(api).is_free; }

bool api_is_stream_ordered(Api api) { return info(api).stream_ordered; }

std::string_view memory_kind_name(MemoryKind kind) {
  switch (kind) {
    case MemoryKind::Device: return "device";
    case MemoryKind::Managed: return "managed";
    case MemoryKind::HostPinned: return "host_pinned";
    case MemoryKind::PhysicalHandle: return "vmm_physical";
    case MemoryKind::AddressRange: return "vmm_address_range";
    case MemoryKind::Mapping: return "vmm_mapping";
    case MemoryKind::SubAllocation: return "sub_allocation";
  }
  return "unknown";
}

}  // namespace oomtrace
