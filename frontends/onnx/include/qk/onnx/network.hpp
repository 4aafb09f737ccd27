// qk/onnx/network.hpp - a quantized ONNX model (QDQ form) lowered onto qk's integer layers.
//
// The QDQ patterns it recognises are the ones ONNX Runtime's quantizer and quantize_qdq()
// write, for a chain of layers:
//   QuantizeLinear(graph input)                                   -> the input quantizer
//   DQ(x) , DQ(w) [, DQ(b)] -> Conv [-> Relu | Clip(0, hi)] -> Q   -> layers::Conv2D / DepthwiseConv2D
//   DQ(x) , DQ(w) [, DQ(b)] -> Gemm(transB) | MatMul [-> Relu] -> Q -> layers::FullyConnected
//   DQ(x) -> GlobalAveragePool -> Q                               -> layers::GlobalAveragePool
//   DQ(x) -> MaxPool | AveragePool -> Q                           -> layers::MaxPool2D / AveragePool2D
//   DQ(x) -> Flatten | Reshape -> Q (same scale)                  -> nothing (a view), if the order of
//                                                                    elements is the same in NHWC
//   DQ(graph output's producer)                                   -> the output dequantizer
// QOperator nodes (QLinearConv, QLinearMatMul) are first rewritten into the QDQ chains that mean
// the same (DQ -> Conv/MatMul -> Q) and lower as those; the two forms can be mixed (e.g. pools
// between DQ and Q). QLinearAdd, ConvInteger and MatMulInteger are not lowered (no branches in a
// Sequence; no dynamic quantization layer).
// Activations int8 (zero point any), weights int8 or int4 (ONNX INT4, per tensor or per output
// channel: layers' s4 weights) with zero point 0, biases int32 at
// input_scale * weight_scale. The layers compute TFLite's fixed-point arithmetic, not ONNX
// Runtime's float requantization: outputs may differ from ORT's by a rounding step where a value
// lands near a tie (tests/onnx measure how often).
//
// Per-block weights (DequantizeLinear with block_size) have no qk layer: StatusCode::unsupported.
// Anything else is an error naming the node. Built once (allocates); run() allocates nothing: the
// caller gives the arena (arena_size()).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "qk/fixed_point.hpp"
#include "qk/onnx/model.hpp"

namespace qk {
namespace onnx {

struct NetworkOptions {
  // The conv / FC layers' requantization: TFLite's double rounding (the default, what TFLite
  // and the conformance vectors compute) or single rounding, which matches a float simulation
  // of the same QDQ model (PyTorch fake quantization, ORT's float requantization) more closely:
  // a fine-tuned model is checked against its simulation with it (docs/ptq.md).
  RequantRounding rounding = RequantRounding::double_rounding;
};

class Network {
 public:
  Network();
  ~Network();
  Network(Network&&) noexcept;
  Network& operator=(Network&&) noexcept;

  // Lowers `qdq` for inputs of `batch` images (the model's NCHW input, float).
  Status build(const Model& qdq, std::size_t batch, std::string* error, const NetworkOptions& options = NetworkOptions());

  // Float NCHW input (batch x C x H x W as the model declares) -> float output (batch x classes),
  // through int8 layers. arena: arena_size() bytes.
  std::size_t arena_size() const noexcept;
  Status run(const float* input, float* output, void* arena, std::size_t arena_bytes) const noexcept;

  std::size_t input_count() const noexcept;   // floats per run
  std::size_t output_count() const noexcept;  // floats per run
  std::size_t layer_count() const noexcept;
  // One line per layer: "conv2d 28x28x1 -> 28x28x16", for the tool's report.
  std::string describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace onnx
}  // namespace qk
