/* Force-included (-include) into every C and C++ file that ends up in
   liboomtrace.so, and into the static libraries it links (interpose/
   CMakeLists.txt), so that the library loads on glibc as old as
   OOMTRACE_GLIBC_BASELINE (tests/scenarios/library_glibc_baseline_test.sh).

   glibc 2.32 and 2.34 moved the dl* functions from libdl and the pthread
   functions from libpthread into libc, each under a new symbol version; a
   build against a newer glibc imports those versions, which an older one
   lacks. The same functions remain under their original versions (in libc as
   compatibility symbols on a new glibc, in libdl.so.2 and libpthread.so.0 on
   an old one, which the library lists as dependencies), so each reference is
   pinned to its original version here. The implementation behind both
   versions is the same: nothing changes on a new glibc.

   Only references are pinned. A file must not define one of these names: the
   definition would take the pinned version, and the link fails on it (no
   such version node in exports.map). dlsym is not pinned: the library's own
   dlsym (dlsym_entry.S) answers its calls. Functions first added after the
   baseline are not listed: the baseline test names them if used. */
#ifndef OOMTRACE_GLIBC_BASELINE_H
#define OOMTRACE_GLIBC_BASELINE_H

#include <features.h>

#if defined(__GLIBC__)

#define OOMTRACE_PIN_VERSION_(symbol, version) __asm__(".symver " #symbol "," #symbol "@" version);

#if defined(__x86_64__)
/* The first version of each on x86-64 (2.2.5 unless it came later). */
#define OOMTRACE_PIN(symbol, x86_64_version) OOMTRACE_PIN_VERSION_(symbol, x86_64_version)
#elif defined(__aarch64__)
/* AArch64 starts at 2.17: every function here has that version. */
#define OOMTRACE_PIN(symbol, x86_64_version) OOMTRACE_PIN_VERSION_(symbol, "GLIBC_2.17")
#endif

#if defined(OOMTRACE_PIN)
/* libdl before 2.34. */
OOMTRACE_PIN(dladdr, "GLIBC_2.2.5")
OOMTRACE_PIN(dladdr1, "GLIBC_2.3.3")
OOMTRACE_PIN(dlclose, "GLIBC_2.2.5")
OOMTRACE_PIN(dlerror, "GLIBC_2.2.5")
OOMTRACE_PIN(dlinfo, "GLIBC_2.3.3")
OOMTRACE_PIN(dlmopen, "GLIBC_2.3.4")
OOMTRACE_PIN(dlopen, "GLIBC_2.2.5")
OOMTRACE_PIN(dlvsym, "GLIBC_2.2.5")

/* libpthread before 2.32 / 2.34. */
OOMTRACE_PIN(pthread_attr_getguardsize, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_attr_getstack, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_attr_getstacksize, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_attr_setguardsize, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_attr_setstack, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_attr_setstacksize, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_barrier_destroy, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_barrier_init, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_barrier_wait, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_cancel, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_create, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_detach, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_getattr_np, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_getcpuclockid, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_getname_np, "GLIBC_2.12")
OOMTRACE_PIN(pthread_getspecific, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_join, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_key_create, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_key_delete, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_kill, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_mutex_timedlock, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_mutex_trylock, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_mutexattr_destroy, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_mutexattr_getpshared, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_mutexattr_gettype, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_mutexattr_init, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_mutexattr_setpshared, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_mutexattr_settype, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_once, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_rwlock_destroy, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_rwlock_init, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_rwlock_rdlock, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_rwlock_tryrdlock, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_rwlock_trywrlock, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_rwlock_unlock, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_rwlock_wrlock, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_setname_np, "GLIBC_2.12")
OOMTRACE_PIN(pthread_setspecific, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_sigmask, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_spin_destroy, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_spin_init, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_spin_lock, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_spin_trylock, "GLIBC_2.2.5")
OOMTRACE_PIN(pthread_spin_unlock, "GLIBC_2.2.5")
/* libstdc++'s headers (gthr-posix.h) call this one. */
OOMTRACE_PIN(__pthread_key_create, "GLIBC_2.2.5")
#endif /* OOMTRACE_PIN */

#endif /* __GLIBC__ */

#endif /* OOMTRACE_GLIBC_BASELINE_H */
