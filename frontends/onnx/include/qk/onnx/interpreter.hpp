// qk/onnx/interpreter.hpp - runs a loaded ONNX graph with plain loops, as the ONNX spec defines
// each op: the float reference of the front end.
//
// What it is for: calibration (the observers see every node's float output), the fp32 baseline
// a quantized model is measured against, and executing QDQ models in float (QuantizeLinear then
// DequantizeLinear is fake quantization, which is what ONNX Runtime's QDQ semantics mean). It is
// checked against ONNX's own node tests (Debian libonnx-testdata). It is not the fast path: a
// quantized model runs on qk's layers.
//
// Supported: the ops of Model (model.hpp), 2-D convolution and pooling on NCHW tensors, float32
// arithmetic, int8/uint8 quantized ops, int32 accumulators. Anything else (a 1-D or 3-D conv, a
// uint8 Add) is a Status with a message naming the node, never a wrong answer. Every tensor the
// graph would create is size-checked first (1 GiB at most), so a hostile file cannot make it
// allocate without bound.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "qk/onnx/model.hpp"

namespace qk {
namespace onnx {

// Called after each node with the node and its outputs (in the node's output order).
using Observer = std::function<void(const Node& node, const std::vector<const Tensor*>& outputs)>;

// Bounds for running a model that is not trusted. The interpreter refuses any tensor over 1 GiB
// whatever these say; the work of one node (multiply-adds of a Conv, Gemm or MatMul, window taps
// of a pool) is not bounded unless max_work_per_node is set: a legal file can describe a conv
// whose loops run for hours (tests/fuzz/fuzz_onnx_load.cpp sets 2^26).
struct RunLimits {
  std::uint64_t max_work_per_node = 0;  // 0: no limit
};

// Runs `model` on `inputs` (one per model.inputs, in that order; dims concrete). Fills *outputs
// (one per model.outputs). On error *outputs is unchanged and *error names the node.
Status run_reference(const Model& model, const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs,
                     std::string* error, const Observer& observe = Observer(), const RunLimits& limits = RunLimits());

}  // namespace onnx
}  // namespace qk
