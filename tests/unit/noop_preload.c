/* A preload library that does nothing: lets the CLI tests exercise
 * `oomtrace run` without the real liboomtrace.so or a GPU. */
void oomtrace_unit_noop_preload(void) {}
