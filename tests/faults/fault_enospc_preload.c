/* A full disk without a small filesystem (where mounting one is not
   permitted): preloaded after liboomtrace.so, it makes posix_fallocate fail
   with ENOSPC, as a full filesystem does, for every request that reaches
   past FAULT_DISK_BYTES in its file. The trace writer grows its file only
   through posix_fallocate, so this is the full disk it would meet. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

typedef int (*fallocate_function)(int, off_t, off_t);

static int limited(off_t offset, off_t length) {
  const char* limit = getenv("FAULT_DISK_BYTES");
  return limit && offset + length > strtoll(limit, NULL, 10);
}

int posix_fallocate(int fd, off_t offset, off_t length) {
  if (limited(offset, length)) return ENOSPC;
  fallocate_function real = (fallocate_function)dlsym(RTLD_NEXT, "posix_fallocate");
  return real ? real(fd, offset, length) : ENOSYS;
}

int posix_fallocate64(int fd, off_t offset, off_t length) {
  if (limited(offset, length)) return ENOSPC;
  fallocate_function real = (fallocate_function)dlsym(RTLD_NEXT, "posix_fallocate64");
  return real ? real(fd, offset, length) : ENOSYS;
}
