// Catch2 entry point of the fake CUDA self-test.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
