/* Sleeps on musl libc: `oomtrace attach` must refuse it by name. */
#include <unistd.h>

int main(void) {
  sleep(60);
  return 0;
}
