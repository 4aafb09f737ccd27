// The ONNX loader: ModelProto (Debian libonnx-dev's generated classes) -> qk::onnx::Model.
//
// Written to be fuzzed: every count and size read from the file is checked before anything is
// allocated from it, and nothing here throws (the fuzz build uses -fno-exceptions), so a
// malformed file is always a Status with a message.
#include "qk/onnx/model.hpp"

#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "common.hpp"

namespace qk {
namespace onnx {

namespace {

// A tensor larger than this (1 GiB) is refused: a model for the devices qk serves is far
// smaller, and the limit keeps every later size computation well inside size_t.
constexpr std::size_t kMaxTensorBytes = std::size_t{1} << 30;

using AK = Attribute::Kind;

struct AttrSpec {
  const char* name;
  AK kind;
};

// What qk supports: op_type, domain, input and output counts, and the attributes it reads.
// An attribute outside this list is an error, not ignored: ignoring one (say Conv's
// "dilations") would run a different model than the file describes.
struct OpSpec {
  Op op;
  const char* type;
  const char* domain;  // "" = the default ONNX domain
  int min_inputs, max_inputs, min_outputs, max_outputs;
  std::vector<AttrSpec> attrs;
};

const std::vector<OpSpec>& op_specs() {
  static const std::vector<AttrSpec> conv_attrs = {{"auto_pad", AK::string}, {"dilations", AK::integers},
                                                   {"group", AK::integer},   {"kernel_shape", AK::integers},
                                                   {"pads", AK::integers},   {"strides", AK::integers}};
  static const std::vector<OpSpec> specs = {
      {Op::conv, "Conv", "", 2, 3, 1, 1, conv_attrs},
      {Op::relu, "Relu", "", 1, 1, 1, 1, {}},
      {Op::clip, "Clip", "", 1, 3, 1, 1, {{"min", AK::real}, {"max", AK::real}}},
      {Op::add, "Add", "", 2, 2, 1, 1, {}},
      {Op::mul, "Mul", "", 2, 2, 1, 1, {}},
      {Op::max_pool, "MaxPool", "", 1, 1, 1, 1,
       {{"auto_pad", AK::string}, {"ceil_mode", AK::integer}, {"dilations", AK::integers},
        {"kernel_shape", AK::integers}, {"pads", AK::integers}, {"storage_order", AK::integer},
        {"strides", AK::integers}}},
      {Op::average_pool, "AveragePool", "", 1, 1, 1, 1,
       {{"auto_pad", AK::string}, {"ceil_mode", AK::integer}, {"count_include_pad", AK::integer},
        {"kernel_shape", AK::integers}, {"pads", AK::integers}, {"strides", AK::integers}}},
      {Op::global_average_pool, "GlobalAveragePool", "", 1, 1, 1, 1, {}},
      {Op::gemm, "Gemm", "", 2, 3, 1, 1,
       {{"alpha", AK::real}, {"beta", AK::real}, {"transA", AK::integer}, {"transB", AK::integer}}},
      {Op::matmul, "MatMul", "", 2, 2, 1, 1, {}},
      {Op::flatten, "Flatten", "", 1, 1, 1, 1, {{"axis", AK::integer}}},
      {Op::reshape, "Reshape", "", 2, 2, 1, 1, {{"allowzero", AK::integer}}},
      {Op::concat, "Concat", "", 1, 1 << 16, 1, 1, {{"axis", AK::integer}}},
      {Op::batch_normalization, "BatchNormalization", "", 5, 5, 1, 1,
       {{"epsilon", AK::real}, {"momentum", AK::real}, {"training_mode", AK::integer}, {"spatial", AK::integer}}},
      {Op::softmax, "Softmax", "", 1, 1, 1, 1, {{"axis", AK::integer}}},
      {Op::quantize_linear, "QuantizeLinear", "", 2, 3, 1, 1, {{"axis", AK::integer}}},
      {Op::dequantize_linear, "DequantizeLinear", "", 2, 3, 1, 1, {{"axis", AK::integer}, {"block_size", AK::integer}}},
      {Op::qlinear_conv, "QLinearConv", "", 8, 9, 1, 1, conv_attrs},
      {Op::qlinear_matmul, "QLinearMatMul", "", 8, 8, 1, 1, {}},
      {Op::matmul_integer, "MatMulInteger", "", 2, 4, 1, 1, {}},
      {Op::conv_integer, "ConvInteger", "", 2, 4, 1, 1, conv_attrs},
      {Op::qlinear_add, "QLinearAdd", "com.microsoft", 7, 8, 1, 1, {}},
      {Op::cast, "Cast", "", 1, 1, 1, 1, {{"to", AK::integer}}},
      {Op::dynamic_quantize_linear, "DynamicQuantizeLinear", "", 1, 1, 3, 3, {}},
  };
  return specs;
}

const OpSpec* find_spec(const std::string& type, const std::string& domain) {
  const std::string d = domain == "ai.onnx" ? std::string() : domain;
  for (const OpSpec& s : op_specs())
    if (type == s.type && d == s.domain) return &s;
  return nullptr;
}

bool checked_mul(std::size_t a, std::size_t b, std::size_t* out) {
  if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a) return false;
  *out = a * b;
  return true;
}

// Element count of dims, or false if a dim is negative or the tensor exceeds kMaxTensorBytes.
bool dims_count(const std::vector<std::int64_t>& dims, std::size_t elem_size, std::size_t* count) {
  std::size_t n = 1;
  for (std::int64_t d : dims) {
    if (d < 0) return false;
    if (!checked_mul(n, static_cast<std::size_t>(d), &n)) return false;
  }
  std::size_t bytes = 0;
  if (!checked_mul(n, elem_size == 0 ? 1 : elem_size, &bytes) || bytes > kMaxTensorBytes) return false;
  *count = n;
  return true;
}

template <class Dst, class Field>
bool copy_integers(const Field& field, std::size_t count, Tensor* t) {
  if (static_cast<std::size_t>(field.size()) != count) return false;
  t->bytes.resize(count * sizeof(Dst));
  for (std::size_t i = 0; i < count; ++i) {
    const auto v = field.Get(static_cast<int>(i));
    // Typed int32_data holds every integer type up to 32 bits; a value outside the element type
    // is a malformed file, not something to wrap silently.
    if (v < static_cast<decltype(v)>(std::numeric_limits<Dst>::lowest()) ||
        v > static_cast<decltype(v)>(std::numeric_limits<Dst>::max()))
      return false;
    const Dst d = static_cast<Dst>(v);
    std::memcpy(t->bytes.data() + i * sizeof(Dst), &d, sizeof(Dst));
  }
  return true;
}

template <class Dst, class Field>
bool copy_reals(const Field& field, std::size_t count, Tensor* t) {
  if (static_cast<std::size_t>(field.size()) != count) return false;
  t->bytes.resize(count * sizeof(Dst));
  for (std::size_t i = 0; i < count; ++i) {
    const Dst d = static_cast<Dst>(field.Get(static_cast<int>(i)));
    std::memcpy(t->bytes.data() + i * sizeof(Dst), &d, sizeof(Dst));
  }
  return true;
}

bool supported_type(int t) {
  switch (static_cast<DataType>(t)) {
    case DataType::float32: case DataType::uint8: case DataType::int8: case DataType::uint16:
    case DataType::int16: case DataType::int32: case DataType::int64: case DataType::float64:
    case DataType::float16:
      return true;
    default:
      return false;
  }
}

// INT4 / UINT4 (opset 21): packed two per byte in raw_data, element i in the low nibble when i
// is even; held one element per byte (int4 sign-extended). Only raw_data is read.
bool decode_4bit(const ::onnx::TensorProto& p, Tensor* t, std::string* why) {
  t->type = static_cast<DataType>(p.data_type());
  t->dims.assign(p.dims().begin(), p.dims().end());
  std::size_t count = 0;
  if (!dims_count(t->dims, 1, &count)) {
    *why = "dims are negative or the tensor is larger than 1 GiB";
    return false;
  }
  if (!p.has_raw_data()) {
    *why = "4-bit tensors are read from raw_data only";
    return false;
  }
  const std::size_t need = count / 2 + count % 2;
  if (p.raw_data().size() != need) {
    *why = "raw_data has " + std::to_string(p.raw_data().size()) + " bytes, " + std::to_string(count) +
           " 4-bit elements need " + std::to_string(need);
    return false;
  }
  t->bytes.resize(count);
  const bool is_signed = t->type == DataType::int4;
  for (std::size_t i = 0; i < count; ++i) {
    const unsigned nib = (static_cast<unsigned char>(p.raw_data()[i / 2]) >> (4 * (i % 2))) & 0xFu;
    t->bytes[i] = static_cast<unsigned char>(is_signed && nib >= 8 ? nib | 0xF0u : nib);  // sign-extended int8
  }
  return true;
}

// TensorProto -> Tensor; false with *why on anything qk cannot read exactly.
bool decode_tensor(const ::onnx::TensorProto& p, Tensor* t, std::string* why) {
  if (p.data_location() == ::onnx::TensorProto::EXTERNAL || p.external_data_size() > 0) {
    *why = "external data is not supported";
    return false;
  }
  if (p.has_segment()) {
    *why = "segmented tensors are not supported";
    return false;
  }
  if (p.data_type() == static_cast<int>(DataType::int4) || p.data_type() == static_cast<int>(DataType::uint4))
    return decode_4bit(p, t, why);
  if (!supported_type(p.data_type())) {
    *why = "unsupported data type " + std::to_string(p.data_type());
    return false;
  }
  t->type = static_cast<DataType>(p.data_type());
  t->dims.assign(p.dims().begin(), p.dims().end());
  std::size_t count = 0;
  const std::size_t elem = data_type_size(t->type);
  if (!dims_count(t->dims, elem, &count)) {
    *why = "dims are negative or the tensor is larger than 1 GiB";
    return false;
  }
  if (p.has_raw_data()) {
    if (p.raw_data().size() != count * elem) {
      *why = "raw_data has " + std::to_string(p.raw_data().size()) + " bytes, dims need " + std::to_string(count * elem);
      return false;
    }
    t->bytes.assign(p.raw_data().begin(), p.raw_data().end());
    return true;
  }
  bool ok = false;
  switch (t->type) {
    case DataType::float32: ok = copy_reals<float>(p.float_data(), count, t); break;
    case DataType::float64: ok = copy_reals<double>(p.double_data(), count, t); break;
    case DataType::uint8: ok = copy_integers<std::uint8_t>(p.int32_data(), count, t); break;
    case DataType::int8: ok = copy_integers<std::int8_t>(p.int32_data(), count, t); break;
    case DataType::uint16: ok = copy_integers<std::uint16_t>(p.int32_data(), count, t); break;
    case DataType::int16: ok = copy_integers<std::int16_t>(p.int32_data(), count, t); break;
    // FLOAT16 in int32_data: one 16-bit pattern per int32 (the spec's layout).
    case DataType::float16: ok = copy_integers<std::uint16_t>(p.int32_data(), count, t); break;
    case DataType::int32: ok = copy_integers<std::int32_t>(p.int32_data(), count, t); break;
    case DataType::int64: ok = copy_integers<std::int64_t>(p.int64_data(), count, t); break;
    default: break;
  }
  if (!ok) *why = "the typed data field does not hold exactly the dims' element count, or a value is out of range";
  return ok;
}

bool decode_attribute(const ::onnx::AttributeProto& a, AK want, Attribute* out) {
  out->name = a.name();
  out->kind = want;
  switch (want) {
    case AK::integer:
      if (a.type() != ::onnx::AttributeProto::INT) return false;
      out->i = a.i();
      return true;
    case AK::real:
      if (a.type() != ::onnx::AttributeProto::FLOAT) return false;
      out->f = a.f();
      return true;
    case AK::integers:
      if (a.type() != ::onnx::AttributeProto::INTS) return false;
      out->ints.assign(a.ints().begin(), a.ints().end());
      return true;
    case AK::reals:
      if (a.type() != ::onnx::AttributeProto::FLOATS) return false;
      out->floats.assign(a.floats().begin(), a.floats().end());
      return true;
    case AK::string:
      if (a.type() != ::onnx::AttributeProto::STRING) return false;
      out->s = a.s();
      return true;
  }
  return false;
}

const char* kind_name(AK k) {
  switch (k) {
    case AK::integer: return "int";
    case AK::real: return "float";
    case AK::integers: return "ints";
    case AK::reals: return "floats";
    case AK::string: return "string";
  }
  return "?";
}

// A Constant node's value as a tensor (value, value_float(s), value_int(s)).
bool constant_value(const ::onnx::NodeProto& n, Tensor* t, std::string* why) {
  if (n.attribute_size() != 1) {
    *why = "needs exactly one value attribute";
    return false;
  }
  const ::onnx::AttributeProto& a = n.attribute(0);
  if (a.name() == "value" && a.type() == ::onnx::AttributeProto::TENSOR) return decode_tensor(a.t(), t, why);
  if (a.name() == "value_float" && a.type() == ::onnx::AttributeProto::FLOAT) {
    t->type = DataType::float32;
    const float f = a.f();
    t->bytes.resize(4);
    std::memcpy(t->bytes.data(), &f, 4);
    return true;
  }
  if (a.name() == "value_int" && a.type() == ::onnx::AttributeProto::INT) {
    t->type = DataType::int64;
    const std::int64_t i = a.i();
    t->bytes.resize(8);
    std::memcpy(t->bytes.data(), &i, 8);
    return true;
  }
  if (a.name() == "value_floats" && a.type() == ::onnx::AttributeProto::FLOATS) {
    t->type = DataType::float32;
    t->dims = {a.floats_size()};
    return copy_reals<float>(a.floats(), static_cast<std::size_t>(a.floats_size()), t);
  }
  if (a.name() == "value_ints" && a.type() == ::onnx::AttributeProto::INTS) {
    t->type = DataType::int64;
    t->dims = {a.ints_size()};
    return copy_integers<std::int64_t>(a.ints(), static_cast<std::size_t>(a.ints_size()), t);
  }
  *why = "unsupported value attribute '" + a.name() + "'";
  return false;
}

void value_info(const ::onnx::ValueInfoProto& v, ValueInfo* out) {
  out->name = v.name();
  if (v.has_type() && v.type().has_tensor_type()) {
    const auto& tt = v.type().tensor_type();
    out->type = static_cast<DataType>(tt.elem_type());
    if (tt.has_shape())
      for (const auto& d : tt.shape().dim()) out->dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  }
}

using detail::fail;

// DequantizeLinear's block_size (opset 21): where x and the scale are initializers (weights), their
// shapes are checked here; otherwise at run time by the interpreter.
bool check_block_size(const Model& m, const Node& n, std::string* why) {
  const Attribute* a = n.attribute("block_size");
  if (a == nullptr) return true;
  if (a->i < 0) return *why = "block_size " + std::to_string(a->i) + " is negative", false;
  if (a->i == 0) return true;  // ONNX's default: per tensor or per axis
  if (m.opset < 21) return *why = "block_size needs opset 21, the model imports " + std::to_string(m.opset), false;
  const Tensor* x = m.initializer(n.input(0));
  const Tensor* s = m.initializer(n.input(1));
  const Tensor* z = n.input(2).empty() ? nullptr : m.initializer(n.input(2));
  if (x == nullptr || s == nullptr) return true;
  const std::int64_t rank = static_cast<std::int64_t>(x->dims.size());
  std::int64_t axis = n.get_int("axis", 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return *why = "axis " + std::to_string(n.get_int("axis", 1)) + " is outside the input's rank", false;
  if (s->dims.size() != x->dims.size()) return *why = "a blocked scale must have the input's rank", false;
  for (std::int64_t i = 0; i < rank; ++i) {
    const std::int64_t d = x->dims[static_cast<std::size_t>(i)];
    const std::int64_t want = i == axis ? (d + a->i - 1) / a->i : d;
    if (s->dims[static_cast<std::size_t>(i)] != want)
      return *why = "scale dimension " + std::to_string(i) + " is " + std::to_string(s->dims[static_cast<std::size_t>(i)]) +
                    ", block_size " + std::to_string(a->i) + " needs " + std::to_string(want),
             false;
  }
  if (z != nullptr && z->dims != s->dims) return *why = "the zero point must have the scale's shape", false;
  return true;
}

}  // namespace

const char* data_type_name(DataType t) noexcept {
  switch (t) {
    case DataType::float32: return "float32";
    case DataType::uint8: return "uint8";
    case DataType::int8: return "int8";
    case DataType::uint16: return "uint16";
    case DataType::int16: return "int16";
    case DataType::int32: return "int32";
    case DataType::int64: return "int64";
    case DataType::float64: return "float64";
    case DataType::float16: return "float16";
    case DataType::uint4: return "uint4";
    case DataType::int4: return "int4";
    case DataType::undefined: break;
  }
  return "undefined";
}

std::size_t data_type_size(DataType t) noexcept {
  switch (t) {
    // 4-bit tensors are held one element per byte in memory (packed only in the file).
    case DataType::uint8: case DataType::int8: case DataType::uint4: case DataType::int4: return 1;
    case DataType::uint16: case DataType::int16: case DataType::float16: return 2;
    case DataType::float32: case DataType::int32: return 4;
    case DataType::int64: case DataType::float64: return 8;
    case DataType::undefined: break;
  }
  return 0;
}

std::uint16_t float_to_half(float f) noexcept {
  std::uint32_t x = 0;
  std::memcpy(&x, &f, 4);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t exp = (x >> 23) & 0xffu;
  std::uint32_t man = x & 0x7fffffu;
  if (exp == 0xffu)  // inf, or NaN (kept quiet, its top mantissa bits kept)
    return static_cast<std::uint16_t>(sign | 0x7c00u | (man != 0 ? 0x200u | (man >> 13) : 0u));
  const int e = static_cast<int>(exp) - 127 + 15;  // the half's biased exponent
  if (e >= 31) return static_cast<std::uint16_t>(sign | 0x7c00u);  // overflow: inf
  if (e <= 0) {
    // A half subnormal (or zero): value = man' * 2^-24 with man' = (1.man) >> (14 - e) rounded.
    if (e < -10) return static_cast<std::uint16_t>(sign);  // below half the smallest subnormal
    man |= 0x800000u;
    const unsigned shift = static_cast<unsigned>(14 - e);  // 14..24
    std::uint32_t h = man >> shift;
    const std::uint32_t rest = man & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rest > half || (rest == half && (h & 1u) != 0)) ++h;  // may carry into the smallest normal: right
    return static_cast<std::uint16_t>(sign | h);
  }
  std::uint32_t h = (static_cast<std::uint32_t>(e) << 10) | (man >> 13);
  const std::uint32_t rest = man & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u) != 0)) ++h;  // a carry into the exponent (even to inf) is right
  return static_cast<std::uint16_t>(sign | h);
}

