// Where a command's result goes: standard output, or the file `-o FILE`
// names. Every command that prints a result takes -o.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace oomtrace::cli {

// Adds `-o,--output FILE` to a command.
void add_output_option(CLI::App& command, std::string& output_path);

// Writes text to output_path, or to standard output when it is empty. A file
// is written beside its final name and renamed into place, so a reader never
// sees half a report and an existing file is replaced only by a whole one.
// False (with one line on stderr naming the file) when it cannot be written.
bool write_command_output(const std::string& text, const std::string& output_path);

}  // namespace oomtrace::cli
