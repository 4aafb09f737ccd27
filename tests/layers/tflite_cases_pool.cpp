// TFLite conformance runners for the pool layers (see tflite_cases.hpp).
// Placeholder: each runner fails until its layer exists.
#include <catch2/catch.hpp>

#include "layers/tflite_cases.hpp"

namespace qk_test {
void run_average_pool2d_case(const nlohmann::json&) { FAIL("no qk layer for average_pool2d yet"); }
void run_max_pool2d_case(const nlohmann::json&) { FAIL("no qk layer for max_pool2d yet"); }
}  // namespace qk_test
