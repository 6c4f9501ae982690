// Only the hooked functions, dlsym and the public API leave the library
// (hidden visibility everywhere else, and interpose/exports.map).
#pragma once

#define OOMTRACE_EXPORT extern "C" __attribute__((visibility("default")))
