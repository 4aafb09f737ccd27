// TFLite conformance runners for the elementwise layers (see tflite_cases.hpp).
// Placeholder: each runner fails until its layer exists.
#include <catch2/catch.hpp>

#include "layers/tflite_cases.hpp"

namespace qk_test {
void run_add_case(const nlohmann::json&) { FAIL("no qk layer for add yet"); }
void run_mul_case(const nlohmann::json&) { FAIL("no qk layer for mul yet"); }
void run_maximum_case(const nlohmann::json&) { FAIL("no qk layer for maximum yet"); }
void run_minimum_case(const nlohmann::json&) { FAIL("no qk layer for minimum yet"); }
void run_pad_case(const nlohmann::json&) { FAIL("no qk layer for pad yet"); }
}  // namespace qk_test
