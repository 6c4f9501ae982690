#include "interpose/diagnostics.h"

#include <atomic>
#include <memory>

#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace oomtrace::interpose {
namespace {

std::atomic<bool> g_warned[static_cast<size_t>(Warning::Count)];

spdlog::logger& logger() {
  // Never registered globally: the host may use spdlog itself.
  static auto* instance = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto* created = new spdlog::logger("oomtrace", std::move(sink));
    created->set_pattern("oomtrace: %v");
    return created;
  }();
  return *instance;
}

}  // namespace

void warn_once(Warning kind, const std::string& message) {
  if (g_warned[static_cast<size_t>(kind)].exchange(true)) return;
  try {
    logger().warn(message);
    logger().flush();
  } catch (...) {
  }
}

void warn_all_once(Warning kind, const std::vector<std::string>& messages) {
  if (messages.empty() || g_warned[static_cast<size_t>(kind)].exchange(true)) return;
  try {
    for (const std::string& message : messages) logger().warn(message);
    logger().flush();
  } catch (...) {
  }
}

void inform(const std::string& message) {
  try {
    logger().info(message);
    logger().flush();
  } catch (...) {
  }
}

void reset_warnings_after_fork() {
  for (auto& warned : g_warned) warned.store(false);
}

}  // namespace oomtrace::interpose
