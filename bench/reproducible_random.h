// xorshift64*: the same numbers on every machine and every run, with no
// <random> state, for the benchmarks' synthetic traces.
#pragma once

#include <cstdint>

struct ReproducibleRandom {
  uint64_t state = 0x9e3779b97f4a7c15ull;

  uint64_t next() {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 2685821657736338717ull;
  }
};
