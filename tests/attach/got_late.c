/* Loaded after patching, through a patched dlopen. */
int victim_target(int x);

int late_call(int x) { return victim_target(x); }
