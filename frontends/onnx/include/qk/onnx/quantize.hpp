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
// The same QDQ model is what qk's network (network.hpp) lowers onto its integer layers, so the
// tool's output is checked against ONNX Runtime on the very file qk runs.
#pragma once

#include <memory>
#include <string>
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

enum class WeightScheme : int { int8_per_channel, int8_per_tensor };
const char* weight_scheme_name(WeightScheme w) noexcept;

struct PtqOptions {
  RangeMethod method = RangeMethod::minmax;
  WeightScheme weights = WeightScheme::int8_per_channel;
};

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