float half_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  std::uint32_t x = 0;
  if (exp == 0x1fu) {
    x = sign | 0x7f800000u | (man << 13);
  } else if (exp != 0) {
    x = sign | ((exp - 15u + 127u) << 23) | (man << 13);
  } else {
    const float v = std::ldexp(static_cast<float>(man), -24);  // zero or subnormal, exact
    return sign != 0 ? -v : v;
  }
  float f = 0.0f;
  std::memcpy(&f, &x, 4);
  return f;
}

std::size_t Tensor::count() const noexcept {
  std::size_t n = 1;
  for (std::int64_t d : dims) n *= static_cast<std::size_t>(d);
  return n;
}

const char* op_name(Op op) noexcept {
  for (const OpSpec& s : op_specs())
    if (s.op == op) return s.type;
  return "?";
}

const Attribute* Node::attribute(const char* n) const noexcept {
  for (const Attribute& a : attributes)
    if (a.name == n) return &a;
  return nullptr;
}
std::int64_t Node::get_int(const char* n, std::int64_t fallback) const noexcept {
  const Attribute* a = attribute(n);
  return a != nullptr ? a->i : fallback;
}
float Node::get_float(const char* n, float fallback) const noexcept {
  const Attribute* a = attribute(n);
  return a != nullptr ? a->f : fallback;
}
std::vector<std::int64_t> Node::get_ints(const char* n) const {
  const Attribute* a = attribute(n);
  return a != nullptr ? a->ints : std::vector<std::int64_t>();
}
std::string Node::get_string(const char* n, const char* fallback) const {
  const Attribute* a = attribute(n);
  return a != nullptr ? a->s : std::string(fallback);
}
const std::string& Node::input(std::size_t i) const noexcept {
  static const std::string empty;
  return i < inputs.size() ? inputs[i] : empty;
}

