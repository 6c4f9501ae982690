#include <algorithm>
#include <string>

#include <catch2/catch.hpp>

#include "cli/progress_bar.h"

using oomtrace::cli::ProgressBar;

TEST_CASE("the progress bar fills in proportion and names the work") {
  std::string empty = ProgressBar::render("reading a.trace", 0, 100, 80);
  std::string half = ProgressBar::render("reading a.trace", 50, 100, 80);
  std::string full = ProgressBar::render("reading a.trace", 100, 100, 80);
  CHECK(empty.find("] 0% reading a.trace") != std::string::npos);
  CHECK(half.find("] 50% reading a.trace") != std::string::npos);
  CHECK(full.find("] 100% reading a.trace") != std::string::npos);
  auto hashes = [](const std::string& line) { return std::count(line.begin(), line.end(), '#'); };
  CHECK(hashes(empty) == 0);
  CHECK(hashes(full) == 40);
  CHECK(hashes(half) == 20);
}

TEST_CASE("the progress bar never runs past the terminal or 100%") {
  std::string narrow = ProgressBar::render("reading a trace with a very long name indeed.trace", 5, 10, 30);
  CHECK(narrow.size() <= 29);
  CHECK(ProgressBar::render("x", 200, 100, 80).find("100% x") != std::string::npos);
  CHECK(ProgressBar::render("analysing a.trace", 0, 0, 80) == "analysing a.trace ...");
  CHECK(ProgressBar::render("analysing a trace with a long name.trace", 0, 0, 20).size() == 19);
}
