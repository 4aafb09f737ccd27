// Reading ONNX's own node tests (Debian libonnx-testdata): TensorProto files
// (test_data_set_N/{input,output}_K.pb) and the attributes of the node in model.onnx.
//
// Shared by every ONNX conformance test (quantize, qlinearconv, qlinearmatmul, matmulinteger,
// convinteger). The protobuf types stay inside onnx_tensor.cpp: test code sees plain vectors.
// Library: qk_onnx_testdata (tests/CMakeLists.txt), built only when the ONNX package is found.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace qk_test {
namespace onnx {

// TensorProto.DataType values this reader supports.
enum class DataType : int {
  float32 = 1,
  uint8 = 2,
  int8 = 3,
  uint16 = 4,
  int16 = 5,
  int32 = 6,
  int64 = 7,
  float64 = 11,
};

template <class T> struct data_type_of;
template <> struct data_type_of<float> { static constexpr DataType value = DataType::float32; };
template <> struct data_type_of<std::uint8_t> { static constexpr DataType value = DataType::uint8; };
template <> struct data_type_of<std::int8_t> { static constexpr DataType value = DataType::int8; };
template <> struct data_type_of<std::uint16_t> { static constexpr DataType value = DataType::uint16; };
template <> struct data_type_of<std::int16_t> { static constexpr DataType value = DataType::int16; };
template <> struct data_type_of<std::int32_t> { static constexpr DataType value = DataType::int32; };
template <> struct data_type_of<std::int64_t> { static constexpr DataType value = DataType::int64; };
template <> struct data_type_of<double> { static constexpr DataType value = DataType::float64; };

// A decoded tensor: element bytes in host order (little-endian, as raw_data is), whether the
// file used raw_data or the typed fields (float_data, int32_data for 8/16/32-bit ints, ...).
struct Tensor {
  std::string name;
  DataType type = DataType::float32;
  std::vector<std::int64_t> dims;  // empty for a scalar
  std::vector<unsigned char> bytes;

  std::size_t element_count() const {
    std::size_t n = 1;
    for (std::int64_t d : dims) n *= static_cast<std::size_t>(d);
    return n;
  }
  std::vector<std::size_t> shape() const {
    std::vector<std::size_t> s;
    for (std::int64_t d : dims) s.push_back(static_cast<std::size_t>(d));
    return s;
  }
  // The elements as T; T must match `type` exactly (else an empty vector and ok = false).
  template <class T>
  std::vector<T> as(bool* ok = nullptr) const {
    const bool match = data_type_of<T>::value == type && bytes.size() == element_count() * sizeof(T);
    if (ok != nullptr) *ok = match;
    std::vector<T> out;
    if (!match) return out;
    out.resize(element_count());
    if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
    return out;
  }
};

// Reads one TensorProto file. On failure returns false and says why in *error.
bool read_tensor(const std::string& path, Tensor* out, std::string* error);

// Integer attribute `name` of the first node of type op_type (any node if op_type is empty) in
// an ONNX model file. *found = false (and true returned) if the node has no such attribute:
// the caller applies the operator's default.
bool read_int_attribute(const std::string& model_path, const std::string& op_type, const std::string& name,
                        std::int64_t* value, bool* found, std::string* error);

// List-of-ints attribute `name` (pads, strides, dilations, kernel_shape ...), same conventions
// as read_int_attribute.
bool read_ints_attribute(const std::string& model_path, const std::string& op_type, const std::string& name,
                         std::vector<std::int64_t>* values, bool* found, std::string* error);

// Number of input_K.pb / output_K.pb files in a test_data_set directory.
std::size_t count_files(const std::string& dir, const std::string& prefix);

// True if `path` is an existing directory.
bool directory_exists(const std::string& path);

}  // namespace onnx
}  // namespace qk_test
