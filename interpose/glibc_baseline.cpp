// Definitions inside liboomtrace.so of what a build against a new glibc and
// libstdc++ would otherwise import under versions the library's baseline
// lacks (glibc_baseline.h pins the rest). Each is local to the library
// (exports.map exports none), so it answers only the library's own calls, and
// the program and its other libraries keep glibc's and libstdc++'s.
#include <fcntl.h>
#include <new>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern "C" {

#if __GLIBC_PREREQ(2, 32)
// glibc 2.32: non-zero while the process is known to be single-threaded, so
// that libstdc++'s inline reference counting may skip atomic instructions.
// Zero means "maybe multi-threaded": always correct (only the atomic path is
// taken), including in a library dlopen()ed into a running, threaded process.
// glibc never writes this copy.
char __libc_single_threaded = 0;
#endif

#if __GLIBC_PREREQ(2, 33)
// stat and fstat became functions in glibc 2.33 (before, inline wrappers of
// __xstat and __fxstat). The system calls glibc itself makes on 64-bit
// targets, whose kernel struct stat is glibc's struct stat.
int stat(const char* __restrict path, struct stat* __restrict out) noexcept {
  return static_cast<int>(syscall(SYS_newfstatat, AT_FDCWD, path, out, 0));
}

int fstat(int fd, struct stat* out) noexcept {
  return static_cast<int>(syscall(SYS_fstat, fd, out));
}
#endif

}  // extern "C"

#if defined(_GLIBCXX_RELEASE) && _GLIBCXX_RELEASE >= 11
namespace std {

// GLIBCXX_3.4.29 (GCC 11): std::allocator<T>::allocate calls it, inline, for
// a count past what can exist. It does what libstdc++'s does.
[[noreturn]] void __throw_bad_array_new_length() { throw std::bad_array_new_length(); }

}  // namespace std
#endif
