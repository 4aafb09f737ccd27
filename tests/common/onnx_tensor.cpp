#include "common/onnx_tensor.hpp"

#include <onnx/onnx_pb.h>
#include <sys/stat.h>

#include <fstream>

namespace qk_test {
namespace onnx {
namespace {

template <class Dst, class Field>
void copy_typed(const Field& field, std::vector<unsigned char>* bytes) {
  bytes->resize(static_cast<std::size_t>(field.size()) * sizeof(Dst));
  for (int i = 0; i < field.size(); ++i) {
    const Dst v = static_cast<Dst>(field.Get(i));
    std::memcpy(bytes->data() + static_cast<std::size_t>(i) * sizeof(Dst), &v, sizeof(Dst));
  }
}

}  // namespace

bool read_tensor(const std::string& path, Tensor* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot open " + path;
    return false;
  }
  ::onnx::TensorProto proto;
  if (!proto.ParseFromIstream(&in)) {
    *error = "not a TensorProto: " + path;
    return false;
  }
  if (proto.data_location() == ::onnx::TensorProto::EXTERNAL) {
    *error = "external data is not supported: " + path;
    return false;
  }
  Tensor t;
  t.name = proto.name();
  t.type = static_cast<DataType>(proto.data_type());
  for (int i = 0; i < proto.dims_size(); ++i) t.dims.push_back(proto.dims(i));
  std::size_t elem = 0;
  switch (t.type) {
    case DataType::float32: elem = 4; break;
    case DataType::uint8: case DataType::int8: elem = 1; break;
    case DataType::uint16: case DataType::int16: elem = 2; break;
    case DataType::int32: elem = 4; break;
    case DataType::int64: case DataType::float64: elem = 8; break;
    default:
      *error = "unsupported data_type " + std::to_string(proto.data_type()) + " in " + path;
      return false;
  }
  if (proto.has_raw_data()) {
    const std::string& raw = proto.raw_data();
    t.bytes.assign(raw.begin(), raw.end());
  } else {
    // Typed fields: 8/16/32-bit integers are all widened into int32_data.
    switch (t.type) {
      case DataType::float32: copy_typed<float>(proto.float_data(), &t.bytes); break;
      case DataType::uint8: copy_typed<std::uint8_t>(proto.int32_data(), &t.bytes); break;
      case DataType::int8: copy_typed<std::int8_t>(proto.int32_data(), &t.bytes); break;
      case DataType::uint16: copy_typed<std::uint16_t>(proto.int32_data(), &t.bytes); break;
      case DataType::int16: copy_typed<std::int16_t>(proto.int32_data(), &t.bytes); break;
      case DataType::int32: copy_typed<std::int32_t>(proto.int32_data(), &t.bytes); break;
      case DataType::int64: copy_typed<std::int64_t>(proto.int64_data(), &t.bytes); break;
      case DataType::float64: copy_typed<double>(proto.double_data(), &t.bytes); break;
    }
  }
  if (t.bytes.size() != t.element_count() * elem) {
    *error = "data size does not match dims in " + path;
    return false;
  }
  *out = std::move(t);
  return true;
}

namespace {

// Finds attribute `name` of the first node of type op_type (any node if empty) in model.onnx:
// false with *error on a read failure or a missing node; true with *attr null if the node has no
// such attribute. `model` owns what *attr points to.
bool find_attribute(const std::string& model_path, const std::string& op_type, const std::string& name,
                    ::onnx::ModelProto* model, const ::onnx::AttributeProto** attr, std::string* error) {
  std::ifstream in(model_path, std::ios::binary);
  if (!in) {
    *error = "cannot open " + model_path;
    return false;
  }
  if (!model->ParseFromIstream(&in)) {
    *error = "not a ModelProto: " + model_path;
    return false;
  }
  for (const auto& node : model->graph().node()) {
    if (!op_type.empty() && node.op_type() != op_type) continue;
    *attr = nullptr;
    for (const auto& a : node.attribute())
      if (a.name() == name) *attr = &a;
    return true;
  }
  *error = "no node " + op_type + " in " + model_path;
  return false;
}

}  // namespace

bool read_int_attribute(const std::string& model_path, const std::string& op_type, const std::string& name,
                        std::int64_t* value, bool* found, std::string* error) {
  ::onnx::ModelProto model;
  const ::onnx::AttributeProto* attr = nullptr;
  if (!find_attribute(model_path, op_type, name, &model, &attr, error)) return false;
  *found = attr != nullptr;
  if (attr == nullptr) return true;
  if (attr->type() != ::onnx::AttributeProto::INT) {
    *error = "attribute " + name + " is not an int in " + model_path;
    return false;
  }
  *value = attr->i();
  return true;
}

bool read_ints_attribute(const std::string& model_path, const std::string& op_type, const std::string& name,
                         std::vector<std::int64_t>* values, bool* found, std::string* error) {
  ::onnx::ModelProto model;
  const ::onnx::AttributeProto* attr = nullptr;
  if (!find_attribute(model_path, op_type, name, &model, &attr, error)) return false;
  *found = attr != nullptr;
  if (attr == nullptr) return true;
  if (attr->type() != ::onnx::AttributeProto::INTS) {
    *error = "attribute " + name + " is not a list of ints in " + model_path;
    return false;
  }
  values->assign(attr->ints().begin(), attr->ints().end());
  return true;
}

std::size_t count_files(const std::string& dir, const std::string& prefix) {
  std::size_t n = 0;
  for (;; ++n) {
    struct stat st {};
    if (::stat((dir + "/" + prefix + std::to_string(n) + ".pb").c_str(), &st) != 0) break;
  }
  return n;
}

bool directory_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace onnx
}  // namespace qk_test
