// qk/onnx/quantize.hpp - post-training quantization of a float ONNX model into standard QDQ form.
//
//   Calibrator cal;                       // one range observer per activation tensor
//   cal.init(model, options, &err);
//   for (each calibration batch) cal.observe({batch}, &err);   // runs the reference interpreter
//   Model qdq;
//   quantize_qdq(model, cal, options, &qdq, &err);             // QuantizeLinear/DequantizeLinear inserted
//   std::string bytes; save(qdq, &bytes, &err);                // an .onnx ONNX Runtime loads
//
// The QDQ graph is what ONNX Runtime's own quantizer writes ("QDQ format"): every activation
// tensor T that a layer boundary produces becomes producer -> T/float -> QuantizeLinear -> T/q ->
// DequantizeLinear -> T, so consumers keep reading T; weights become int8 initializers behind a
// DequantizeLinear (per output channel: axis 0 for Conv, the output axis for Gemm/MatMul); biases
// become int32 with scale input_scale * weight_scale, zero point 0. Relu and Clip(0, x) that
// follow a Conv/Gemm are fused: the producer's output is not quantized, the activation's is.
// MaxPool, Flatten and Reshape keep their input's scale and zero point (they only move values).
// Activations are int8 asymmetric, [-128, 127] (TFLite's and ORT's S8S8 convention); weights
// int8 symmetric [-127, 127] per channel or per tensor. The graph's outputs always take their
// min/max range, whatever the method: clipping logits turns the largest ones into ties.
//
// Other schemes (PtqOptions::activations / weights):
//   - int16 activations: the same graph, activation Q/DQ with an INT16 zero point (0, symmetric
//     [-32767, 32767]); the file is opset 21, IR version 10 (int16 QuantizeLinear). Biases stay
//     int32 at input_scale * weight_scale unless one value of a bias would saturate int32
//     (|b / s| > 2^31 - 128): that bias is then kept float, a plain initializer with no DQ. (On
//     the Fashion-MNIST CNN no bias comes near: the largest |b / s| is 5.3e6, 400x below.)
//   - dynamic int8: what ONNX Runtime's quantize_dynamic writes. Per Conv/Gemm/MatMul: x ->
//     DynamicQuantizeLinear -> ConvInteger / MatMulInteger (int8 symmetric weights, no weight
//     zero point: ORT 1.30's ConvInteger refuses per-channel zero points, and accepts int8 weights)
//     -> Cast(FLOAT) -> Mul by x_scale * w_scale ([1, O, 1, 1] or [N]) -> Add the float bias.
//     Gemm (transB) weights are stored transposed, [K, N]. Nothing is calibrated.
//   - fp16 weights (float32 activations): every float Conv/Gemm/MatMul weight and bias becomes a
//     FLOAT16 initializer NAME/fp16 behind Cast(to = FLOAT) -> NAME; nothing else changes.
//
// W4A8 / W3A8 (int4_per_channel, int4_per_block, int3_*): opset 21, IR version 10. Weights are
// symmetric INT4 codes (zero point omitted) in [-7, 7], or [-3, 3] for int3, stored as INT4.
// Per channel: DequantizeLinear(axis) as for int8, biases int32 at input_scale * weight_scale.
// Per block: blocks of block_size along the reduction. A Conv weight [O, I, kh, kw] is stored as
// a 2-D INT4 initializer [O, I*kh*kw] (ONNX's im2col order) -> DequantizeLinear(axis 1,
// block_size) -> Reshape (an int64 [O, I, kh, kw] initializer) -> the name the Conv reads; Gemm
// transB [N, K] blocks along axis 1, MatMul (and Gemm without transB) [K, N] along axis 0. With
// per-block weights there is no single weight scale per output channel, so biases stay plain
// float initializers (no DequantizeLinear). Scales: WeightRange below; an all-zero channel or
// block gets scale 1.
//
// The same QDQ model is what qk's network (network.hpp) lowers onto its integer layers, so the
// tool's output is checked against ONNX Runtime on the very file qk runs.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "qk/onnx/model.hpp"

