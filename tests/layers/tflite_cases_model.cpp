// TFLite conformance runners for the model layers (see tflite_cases.hpp).
// Placeholder: each runner fails until its layer exists.
#include <catch2/catch.hpp>

#include "layers/tflite_cases.hpp"

namespace qk_test {
void run_conv2d_case(const nlohmann::json&) { FAIL("no qk layer for conv2d yet"); }
void run_depthwise_conv2d_case(const nlohmann::json&) { FAIL("no qk layer for depthwise_conv2d yet"); }
void run_fully_connected_case(const nlohmann::json&) { FAIL("no qk layer for fully_connected yet"); }
void run_model_case(const nlohmann::json&) { FAIL("no qk layer for model yet"); }
}  // namespace qk_test
