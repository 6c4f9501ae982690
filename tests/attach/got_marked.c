/* Imports victim_target but exports the test table's skip marker, as every
 * copy of liboomtrace.so exports oomtrace_instance_marker: never patched. */
int victim_target(int x);

int got_test_skip_marker(void) { return 1; }

int marked_call(int x) { return victim_target(x); }