const Tensor* Model::initializer(const std::string& n) const noexcept {
  for (const NamedTensor& t : initializers)
    if (t.name == n) return &t.tensor;
  return nullptr;
}

Status load(const void* data, std::size_t size, Model* model, std::string* error) {
  if (model == nullptr) return fail(error, StatusCode::null_pointer, "onnx::load: null model", "null model");
  if (data == nullptr && size != 0) return fail(error, StatusCode::null_pointer, "onnx::load: null data", "null data");
  if (size > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    return fail(error, StatusCode::size_overflow, "onnx::load: file larger than 2 GiB", "file larger than 2 GiB");
  ::onnx::ModelProto proto;
  if (!proto.ParseFromArray(data, static_cast<int>(size)))
    return fail(error, StatusCode::invalid_argument, "onnx::load: not an ONNX ModelProto", "not an ONNX ModelProto (protobuf parse failed)");
  if (!proto.has_graph())
    return fail(error, StatusCode::invalid_argument, "onnx::load: the model has no graph", "the model has no graph");

  Model m;
  m.producer = proto.producer_name() + (proto.producer_version().empty() ? "" : " " + proto.producer_version());
  for (const auto& o : proto.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") m.opset = o.version();
  // Any opset version of the default domain: where an op's semantics changed between versions
  // (Softmax at 13, Clip at 11), the interpreter follows m.opset; the old opsets' extra
  // attributes (Add's "broadcast", BatchNormalization's "is_test") are not in the attribute
  // lists, so a model that relies on them is refused rather than misread.
  if (m.opset < 1)
    return fail(error, StatusCode::invalid_argument, "onnx::load: no opset for the default domain",
                "the model imports no opset of the default ONNX domain");

  const ::onnx::GraphProto& g = proto.graph();
  std::unordered_set<std::string> defined;
  std::string why;
  for (const auto& init : g.initializer()) {
    if (init.name().empty() || !defined.insert(init.name()).second)
      return fail(error, StatusCode::invalid_argument, "onnx::load: initializer without a unique name",
                  "initializer '" + init.name() + "' has no name or a duplicate one");
    NamedTensor nt;
    nt.name = init.name();
    if (!decode_tensor(init, &nt.tensor, &why))
      return fail(error, StatusCode::invalid_argument, "onnx::load: bad initializer", "initializer '" + init.name() + "': " + why);
    m.initializers.push_back(std::move(nt));
  }
  for (const auto& in : g.input()) {
    if (defined.count(in.name()) != 0) continue;  // an initializer listed as an input: a constant
    if (in.name().empty())
      return fail(error, StatusCode::invalid_argument, "onnx::load: graph input without a name", "graph input without a name");
    ValueInfo v;
    value_info(in, &v);
    defined.insert(v.name);
    m.inputs.push_back(std::move(v));
  }

  for (int idx = 0; idx < g.node_size(); ++idx) {
    const ::onnx::NodeProto& np = g.node(idx);
    const std::string label =
        "node '" + (np.name().empty() ? np.op_type() + "_" + std::to_string(idx) : np.name()) + "' (" + np.op_type() + ")";
    for (const std::string& in : np.input())
      if (!in.empty() && defined.count(in) == 0)
        return fail(error, StatusCode::invalid_argument, "onnx::load: a node reads a value nothing defines before it",
                    label + ": input '" + in + "' is not a graph input, an initializer or an earlier node's output");
    if (np.op_type() == "Constant" && (np.domain().empty() || np.domain() == "ai.onnx")) {
      NamedTensor nt;
      if (np.output_size() != 1 || np.output(0).empty())
        return fail(error, StatusCode::invalid_argument, "onnx::load: Constant needs one output", label + ": needs one named output");
      nt.name = np.output(0);
      if (!constant_value(np, &nt.tensor, &why))
        return fail(error, StatusCode::invalid_argument, "onnx::load: bad Constant", label + ": " + why);
      if (!defined.insert(nt.name).second)
        return fail(error, StatusCode::invalid_argument, "onnx::load: a value has two producers", label + ": output '" + nt.name + "' is already defined");
      m.initializers.push_back(std::move(nt));
      continue;
    }
    const OpSpec* spec = find_spec(np.op_type(), np.domain());
    if (spec == nullptr)
      return fail(error, StatusCode::unsupported, "onnx::load: unsupported operator",
                  label + ": unsupported operator '" + (np.domain().empty() ? "" : np.domain() + ".") + np.op_type() + "'");
    if (np.input_size() < spec->min_inputs || np.input_size() > spec->max_inputs || np.output_size() < spec->min_outputs ||
        np.output_size() > spec->max_outputs)
      return fail(error, StatusCode::unsupported, "onnx::load: unsupported number of inputs or outputs",
                  label + ": " + std::to_string(np.input_size()) + " inputs and " + std::to_string(np.output_size()) +
                      " outputs are not supported");
    Node n;
    n.op = spec->op;
    n.name = np.name().empty() ? np.op_type() + "_" + std::to_string(idx) : np.name();
    n.inputs.assign(np.input().begin(), np.input().end());
    for (const auto& a : np.attribute()) {
      const AttrSpec* as = nullptr;
      for (const AttrSpec& s : spec->attrs)
        if (a.name() == s.name) as = &s;
      if (as == nullptr)
        return fail(error, StatusCode::unsupported, "onnx::load: unsupported attribute",
                    label + ": unsupported attribute '" + a.name() + "'");
      if (n.attribute(as->name) != nullptr)
        return fail(error, StatusCode::invalid_argument, "onnx::load: attribute given twice",
                    label + ": attribute '" + a.name() + "' given twice");
      Attribute attr;
      if (!decode_attribute(a, as->kind, &attr))
        return fail(error, StatusCode::invalid_argument, "onnx::load: attribute of the wrong type",
                    label + ": attribute '" + a.name() + "' must be of type " + kind_name(as->kind));
      n.attributes.push_back(std::move(attr));
    }
    if (n.op == Op::cast && n.get_int("to", 0) != static_cast<std::int64_t>(DataType::float32))
      return fail(error, StatusCode::unsupported, "onnx::load: Cast to a type other than FLOAT",
                  label + ": Cast to data type " + std::to_string(n.get_int("to", 0)) +
                      " is not supported (only to = 1, FLOAT)");
    if (n.op == Op::cast)
      for (const auto& gi : g.input())
        if (gi.name() == n.input(0) && gi.has_type() && gi.type().has_tensor_type()) {
          const int t = gi.type().tensor_type().elem_type();
          if (!supported_type(t) || t == static_cast<int>(DataType::int64) || t == static_cast<int>(DataType::uint16))
            return fail(error, StatusCode::unsupported, "onnx::load: Cast from an unsupported type",
                        label + ": Cast from data type " + std::to_string(t) + " to FLOAT is not supported");
        }
    for (const std::string& out : np.output()) {
      if (out.empty())
        return fail(error, StatusCode::unsupported, "onnx::load: omitted output", label + ": omitted outputs are not supported");
      if (!defined.insert(out).second)
        return fail(error, StatusCode::invalid_argument, "onnx::load: a value has two producers",
                    label + ": output '" + out + "' is already defined");
      n.outputs.push_back(out);
    }
    if (n.op == Op::dequantize_linear && !check_block_size(m, n, &why))
      return fail(error, StatusCode::invalid_argument, "onnx::load: bad block_size", label + ": " + why);
    m.nodes.push_back(std::move(n));
  }
  for (const auto& out : g.output()) {
    if (defined.count(out.name()) == 0)
      return fail(error, StatusCode::invalid_argument, "onnx::load: a graph output is never computed",
                  "graph output '" + out.name() + "' is not produced by any node");
    ValueInfo v;
    value_info(out, &v);
    m.outputs.push_back(std::move(v));
  }
  if (m.outputs.empty())
    return fail(error, StatusCode::invalid_argument, "onnx::load: the graph has no outputs", "the graph has no outputs");
  *model = std::move(m);
  return Status::success();
}

namespace {
Status read_file(const char* path, std::vector<char>* bytes, std::string* error) {
  if (path == nullptr) return fail(error, StatusCode::null_pointer, "onnx: null path", "null path");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return fail(error, StatusCode::invalid_argument, "onnx: cannot open the file", std::string("cannot open ") + path);
  const std::streamoff size = in.tellg();
  if (size < 0 || static_cast<unsigned long long>(size) > static_cast<unsigned long long>(std::numeric_limits<int>::max()))
    return fail(error, StatusCode::size_overflow, "onnx: file larger than 2 GiB", std::string(path) + ": larger than 2 GiB");
  bytes->resize(static_cast<std::size_t>(size));
  in.seekg(0);
  if (!in.read(bytes->data(), size))
    return fail(error, StatusCode::invalid_argument, "onnx: read failed", std::string("cannot read ") + path);
  return Status::success();
}
}  // namespace

Status load_file(const char* path, Model* model, std::string* error) {
  std::vector<char> bytes;
  const Status st = read_file(path, &bytes, error);
  if (!st) return st;
  return load(bytes.data(), bytes.size(), model, error);
}

Status load_tensor(const void* data, std::size_t size, Tensor* tensor, std::string* name, std::string* error) {
  if (tensor == nullptr) return fail(error, StatusCode::null_pointer, "onnx::load_tensor: null tensor", "null tensor");
  if (data == nullptr && size != 0) return fail(error, StatusCode::null_pointer, "onnx::load_tensor: null data", "null data");
  if (size > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    return fail(error, StatusCode::size_overflow, "onnx::load_tensor: larger than 2 GiB", "larger than 2 GiB");
  ::onnx::TensorProto proto;
  if (!proto.ParseFromArray(data, static_cast<int>(size)))
    return fail(error, StatusCode::invalid_argument, "onnx::load_tensor: not a TensorProto", "not a TensorProto");
  Tensor t;
  std::string why;
  if (!decode_tensor(proto, &t, &why)) return fail(error, StatusCode::invalid_argument, "onnx::load_tensor: bad tensor", why);
  if (name != nullptr) *name = proto.name();
  *tensor = std::move(t);
  return Status::success();
}

Status load_tensor_file(const char* path, Tensor* tensor, std::string* name, std::string* error) {
  std::vector<char> bytes;
  const Status st = read_file(path, &bytes, error);
  if (!st) return st;
  return load_tensor(bytes.data(), bytes.size(), tensor, name, error);
}

}  // namespace onnx
}  // namespace qk
