/* A preload library that does nothing: the exec tests check that the
   library removes only itself from LD_PRELOAD and keeps this one, in order. */
void fault_noop_preload_marker(void) {}
