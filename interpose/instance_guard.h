// One process, one recording instance. liboomtrace.so can end up loaded more
// than once: LD_PRELOAD naming two copies at different paths (the dynamic
// linker loads a file only once, but two files are two objects), or a copy
// dlopen()ed by a tool while another is preloaded. Each copy would record
// every call and write its own trace. So every copy exports the marker
// oomtrace_instance_marker, and the instance that records is the first
// object in the dynamic linker's list of loaded objects that exports it:
// load order, which is also the order in which symbol lookup reaches the
// preloaded copies, so the program's calls land on the recording one. Every
// other instance passes each call straight through and writes nothing.
//
// The decision is made once (from the library's constructor, or from the
// first hook that runs before it) and is the same in every instance.
#pragma once

#include <cstddef>
#include <sys/types.h>

namespace oomtrace::interpose {

// True in the instance that records; false in every other copy.
bool this_instance_records();

// True when `address` lies inside any copy of liboomtrace.so (this one or
// another), so that symbol resolution never takes a copy's wrapper for the
// real function.
bool is_inside_an_instance(const void* address);

// The files of the copies loaded when the decision was made, for the exec
// hooks to recognise them in LD_PRELOAD. Safe to read from a signal handler
// or a vforked child: a fixed array, filled once.
struct InstanceFile {
  dev_t device;
  ino_t inode;
  const char* path;  // the loader's name for the object (as in LD_PRELOAD)
};
size_t instance_files(const InstanceFile** files);

}  // namespace oomtrace::interpose
