// qk/onnx/model.hpp - the optional ONNX front end: a model file read into a plain graph.
//
// Outside the header-only core (frontends/onnx, CMake target qk::onnx): it links Debian's
// libonnx-dev protobuf classes, which the core must never need. Nothing in include/qk includes
// this; this includes qk/core/status.hpp only, for the error type.
//
// What load() guarantees about a Model it returns ok:
//   - every node's op is one qk supports (kSupportedOps in model.cpp; the default domain, plus
//     QLinearAdd from com.microsoft), every attribute present is one qk reads for that op, with the
//     type ONNX gives it: anything else is an error naming the op, the node and the attribute,
//     never silently ignored;
//   - every node input is a graph input, an initializer or an earlier node's output (ONNX
//     requires topological order), every value has one producer;
//   - every initializer's data matches its dims and type; external data is refused;
//   - Constant nodes have become initializers.
// It does not check shapes against each other: that needs the input's shape, and happens when a
// graph is run (FloatRunner) or lowered. Malformed input of any kind is a Status, never a crash
// (tests/fuzz/fuzz_onnx_load.cpp). Loading allocates; it is not meant for a device's run path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "qk/core/status.hpp"

namespace qk {
namespace onnx {

// TensorProto.DataType values qk reads.
enum class DataType : int {
  undefined = 0,
  float32 = 1,
  uint8 = 2,
  int8 = 3,
  uint16 = 4,
  int16 = 5,
  int32 = 6,
  int64 = 7,
  float16 = 10,  // IEEE half (the fp16-weights scheme)
  float64 = 11,
  uint4 = 21,    // opset 21: two per byte in the file, element i in the low nibble when i is
  int4 = 22,     // even; in a Tensor one element per byte (uint8 / int8 values in the 4-bit range)
};
const char* data_type_name(DataType t) noexcept;
// IEEE binary16 <-> binary32: float_to_half rounds to nearest even (overflow to inf, subnormals
// exact, NaN stays NaN with its sign and quiet bit); half_to_float is exact.
std::uint16_t float_to_half(float f) noexcept;
float half_to_float(std::uint16_t h) noexcept;
std::size_t data_type_size(DataType t) noexcept;  // 0 for undefined

// A dense tensor: elements in host order (little-endian), row-major over dims.
struct Tensor {
  DataType type = DataType::undefined;
  std::vector<std::int64_t> dims;  // empty: a scalar
  std::vector<unsigned char> bytes;

  std::size_t count() const noexcept;  // product of dims (1 for a scalar); dims are validated
  template <class T>
  const T* data() const noexcept {
    return reinterpret_cast<const T*>(static_cast<const void*>(bytes.data()));
  }
  template <class T>
  T* data() noexcept {
    return reinterpret_cast<T*>(static_cast<void*>(bytes.data()));
  }
};

// The operators qk maps. `Op::count` is not an op.
enum class Op : int {
  conv,
  relu,
  clip,
  add,
  mul,
  max_pool,
  average_pool,
  global_average_pool,
  gemm,
  matmul,
  flatten,
  reshape,
  concat,
  batch_normalization,
  softmax,
  quantize_linear,
  dequantize_linear,
  qlinear_conv,
  qlinear_matmul,
  matmul_integer,
  conv_integer,
  qlinear_add,  // com.microsoft
  cast,                     // to = FLOAT only (the fp16-weights and dynamic schemes)
  dynamic_quantize_linear,  // three outputs: y (uint8), y_scale, y_zero_point
  count
};
const char* op_name(Op op) noexcept;  // the ONNX op_type

struct Attribute {
  enum class Kind : int { integer, real, integers, reals, string };
  std::string name;
  Kind kind = Kind::integer;
  std::int64_t i = 0;
  float f = 0.0f;
  std::vector<std::int64_t> ints;
  std::vector<float> floats;
  std::string s;
};

struct Node {
  Op op = Op::count;
  std::string name;                 // may be empty in the file; load() names it "<op>_<index>" then
  std::vector<std::string> inputs;  // "" marks an omitted optional input
  std::vector<std::string> outputs;
  std::vector<Attribute> attributes;

  const Attribute* attribute(const char* name) const noexcept;
  std::int64_t get_int(const char* name, std::int64_t fallback) const noexcept;
  float get_float(const char* name, float fallback) const noexcept;
  std::vector<std::int64_t> get_ints(const char* name) const;  // empty if absent
  std::string get_string(const char* name, const char* fallback) const;
  // The i-th input's name, or "" if the node has fewer inputs.
  const std::string& input(std::size_t i) const noexcept;
};

// A graph input or output as the file declares it; a dimension < 0 is symbolic (e.g. batch).
struct ValueInfo {
  std::string name;
  DataType type = DataType::undefined;
  std::vector<std::int64_t> dims;
};

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

struct Model {
  std::int64_t opset = 0;           // of the default domain
  std::vector<ValueInfo> inputs;    // graph inputs that are not initializers, in file order
  std::vector<ValueInfo> outputs;
  std::vector<NamedTensor> initializers;
  std::vector<Node> nodes;          // topologically ordered
  std::string producer;             // e.g. "pytorch 1.13.1"

  const Tensor* initializer(const std::string& name) const noexcept;
};

// Reads a serialized ModelProto. On error, *error (if not null) says what and where, e.g.
// "node 'Conv_3' (Conv): unsupported attribute 'foo'", and *model is left unchanged.
Status load(const void* data, std::size_t size, Model* model, std::string* error);
Status load_file(const char* path, Model* model, std::string* error);

// Reads a serialized TensorProto (ONNX test data's input_N.pb / output_N.pb), same checks as an
// initializer. *name (if not null) receives the tensor's name.
Status load_tensor(const void* data, std::size_t size, Tensor* tensor, std::string* name, std::string* error);
Status load_tensor_file(const char* path, Tensor* tensor, std::string* name, std::string* error);

}  // namespace onnx
}  // namespace qk