namespace qk {
namespace onnx {

// How an activation's range is chosen from calibration data (qk/quantize/calibration.hpp).
enum class RangeMethod : int {
  minmax,          // MinMaxObserver: global min and max
  moving_average,  // MovingAverageMinMaxObserver: per batch, averaging constant 0.01
  mean_k_sigma,    // MeanKSigmaObserver: mean +- k sigma (k = 3) inside min/max
  percentile,      // PercentileObserver: 99.99th percentile of |x|, 2048 bins
  entropy,         // EntropyObserver: TensorRT's KL-divergence threshold
  mse,             // HistogramObserver: PyTorch's L2-error range search
};
const char* range_method_name(RangeMethod m) noexcept;
bool parse_range_method(const std::string& s, RangeMethod* out) noexcept;

// How weights are stored. Integer weights are symmetric, zero point 0, in
// [-(2^(b-1) - 1), 2^(b-1) - 1]; int4 and int3 are stored as ONNX INT4 (data type 22, opset 21,
// two per byte), int3 being int4 restricted to [-3, 3] (ONNX has no 3-bit type).
enum class WeightScheme : int {
  int8_per_channel,  // one scale per output channel (axis 0 for Conv, the output axis for Gemm/MatMul)
  int8_per_tensor,   // one scale
  int4_per_channel,  // W4A8 per channel
  int4_per_block,    // W4A8, one scale per output channel and block of block_size along the input
                     // (DequantizeLinear's block_size, opset 21)
  int3_per_channel,
  int3_per_block,
  fp16,              // float16 initializers behind Cast: weights 2x smaller, arithmetic float
};
const char* weight_scheme_name(WeightScheme w) noexcept;
bool parse_weight_scheme(const std::string& s, WeightScheme* out) noexcept;
int weight_scheme_bits(WeightScheme w) noexcept;  // 8, 4, 3 or 16

// How a weight scale is chosen from the weights of its channel or block.
enum class WeightRange : int {
  minmax,  // scale = max |w| / qmax
  mse,     // the clip c <= max |w| (a grid of 100 candidates) that minimises sum (w - dq(q(w)))^2
};
const char* weight_range_name(WeightRange r) noexcept;
bool parse_weight_range(const std::string& s, WeightRange* out) noexcept;

// How activations are quantized.
enum class ActivationScheme : int {
  int8,          // static: calibrated int8 per tensor (asymmetric), QDQ
  int16,         // static: calibrated int16 per tensor, symmetric (zero point 0), QDQ (opset 21)
  dynamic_int8,  // dynamic: each input quantized at run time (DynamicQuantizeLinear, uint8) with
                 // int8 weights (ConvInteger / MatMulInteger), nothing calibrated
  float32,       // not quantized (the fp16-weights scheme)
};
const char* activation_scheme_name(ActivationScheme a) noexcept;
bool parse_activation_scheme(const std::string& s, ActivationScheme* out) noexcept;

struct PtqOptions {
  RangeMethod method = RangeMethod::minmax;
  WeightScheme weights = WeightScheme::int8_per_channel;
  WeightRange weight_range = WeightRange::minmax;
  std::size_t block_size = 32;  // int4/int3 per block: 32, 64 or 128 (a power of two >= 16)
  ActivationScheme activations = ActivationScheme::int8;
  // Per-tensor observer choices that override `method` (and the graph outputs' min/max) for the
  // named activation tensors, e.g. min/max for a spiky first-layer output, entropy elsewhere.
  // A name that is not a calibrated activation is an error of Calibrator::init.
  std::vector<std::pair<std::string, RangeMethod>> method_for;
};
// Whether the combination is one quantize_qdq writes (fp16 goes with float32 activations only,
// dynamic_int8 with int8 weights, int16 with int8 weights); the reason otherwise.
Status check_options(const PtqOptions& options, std::string* error);

// One observer per activation tensor that the QDQ model will quantize with its own range.
class Calibrator {
 public:
  Calibrator();
  ~Calibrator();
  Calibrator(Calibrator&&) noexcept;
  Calibrator& operator=(Calibrator&&) noexcept;

  Status init(const Model& model, const PtqOptions& options, std::string* error);
  // Runs the reference interpreter on one batch and feeds every observed tensor.
  Status observe(const std::vector<Tensor>& inputs, std::string* error);
  // The calibrated int8 scale and zero point of tensor `name`.
  Status params(const std::string& name, float* scale, std::int32_t* zero_point, std::string* error) const;
  // The int16 symmetric scale of tensor `name`: the same observed range as params(), then
  // scale = max(|lo|, |hi|) / 32767, zero point 0 (only the final parameter step differs).
  Status params16(const std::string& name, float* scale, std::string* error) const;
  std::size_t batches() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// float model + calibrated ranges -> QDQ model (see above). The float model must be the one the
// calibrator was initialised with. Errors name the node that cannot be quantized.
Status quantize_qdq(const Model& model, const Calibrator& calibrator, const PtqOptions& options, Model* qdq,
                    std::string* error);

// Serializes a Model (loaded, or made by quantize_qdq) into ModelProto bytes.
Status save(const Model& model, std::string* bytes, std::string* error);

}  // namespace onnx
}  // namespace qk
