/* The function the GOT tests redirect: the original adds 1. */
int victim_target(int x) { return x + 1; }
