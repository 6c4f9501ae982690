// How `oomtrace whatif` orders the settings it tried, and so which one the
// failure report recommends (report/whatif.h, rank_whatif_rows).
#include <catch2/catch.hpp>

#include "report/whatif/whatif.h"

using oomtrace::report::rank_whatif_rows;
using oomtrace::report::settings_changed;
using oomtrace::report::WhatIfRow;

namespace {

constexpr uint64_t MiB = 1ull << 20;

WhatIfRow row(const std::string& settings, uint64_t peak_mib, std::optional<uint64_t> oom_at = std::nullopt) {
  WhatIfRow result;
  result.settings = settings;
  result.peak_reserved_bytes = peak_mib * MiB;
  result.oom_at_event = oom_at;
  return result;
}

}  // namespace

TEST_CASE("ranking: a setting within 2 % of the least peak that adds fewer settings comes first") {
  std::vector<WhatIfRow> rows = {row("defaults", 3000, 17),
                                 row("expandable_segments:True", 2345),
                                 row("expandable_segments:True,roundup_power2_divisions:4", 2310),
                                 row("roundup_power2_divisions:4", 2900)};
  // 2345 is within 2 % of 2310: one setting beats two.
  CHECK(rank_whatif_rows(rows) == std::vector<size_t>{1, 2, 3, 0});
}

TEST_CASE("ranking: beyond 2 % the lower peak wins, however many settings it adds") {
  std::vector<WhatIfRow> rows = {row("defaults", 3000, 17),
                                 row("expandable_segments:True", 2400),
                                 row("expandable_segments:True,roundup_power2_divisions:4", 2310)};
  CHECK(rank_whatif_rows(rows) == std::vector<size_t>{2, 1, 0});
}

TEST_CASE("ranking: settings that fail come last, the latest failure first") {
  std::vector<WhatIfRow> rows = {row("defaults", 3000, 17), row("max_split_size_mb:128", 3000, 40),
                                 row("max_split_size_mb:256", 3000, 5), row("expandable_segments:True", 2900)};
  CHECK(rank_whatif_rows(rows) == std::vector<size_t>{3, 1, 0, 2});
}

TEST_CASE("ranking: the recorded settings that fit and need as little are kept") {
  std::vector<WhatIfRow> rows = {row("max_split_size_mb:512", 2000),
                                 row("expandable_segments:True,max_split_size_mb:512", 1990)};
  CHECK(rank_whatif_rows(rows).front() == 0);
}

TEST_CASE("settings_changed counts what a row adds to the recorded settings") {
  WhatIfRow recorded = row("max_split_size_mb:512", 0);
  CHECK(settings_changed(row("max_split_size_mb:512", 0), recorded) == 0);
  CHECK(settings_changed(row("expandable_segments:True,max_split_size_mb:512", 0), recorded) == 1);
  CHECK(settings_changed(row("max_split_size_mb:128,roundup_power2_divisions:4", 0), recorded) == 2);
  CHECK(settings_changed(row("defaults", 0), row("defaults", 0)) == 0);
  CHECK(settings_changed(row("expandable_segments:True", 0), row("defaults", 0)) == 1);
}
