/* oomtrace's public API, for allocators the library cannot see into.
 *
 * liboomtrace.so sees every allocation a program asks CUDA for, but not how
 * the program's own allocator (an arena, a caching pool) splits that memory:
 * a 4 GiB cudaMalloc handed out in 1000 blocks looks like one allocation.
 * Reporting each block as it is handed out and given back lets the report
 * say, at an out-of-memory, how much of the memory the process held was in
 * use, how large the largest free block was, and whether the failure was
 * fragmentation.
 *
 * Both calls are thread-safe, make no CUDA call and never fail. They do
 * nothing while no trace is open (before the program's first CUDA
 * allocation). A block must lie inside one allocation the process holds (a
 * cudaMalloc'd, cuMemAlloc'd or cudaMallocAsync'd range, or a cuMemMap'd
 * range); its device is that allocation's. A call that names memory no such
 * allocation contains, or frees a block never reported, is recorded and
 * counted as unmatched in the report. A block reported over blocks still
 * live replaces them (their frees were missed). A null pointer is ignored.
 *
 * The library is present only when preloaded, so call these through weak
 * declarations and only when they resolved (see README.md): define
 * OOMTRACE_OPTIONAL before including this header to get them declared weak.
 */
#ifndef OOMTRACE_OOMTRACE_H
#define OOMTRACE_OOMTRACE_H

#include <stddef.h>

#define OOMTRACE_API_VERSION 1

#ifdef OOMTRACE_OPTIONAL
#define OOMTRACE_API_DECLARATION __attribute__((weak))
#else
#define OOMTRACE_API_DECLARATION
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* `size` bytes at `ptr` were handed out of memory the process already holds. */
void oomtrace_pool_alloc(const void* ptr, size_t size) OOMTRACE_API_DECLARATION;

/* The block that starts at `ptr` went back to the allocator (which keeps the
 * memory: a cudaFree of the whole allocation is seen on its own). */
void oomtrace_pool_free(const void* ptr) OOMTRACE_API_DECLARATION;

#ifdef __cplusplus
}
#endif

#endif /* OOMTRACE_OOMTRACE_H */
