// Byte counts as a person reads them: "2.00 GiB", "512.00 MiB", "100 bytes".
#pragma once

#include <cstdint>
#include <string>

namespace oomtrace::report {

std::string format_bytes(uint64_t bytes);

}  // namespace oomtrace::report
