// Small pieces every JSON renderer of report/ shares.
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

namespace oomtrace::report {

// A value, or null when it is unknown: the reports never write an unknown
// figure as zero.
template <typename T>
nlohmann::ordered_json or_null(const std::optional<T>& value) {
  return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
}

}  // namespace oomtrace::report
