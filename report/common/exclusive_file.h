// Creates a file that did not exist and writes it whole. Reports land in
// folders other users may write to (/tmp), so never follow or reuse a path
// someone planted there.
#pragma once

#include <string>

namespace oomtrace::report {

// O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600. On failure returns false, fills
// error with one line, and leaves no partial file behind.
bool write_exclusive_file(const std::string& path, const std::string& content, std::string* error);

}  // namespace oomtrace::report
