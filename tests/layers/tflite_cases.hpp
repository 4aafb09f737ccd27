// The TFLite layer conformance test (test_layers_tflite.cpp) dispatches each case file by its
// `op` field to one of these runners. Each runner builds the qk layer from the case's fields,
// runs it on the case's input and REQUIREs every output equal to `expected_output`; it is
// called once per ISA the machine supports (that ISA forced). Runners live beside the layers
// they test: tflite_cases_<family>.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qk_test {

using CaseRunner = void (*)(const nlohmann::json& c);

// tflite_cases_pool.cpp
void run_average_pool2d_case(const nlohmann::json& c);
void run_max_pool2d_case(const nlohmann::json& c);
// tflite_cases_elementwise.cpp
void run_add_case(const nlohmann::json& c);
void run_mul_case(const nlohmann::json& c);
void run_maximum_case(const nlohmann::json& c);
void run_minimum_case(const nlohmann::json& c);
void run_pad_case(const nlohmann::json& c);
// tflite_cases_softmax.cpp
void run_softmax_case(const nlohmann::json& c);
void run_batch_matmul_case(const nlohmann::json& c);
// tflite_cases_model.cpp: conv2d, depthwise_conv2d, fully_connected through the layers, and whole
// models (op "model") through the sequence runner.
void run_conv2d_case(const nlohmann::json& c);
void run_depthwise_conv2d_case(const nlohmann::json& c);
void run_fully_connected_case(const nlohmann::json& c);
void run_model_case(const nlohmann::json& c);

// JSON helpers shared by the runners.
template <class T>
std::vector<T> json_vector(const nlohmann::json& j, const char* key) {
  return j.at(key).get<std::vector<T>>();
}
inline std::size_t json_size(const nlohmann::json& j, const char* key) { return j.at(key).get<std::size_t>(); }
inline std::int32_t json_i32(const nlohmann::json& j, const char* key) { return j.at(key).get<std::int32_t>(); }

}  // namespace qk_test
