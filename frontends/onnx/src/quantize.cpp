// Post-training quantization of a float graph into QDQ form, and the Model -> ModelProto writer.
#include "qk/onnx/quantize.hpp"

#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "qk/onnx/interpreter.hpp"
#include "qk/quantize/calibration.hpp"

#include "common.hpp"

namespace qk {
namespace onnx {

namespace {

using detail::fail;

// ---- which tensors are quantized, and how ------------------------------------------------------

bool fusable_activation(const Node& n, const Model& m) {
  if (n.op == Op::relu) return true;
  if (n.op != Op::clip) return false;
  // Clip(0, hi): a ReLU-like clamp the integer output stage applies (lower bound exactly 0).
  float lo = -1.0f;
  if (m.opset < 11) {
    lo = n.get_float("min", -1.0f);
  } else if (const Tensor* t = m.initializer(n.input(1))) {
    if (t->type == DataType::float32 && t->count() == 1) lo = t->data<float>()[0];
  }
  return lo == 0.0f;
}

bool produces_activation(Op op) {
  switch (op) {
    case Op::conv: case Op::gemm: case Op::matmul: case Op::global_average_pool: case Op::average_pool:
    case Op::relu: case Op::clip:
      return true;
    default:
      return false;
  }
}

bool passes_through(Op op) { return op == Op::max_pool || op == Op::flatten || op == Op::reshape; }

struct Plan {
  std::vector<std::string> calibrated;          // tensors with their own observed range
  std::map<std::string, std::string> same_as;   // pass-through tensor -> the tensor whose params it keeps
  std::set<std::string> fused;                  // producer outputs consumed only by a fused Relu/Clip
};

Status make_plan(const Model& m, Plan* plan, std::string* error) {
  std::map<std::string, std::vector<const Node*>> consumers;
  for (const Node& n : m.nodes)
    for (const std::string& in : n.inputs) consumers[in].push_back(&n);
  for (const ValueInfo& in : m.inputs) {
    if (in.type != DataType::float32)
      return fail(error, StatusCode::unsupported, "quantize: graph input is not float",
                  "graph input '" + in.name + "' is not float32");
    plan->calibrated.push_back(in.name);
  }
  for (const Node& n : m.nodes) {
    const std::string& out = n.outputs[0];
    if (passes_through(n.op)) {
      plan->same_as[out] = n.input(0);
      continue;
    }
    if (!produces_activation(n.op))
      return fail(error, StatusCode::unsupported, "quantize: an op qk cannot quantize yet",
                  "node '" + n.name + "' (" + op_name(n.op) + "): post-training quantization of this op is not implemented");
    const auto& cs = consumers[out];
    if ((n.op == Op::conv || n.op == Op::gemm || n.op == Op::matmul) && cs.size() == 1 && fusable_activation(*cs[0], m)) {
      plan->fused.insert(out);
      continue;
    }
    if ((n.op == Op::relu || n.op == Op::clip) && plan->fused.count(n.input(0)) == 0)
      return fail(error, StatusCode::unsupported, "quantize: a standalone activation",
                  "node '" + n.name + "': an activation that does not follow a Conv/Gemm/MatMul is not quantized yet");
    plan->calibrated.push_back(out);
  }
  return Status::success();
}

// ---- observers ---------------------------------------------------------------------------------

struct RangeObserverAny {
  virtual ~RangeObserverAny() = default;
  virtual Status observe(const float* x, std::size_t n) = 0;
  virtual Status params(QuantParams* p) = 0;
  // int16 symmetric parameters from the same calibrated range.
  virtual Status params16(QuantParams* p) = 0;
};

// The calibrated range of the two observer families (per-channel range observers and histograms).
template <class O>
auto observed_range(O& o, float* lo, float* hi, int) -> decltype(o.range(std::size_t{0}, lo, hi)) {
  return o.range(0, lo, hi);
}
template <class O>
auto observed_range(O& o, float* lo, float* hi, long) -> decltype(o.range(lo, hi)) {
  return o.range(lo, hi);
}

template <class O>
struct RangeObserverOf final : RangeObserverAny {
  O o;
  Status observe(const float* x, std::size_t n) override { return o.observe(x, n); }
  Status params(QuantParams* p) override { return o.params(p, 1); }
  Status params16(QuantParams* p) override {
    float lo = 0.0f, hi = 0.0f;
    QK_RETURN_IF_ERROR(observed_range(o, &lo, &hi, 0));
    // Symmetric narrow [-32767, 32767]: PyTorch's symmetric scale amax / ((qmax - qmin) / 2)
    // is then exactly max(|lo|, |hi|) / 32767, zero point 0.
    CalibConfig c;
    QK_RETURN_IF_ERROR(make_calib_config(16, true, true, true, false, &c));
    return calib_params_from_range(lo, hi, c, p);
  }
};

template <class O>
Status make_observer_of(const CalibConfig& c, std::unique_ptr<RangeObserverAny>* out) {
  auto o = std::make_unique<RangeObserverOf<O>>();
  QK_RETURN_IF_ERROR(o->o.init(c));
  *out = std::move(o);
  return Status::success();
}

Status make_observer(RangeMethod method, std::unique_ptr<RangeObserverAny>* out) {
  // Activations: int8 asymmetric, [-128, 127].
  CalibConfig c;
  QK_RETURN_IF_ERROR(make_calib_config(8, true, false, false, false, &c));
  switch (method) {
    case RangeMethod::minmax: return make_observer_of<MinMaxObserver>(c, out);
    case RangeMethod::moving_average: return make_observer_of<MovingAverageMinMaxObserver>(c, out);
    case RangeMethod::mean_k_sigma: return make_observer_of<MeanKSigmaObserver>(c, out);
    case RangeMethod::percentile: return make_observer_of<PercentileObserver>(c, out);
    case RangeMethod::entropy: return make_observer_of<EntropyObserver>(c, out);
    case RangeMethod::mse: return make_observer_of<HistogramObserver>(c, out);
  }
  return Status(StatusCode::invalid_argument, "quantize: unknown range method");
}

// ---- building the QDQ graph ---------------------------------------------------------------------

Tensor scalar_f32(float v) {
  Tensor t;
  t.type = DataType::float32;
  t.bytes.resize(4);
  std::memcpy(t.bytes.data(), &v, 4);
  return t;
}

Tensor scalar_i8(std::int32_t v) {
  Tensor t;
  t.type = DataType::int8;
  t.bytes.assign(1, static_cast<unsigned char>(static_cast<std::int8_t>(v)));
  return t;
}

Node make_node(Op op, const std::string& name, std::vector<std::string> in, std::string out) {
  Node n;
  n.op = op;
  n.name = name;
  n.inputs = std::move(in);
  n.outputs = {std::move(out)};
  return n;
}

Attribute int_attr(const char* name, std::int64_t v) {
  Attribute a;
  a.name = name;
  a.kind = Attribute::Kind::integer;
  a.i = v;
  return a;
}

// Symmetric int8 weights [-127, 127] along `axis` (or per tensor), ONNX rounding (half to even).
void quantize_weights(const Tensor& w, std::size_t axis, bool per_channel, Tensor* q, Tensor* scales) {
  const std::size_t n = w.count();
  std::size_t channels = per_channel ? static_cast<std::size_t>(w.dims[axis]) : 1, inner = 1;
  for (std::size_t i = axis + 1; i < w.dims.size(); ++i) inner *= static_cast<std::size_t>(w.dims[i]);
  auto channel_of = [&](std::size_t i) { return per_channel ? (i / inner) % channels : 0; };
  std::vector<float> amax(channels, 0.0f);
  for (std::size_t i = 0; i < n; ++i) amax[channel_of(i)] = std::max(amax[channel_of(i)], std::fabs(w.data<float>()[i]));
  scales->type = DataType::float32;
  scales->dims = per_channel ? std::vector<std::int64_t>{static_cast<std::int64_t>(channels)} : std::vector<std::int64_t>{};
  scales->bytes.resize(channels * 4);
  for (std::size_t c = 0; c < channels; ++c) {
    const float s = amax[c] / 127.0f;
    scales->data<float>()[c] = s > 0.0f && std::isfinite(s) ? s : 1.0f;  // an all-zero channel
  }
  q->type = DataType::int8;
  q->dims = w.dims;
  q->bytes.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const float v = std::nearbyint(w.data<float>()[i] / scales->data<float>()[channel_of(i)]);
    q->data<std::int8_t>()[i] = static_cast<std::int8_t>(std::min(127.0f, std::max(-127.0f, v)));
  }
}

// ---- int16 activations, dynamic int8, fp16 weights ------------------------------------------

Tensor scalar_i16(std::int32_t v) {
  Tensor t;
  t.type = DataType::int16;
  t.bytes.resize(2);
  const std::int16_t x = static_cast<std::int16_t>(v);
  std::memcpy(t.bytes.data(), &x, 2);
  return t;
}

// Whether some value of the float bias b would saturate int32 at the scales s (one per channel).
bool bias_saturates(const Tensor& b, const Tensor& s) {
  for (std::size_t c = 0; c < b.count(); ++c) {
    const double q = std::fabs(static_cast<double>(b.data<float>()[c]) / static_cast<double>(s.data<float>()[c]));
    if (!(q <= 2147483520.0)) return true;
  }
  return false;
}

Attribute float_cast_to() { return int_attr("to", static_cast<std::int64_t>(DataType::float32)); }

// Conv, Gemm (transA 0, alpha 1, beta 1) or MatMul with a float rank >= 2 initializer weight;
// the weight and optional bias initializers, or an error naming the node.
Status float_layer(const Model& model, const Node& n, const Tensor** w, const Tensor** b, std::string* error) {
  *w = model.initializer(n.input(1));
  if (*w == nullptr || (*w)->type != DataType::float32 || (*w)->dims.size() < 2)
    return fail(error, StatusCode::unsupported, "quantize_qdq: weights are not a float initializer",
                "node '" + n.name + "': weights must be a float32 initializer of rank >= 2");
  if (n.op == Op::gemm && (n.get_int("transA", 0) != 0 || n.get_float("alpha", 1.0f) != 1.0f || n.get_float("beta", 1.0f) != 1.0f))
    return fail(error, StatusCode::unsupported, "quantize_qdq: Gemm with transA, alpha or beta",
                "node '" + n.name + "': only Gemm with transA 0, alpha 1 and beta 1 is quantized");
  *b = nullptr;
  if (!n.input(2).empty()) {
    *b = model.initializer(n.input(2));
    if (*b == nullptr || (*b)->type != DataType::float32)
      return fail(error, StatusCode::unsupported, "quantize_qdq: bias is not a float initializer",
                  "node '" + n.name + "': the bias must be a float32 initializer");
  }
  return Status::success();
}

// fp16 weights: each float weight/bias initializer of Conv/Gemm/MatMul -> NAME/fp16 (FLOAT16) ->
// Cast(to = FLOAT) -> NAME, placed before its first consumer. Everything else is copied.
Status quantize_fp16(const Model& model, Model* result, std::string* error) {
  (void)error;  // nothing in a float model stops this
  Model out;
  out.opset = model.opset;
  out.inputs = model.inputs;
  out.outputs = model.outputs;
  out.producer = "qk-quantize";
  std::set<std::string> converted;
  for (const Node& n : model.nodes) {
    if (n.op == Op::conv || n.op == Op::gemm || n.op == Op::matmul) {
      for (std::size_t i = 1; i <= 2; ++i) {
        const std::string& name = n.input(i);
        const Tensor* t = name.empty() ? nullptr : model.initializer(name);
        if (t == nullptr || t->type != DataType::float32 || converted.count(name) != 0) continue;
        Tensor h;
        h.type = DataType::float16;
        h.dims = t->dims;
        h.bytes.resize(t->count() * 2);
        for (std::size_t k = 0; k < t->count(); ++k) {
          const std::uint16_t v = float_to_half(t->data<float>()[k]);
          std::memcpy(h.bytes.data() + 2 * k, &v, 2);
        }
        out.initializers.push_back({name + "/fp16", std::move(h)});
        Node c = make_node(Op::cast, name + "/Cast", {name + "/fp16"}, name);
        c.attributes.push_back(float_cast_to());
        out.nodes.push_back(c);
        converted.insert(name);
      }
    }
    out.nodes.push_back(n);
  }
  for (const NamedTensor& t : model.initializers)
    if (converted.count(t.name) == 0) out.initializers.push_back(t);
  *result = std::move(out);
  return Status::success();
}

// Dynamic int8 (ONNX Runtime's quantize_dynamic form); see quantize.hpp.
Status quantize_dynamic(const Model& model, bool per_channel, Model* result, std::string* error) {
  Model out;
  out.opset = std::max<std::int64_t>(model.opset, 11);  // DynamicQuantizeLinear
  out.inputs = model.inputs;
  out.outputs = model.outputs;
  out.producer = "qk-quantize";
  std::set<std::string> replaced, quantized_inputs;
  for (const Node& n : model.nodes) {
    if (n.op != Op::conv && n.op != Op::gemm && n.op != Op::matmul) {
      out.nodes.push_back(n);
      continue;
    }
    const Tensor* w = nullptr;
    const Tensor* b = nullptr;
    QK_RETURN_IF_ERROR(float_layer(model, n, &w, &b, error));
    const bool conv = n.op == Op::conv;
    const bool trans_b = n.op == Op::gemm && n.get_int("transB", 0) != 0;
    if (!conv && w->dims.size() != 2)
      return fail(error, StatusCode::unsupported, "quantize_qdq: MatMul weights of rank > 2",
                  "node '" + n.name + "': dynamic quantization takes 2-D MatMul/Gemm weights");
    const std::string wname = n.input(1), x = n.input(0), y = n.outputs[0];
    if (!replaced.insert(wname).second)
      return fail(error, StatusCode::unsupported, "quantize_qdq: shared weights", "weights '" + wname + "' are used twice");
    const std::size_t axis = conv || trans_b ? 0 : 1;
    Tensor wq, ws;
    quantize_weights(*w, axis, per_channel, &wq, &ws);
    const std::int64_t oc = w->dims[axis];
    if (trans_b) {  // [N, K] -> [K, N] for MatMulInteger
      const std::size_t N = static_cast<std::size_t>(w->dims[0]), K = static_cast<std::size_t>(w->dims[1]);
      Tensor t = wq;
      t.dims = {w->dims[1], w->dims[0]};
      for (std::size_t r = 0; r < N; ++r)
        for (std::size_t k = 0; k < K; ++k) t.data<std::int8_t>()[k * N + r] = wq.data<std::int8_t>()[r * K + k];
      wq = std::move(t);
    }
    if (per_channel) ws.dims = conv ? std::vector<std::int64_t>{1, oc, 1, 1} : std::vector<std::int64_t>{oc};
    if (quantized_inputs.insert(x).second)
      out.nodes.push_back(Node{Op::dynamic_quantize_linear, x + "/DynamicQuantizeLinear", {x}, {x + "/q", x + "/scale", x + "/zero_point"}, {}});
    out.initializers.push_back({wname + "/q", wq});
    out.initializers.push_back({wname + "/scale", ws});
    Node integer = make_node(conv ? Op::conv_integer : Op::matmul_integer, n.name + "/" + (conv ? "ConvInteger" : "MatMulInteger"),
                             {x + "/q", wname + "/q", x + "/zero_point"}, y + "/int32");
    if (conv) integer.attributes = n.attributes;
    out.nodes.push_back(integer);
    Node cast = make_node(Op::cast, n.name + "/Cast", {y + "/int32"}, y + "/acc");
    cast.attributes.push_back(float_cast_to());
    out.nodes.push_back(cast);
    out.nodes.push_back(make_node(Op::mul, n.name + "/ScaleMul", {x + "/scale", wname + "/scale"}, y + "/scale"));
    out.nodes.push_back(make_node(Op::mul, n.name + "/Mul", {y + "/acc", y + "/scale"}, b != nullptr ? y + "/scaled" : y));
    if (b != nullptr) {
      if (b->count() != static_cast<std::size_t>(oc))
        return fail(error, StatusCode::unsupported, "quantize_qdq: bias is not one value per channel",
                    "node '" + n.name + "': the bias must have one value per output channel");
      const std::string bname = n.input(2);
      replaced.insert(bname);
      Tensor bb = *b;
      bb.dims = conv ? std::vector<std::int64_t>{1, oc, 1, 1} : std::vector<std::int64_t>{oc};
      out.initializers.push_back({bname + "/bias", bb});
      out.nodes.push_back(make_node(Op::add, n.name + "/BiasAdd", {y + "/scaled", bname + "/bias"}, y));
    }
  }
  for (const NamedTensor& t : model.initializers)
    if (replaced.count(t.name) == 0) out.initializers.push_back(t);
  *result = std::move(out);
  return Status::success();
}

// ---- 4- and 3-bit weights (stored as ONNX INT4) ----------------------------------------------

bool low_bit(WeightScheme w) {
  return w == WeightScheme::int4_per_channel || w == WeightScheme::int4_per_block || w == WeightScheme::int3_per_channel ||
         w == WeightScheme::int3_per_block;
}
bool per_block(WeightScheme w) { return w == WeightScheme::int4_per_block || w == WeightScheme::int3_per_block; }

// The scale of one channel or block of symmetric weights in [-qmax, qmax].
//   minmax: max |w| / qmax.
//   mse: the clip c = max |w| * (1 - 0.005 j), j = 0..99, whose scale c / qmax minimises
//        sum (w - scale * clamp(round(w / scale), -qmax, qmax))^2; on ties the larger c (smaller j).
// An all-zero channel or block gets scale 1: any positive scale stores it exactly (all codes 0),
// and DequantizeLinear needs a positive finite scale.
float choose_scale(const std::vector<float>& w, float qmax, WeightRange range) {
  float amax = 0.0f;
  for (float v : w) amax = std::max(amax, std::fabs(v));
  if (!(amax > 0.0f) || !std::isfinite(amax / qmax)) return 1.0f;
  if (range == WeightRange::minmax) return amax / qmax;
  float best_scale = amax / qmax;
  double best_err = std::numeric_limits<double>::infinity();
  for (int j = 0; j < 100; ++j) {
    const float c = static_cast<float>(static_cast<double>(amax) * (1.0 - 0.005 * j));
    const float scale = c / qmax;
    if (!(scale > 0.0f)) break;
    double err = 0.0;
    for (float v : w) {
      const float q = std::min(qmax, std::max(-qmax, std::nearbyint(v / scale)));
      const double d = static_cast<double>(v) - static_cast<double>(scale * q);
      err += d * d;
    }
    if (err < best_err) {
      best_err = err;
      best_scale = scale;
    }
  }
  return best_scale;
}

// Quantizes w to INT4 codes in [-qmax, qmax] with one scale per group, where group_of(i) is the
// group of element i (groups numbered as the scale tensor's elements, row-major).
template <class GroupOf>
void quantize_groups(const Tensor& w, std::size_t groups, GroupOf group_of, float qmax, WeightRange range, Tensor* q,
                     std::vector<float>* scales) {
  const std::size_t n = w.count();
  std::vector<std::vector<float>> members(groups);
  for (std::size_t i = 0; i < n; ++i) members[group_of(i)].push_back(w.data<float>()[i]);
  scales->resize(groups);
  for (std::size_t g = 0; g < groups; ++g) (*scales)[g] = choose_scale(members[g], qmax, range);
  q->type = DataType::int4;
  q->bytes.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const float v = std::nearbyint(w.data<float>()[i] / (*scales)[group_of(i)]);
    q->data<std::int8_t>()[i] = static_cast<std::int8_t>(std::min(qmax, std::max(-qmax, v)));
  }
}

Tensor f32_tensor(const std::vector<float>& v, std::vector<std::int64_t> dims) {
  Tensor t;
  t.type = DataType::float32;
  t.dims = std::move(dims);
  t.bytes.resize(v.size() * 4);
  std::memcpy(t.bytes.data(), v.data(), v.size() * 4);
  return t;
}

// Per channel along `axis` (dims kept): q has w's dims, scales [dims[axis]].
void quantize_low_per_channel(const Tensor& w, std::size_t axis, float qmax, WeightRange range, Tensor* q, Tensor* scales) {
  const std::size_t channels = static_cast<std::size_t>(w.dims[axis]);
  std::size_t inner = 1;
  for (std::size_t i = axis + 1; i < w.dims.size(); ++i) inner *= static_cast<std::size_t>(w.dims[i]);
  std::vector<float> s;
  quantize_groups(w, channels, [&](std::size_t i) { return (i / inner) % channels; }, qmax, range, q, &s);
  q->dims = w.dims;
  *scales = f32_tensor(s, {static_cast<std::int64_t>(channels)});
}

// Per block of a 2-D view [rows, cols] of w, blocks of `block` along `axis` (0 or 1): q [rows, cols],
// scales [rows, ceil(cols / block)] (axis 1) or [ceil(rows / block), cols] (axis 0).
void quantize_low_per_block(const Tensor& w, std::size_t rows, std::size_t cols, std::size_t axis, std::size_t block, float qmax,
                            WeightRange range, Tensor* q, Tensor* scales) {
  std::vector<float> s;
  if (axis == 1) {
    const std::size_t nb = (cols + block - 1) / block;
    quantize_groups(w, rows * nb, [&](std::size_t i) { return (i / cols) * nb + (i % cols) / block; }, qmax, range, q, &s);
    *scales = f32_tensor(s, {static_cast<std::int64_t>(rows), static_cast<std::int64_t>(nb)});
  } else {
    const std::size_t nb = (rows + block - 1) / block;
    quantize_groups(w, nb * cols, [&](std::size_t i) { return (i / cols) / block * cols + i % cols; }, qmax, range, q, &s);
    *scales = f32_tensor(s, {static_cast<std::int64_t>(nb), static_cast<std::int64_t>(cols)});
  }
  q->dims = {static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)};
}

}  // namespace

const char* range_method_name(RangeMethod m) noexcept {
  switch (m) {
    case RangeMethod::minmax: return "minmax";
    case RangeMethod::moving_average: return "moving_average";
    case RangeMethod::mean_k_sigma: return "mean_k_sigma";
    case RangeMethod::percentile: return "percentile";
    case RangeMethod::entropy: return "entropy";
    case RangeMethod::mse: return "mse";
  }
  return "?";
}

namespace {
// The enum value 0..last whose name_of is s; *out is left alone if none is.
template <class E, class NameOf>
bool parse_by_name(const std::string& s, E last, NameOf name_of, E* out) noexcept {
  for (int i = 0; i <= static_cast<int>(last); ++i)
    if (s == name_of(static_cast<E>(i))) {
      *out = static_cast<E>(i);
      return true;
    }
  return false;
}
}  // namespace

bool parse_range_method(const std::string& s, RangeMethod* out) noexcept {
  return parse_by_name(s, RangeMethod::mse, range_method_name, out);
}

const char* weight_scheme_name(WeightScheme w) noexcept {
  switch (w) {
    case WeightScheme::int8_per_channel: return "int8-per-channel";
    case WeightScheme::int8_per_tensor: return "int8-per-tensor";
    case WeightScheme::int4_per_channel: return "int4-per-channel";
    case WeightScheme::int4_per_block: return "int4-per-block";
    case WeightScheme::int3_per_channel: return "int3-per-channel";
    case WeightScheme::int3_per_block: return "int3-per-block";
    case WeightScheme::fp16: return "fp16";
  }
  return "?";
}

bool parse_weight_scheme(const std::string& s, WeightScheme* out) noexcept {
  if (parse_by_name(s, WeightScheme::fp16, weight_scheme_name, out)) return true;
  // The names of the first version of qk-quantize.
  if (s == "per-channel" || s == "per-tensor") {
    *out = s == "per-channel" ? WeightScheme::int8_per_channel : WeightScheme::int8_per_tensor;
    return true;
  }
  return false;
}

int weight_scheme_bits(WeightScheme w) noexcept {
  switch (w) {
    case WeightScheme::int8_per_channel:
    case WeightScheme::int8_per_tensor: return 8;
    case WeightScheme::int4_per_channel:
    case WeightScheme::int4_per_block: return 4;
    case WeightScheme::int3_per_channel:
    case WeightScheme::int3_per_block: return 3;
    case WeightScheme::fp16: return 16;
  }
  return 0;
}

const char* weight_range_name(WeightRange r) noexcept { return r == WeightRange::mse ? "mse" : "minmax"; }

bool parse_weight_range(const std::string& s, WeightRange* out) noexcept {
  if (s != "minmax" && s != "mse") return false;
  *out = s == "mse" ? WeightRange::mse : WeightRange::minmax;
  return true;
}

const char* activation_scheme_name(ActivationScheme a) noexcept {
  switch (a) {
    case ActivationScheme::int8: return "int8";
    case ActivationScheme::int16: return "int16";
    case ActivationScheme::dynamic_int8: return "dynamic-int8";
    case ActivationScheme::float32: return "float32";
  }
  return "?";
}

bool parse_activation_scheme(const std::string& s, ActivationScheme* out) noexcept {
  return parse_by_name(s, ActivationScheme::float32, activation_scheme_name, out);
}

Status check_options(const PtqOptions& o, std::string* error) {
  const bool fp16 = o.weights == WeightScheme::fp16;
  const bool int8_weights = o.weights == WeightScheme::int8_per_channel || o.weights == WeightScheme::int8_per_tensor;
  if (fp16 != (o.activations == ActivationScheme::float32))
    return fail(error, StatusCode::invalid_argument, "ptq options: fp16 weights go with float32 activations",
                "fp16 weights go with float32 activations, and float32 activations with fp16 weights");
  if ((o.activations == ActivationScheme::dynamic_int8 || o.activations == ActivationScheme::int16) && !int8_weights)
    return fail(error, StatusCode::invalid_argument, "ptq options: dynamic and int16 activations take int8 weights",
                std::string(activation_scheme_name(o.activations)) + " activations take int8 weights, not " +
                    weight_scheme_name(o.weights));
  if ((o.weights == WeightScheme::int4_per_block || o.weights == WeightScheme::int3_per_block) &&
      (o.block_size < 16 || o.block_size > 4096 || (o.block_size & (o.block_size - 1)) != 0))
    return fail(error, StatusCode::invalid_argument, "ptq options: block size not a power of two in [16, 4096]",
                "block size " + std::to_string(o.block_size) + " is not a power of two in [16, 4096]");
  if (o.weight_range == WeightRange::mse && (fp16 || o.weights == WeightScheme::int8_per_tensor))
    return fail(error, StatusCode::invalid_argument, "ptq options: mse weight ranges are for per-channel/per-block integer weights",
                "--weight-range mse applies to per-channel and per-block integer weights");
  return Status::success();
}

struct Calibrator::Impl {
  const Model* model = nullptr;
  Plan plan;
  std::map<std::string, std::unique_ptr<RangeObserverAny>> observers;
  std::size_t batches = 0;
};

Calibrator::Calibrator() = default;
Calibrator::~Calibrator() = default;
Calibrator::Calibrator(Calibrator&&) noexcept = default;
Calibrator& Calibrator::operator=(Calibrator&&) noexcept = default;

Status Calibrator::init(const Model& model, const PtqOptions& options, std::string* error) {
  auto impl = std::make_unique<Impl>();
  impl->model = &model;
  QK_RETURN_IF_ERROR(make_plan(model, &impl->plan, error));
  for (const std::string& t : impl->plan.calibrated) {
    // The graph's outputs (a classifier's logits) keep their whole observed range whatever the
    // method: a clipped range saturates the largest logits into ties, and the arg max then picks
    // the first of them. (On the Fashion-MNIST CNN the clipping methods lose accuracy elsewhere,
    // at the first ReLU: docs/ptq.md.)
    bool is_output = false;
    for (const ValueInfo& o : model.outputs) is_output = is_output || o.name == t;
    RangeMethod method = is_output ? RangeMethod::minmax : options.method;
    for (const auto& m : options.method_for)
      if (m.first == t) method = m.second;
    std::unique_ptr<RangeObserverAny> o;
    const Status st = make_observer(method, &o);
    if (!st.ok()) return fail(error, st.code(), st.message(), st.message());
    impl->observers[t] = std::move(o);
  }
  for (const auto& m : options.method_for)
    if (impl->observers.count(m.first) == 0)
      return fail(error, StatusCode::invalid_argument, "calibrator: observer override for a tensor that is not calibrated",
                  "observer override: '" + m.first + "' is not a quantized activation of the model");
  impl_ = std::move(impl);
  return Status::success();
}

Status Calibrator::observe(const std::vector<Tensor>& inputs, std::string* error) {
  if (!impl_) return fail(error, StatusCode::invalid_argument, "calibrator: not initialized", "calibrator not initialized");
  Status bad = Status::success();
  auto feed = [&](const std::string& name, const Tensor& t) {
    const auto it = impl_->observers.find(name);
    if (it == impl_->observers.end() || !bad.ok()) return;
    const Status st = it->second->observe(t.data<float>(), t.count());
    if (!st.ok()) bad = st;
  };
  for (std::size_t i = 0; i < inputs.size() && i < impl_->model->inputs.size(); ++i) feed(impl_->model->inputs[i].name, inputs[i]);
  std::vector<Tensor> outputs;
  QK_RETURN_IF_ERROR(run_reference(*impl_->model, inputs, &outputs, error,
                                   [&](const Node& n, const std::vector<const Tensor*>& outs) { feed(n.outputs[0], *outs[0]); }));
  if (!bad.ok()) return fail(error, bad.code(), bad.message(), std::string("calibration: ") + bad.message());
  ++impl_->batches;
  return Status::success();
}

Status Calibrator::params(const std::string& name, float* scale, std::int32_t* zero_point, std::string* error) const {
  if (!impl_) return fail(error, StatusCode::invalid_argument, "calibrator: not initialized", "calibrator not initialized");
  const auto it = impl_->observers.find(name);
  if (it == impl_->observers.end())
    return fail(error, StatusCode::invalid_argument, "calibrator: tensor not calibrated", "tensor '" + name + "' was not calibrated");
  QuantParams p;
  const Status st = it->second->params(&p);
  if (!st.ok()) return fail(error, st.code(), st.message(), "tensor '" + name + "': " + st.message());
  *scale = p.scale;
  *zero_point = p.zero_point;
  return Status::success();
}

Status Calibrator::params16(const std::string& name, float* scale, std::string* error) const {
  if (!impl_) return fail(error, StatusCode::invalid_argument, "calibrator: not initialized", "calibrator not initialized");
  const auto it = impl_->observers.find(name);
  if (it == impl_->observers.end())
    return fail(error, StatusCode::invalid_argument, "calibrator: tensor not calibrated", "tensor '" + name + "' was not calibrated");
  QuantParams p;
  const Status st = it->second->params16(&p);
  if (!st.ok()) return fail(error, st.code(), st.message(), "tensor '" + name + "': " + st.message());
  *scale = p.scale;
  return Status::success();
}

std::size_t Calibrator::batches() const noexcept { return impl_ ? impl_->batches : 0; }

namespace {

// The weights (and bias) of Conv/Gemm/MatMul node n as INT4 behind DequantizeLinear (see
// quantize.hpp). Per channel: codes with w's dims, DQ(axis); the bias int32 at
// input_scale * weight_scale as for int8. Per block: codes as a 2-D [rows, cols] view with blocks
// along the reduction (Conv [O, I*kh*kw] and Gemm transB [N, K]: axis 1; MatMul / Gemm [K, N]:
// axis 0), DQ(axis, block_size) -> Reshape to w's dims for Conv; the bias stays float.
// The bias of node n as int32 at input_scale * weight_scale (ws: one scale, or one per output
// channel) behind a DequantizeLinear, zero point 0. keep_saturating: a bias some value of which
// int32 cannot hold at that scale (possible with int16 activations' small scales) stays a float
// initializer instead. No bias input: nothing to do.
Status add_int32_bias(const Model& model, const Node& n, const Tensor& ws, std::size_t oc,
                      const std::map<std::string, std::pair<float, std::int32_t>>& qp, bool keep_saturating,
                      std::set<std::string>* weight_names, Model* out, std::string* error) {
  if (n.input(2).empty()) return Status::success();
  const Tensor* b = model.initializer(n.input(2));
  if (b == nullptr || b->type != DataType::float32 || b->count() != oc)
    return fail(error, StatusCode::unsupported, "quantize_qdq: bias is not a float initializer of one value per channel",
                "node '" + n.name + "': the bias must be a float32 initializer with one value per output channel");
  const auto it = qp.find(n.input(0));
  if (it == qp.end())
    return fail(error, StatusCode::unsupported, "quantize_qdq: input not quantized", "node '" + n.name + "': its input is not quantized");
  Tensor bq, bs;
  bq.type = DataType::int32;
  bq.dims = {static_cast<std::int64_t>(oc)};
  bq.bytes.resize(oc * 4);
  bs.type = DataType::float32;
  bs.dims = {static_cast<std::int64_t>(oc)};
  bs.bytes.resize(oc * 4);
  for (std::size_t c = 0; c < oc; ++c) {
    const float s = it->second.first * ws.data<float>()[ws.count() == 1 ? 0 : c];
    bs.data<float>()[c] = s;
    const float v = std::nearbyint(b->data<float>()[c] / s);
    const float lim = 2147483520.0f;
    bq.data<std::int32_t>()[c] = static_cast<std::int32_t>(std::min(lim, std::max(-lim, v)));
  }
  const std::string bname = n.input(2);
  if (keep_saturating && bias_saturates(*b, bs)) {
    if (out->initializer(bname) == nullptr) out->initializers.push_back({bname, *b});
    weight_names->insert(bname);
    return Status::success();
  }
  out->initializers.push_back({bname + "/q", bq});
  out->initializers.push_back({bname + "/scale", bs});
  Node bdq = make_node(Op::dequantize_linear, bname + "/DequantizeLinear", {bname + "/q", bname + "/scale"}, bname);
  bdq.attributes.push_back(int_attr("axis", 0));
  out->nodes.push_back(bdq);
  return Status::success();
}

Status add_low_bit_weights(const Model& model, const Node& n, const Tensor& w, std::size_t axis, const PtqOptions& options,
                           const std::map<std::string, std::pair<float, std::int32_t>>& qp, std::set<std::string>* weight_names,
                           Model* out, std::string* error) {
  const bool int3 = options.weights == WeightScheme::int3_per_channel || options.weights == WeightScheme::int3_per_block;
  const float qmax = int3 ? 3.0f : 7.0f;
  const std::string wname = n.input(1);
  if (!weight_names->insert(wname).second)
    return fail(error, StatusCode::unsupported, "quantize_qdq: shared weights", "weights '" + wname + "' are used twice");
  const std::size_t oc = static_cast<std::size_t>(w.dims[axis]);
  Tensor wq, ws;
  if (!per_block(options.weights)) {
    quantize_low_per_channel(w, axis, qmax, options.weight_range, &wq, &ws);
    out->initializers.push_back({wname + "/q", wq});
    out->initializers.push_back({wname + "/scale", ws});
    Node dq = make_node(Op::dequantize_linear, wname + "/DequantizeLinear", {wname + "/q", wname + "/scale"}, wname);
    dq.attributes.push_back(int_attr("axis", static_cast<std::int64_t>(axis)));
    out->nodes.push_back(dq);
  } else {
    if (w.dims.size() != (n.op == Op::conv ? 4u : 2u))
      return fail(error, StatusCode::unsupported, "quantize_qdq: per-block weights of an unexpected rank",
                  "node '" + n.name + "': per-block weights need Conv weights of rank 4 or a matrix");
    const std::size_t rows = static_cast<std::size_t>(w.dims[0]), cols = w.count() / rows;
    // The reduction runs along axis 1 of [O, I*kh*kw] and [N, K] (output axis 0), along axis 0 of [K, N].
    const std::size_t block_axis = axis == 0 ? 1 : 0;
    quantize_low_per_block(w, rows, cols, block_axis, options.block_size, qmax, options.weight_range, &wq, &ws);
    out->initializers.push_back({wname + "/q", wq});
    out->initializers.push_back({wname + "/scale", ws});
    const bool reshape = n.op == Op::conv;
    Node dq = make_node(Op::dequantize_linear, wname + "/DequantizeLinear", {wname + "/q", wname + "/scale"},
                        reshape ? wname + "/dq" : wname);
    dq.attributes.push_back(int_attr("axis", static_cast<std::int64_t>(block_axis)));
    dq.attributes.push_back(int_attr("block_size", static_cast<std::int64_t>(options.block_size)));
    out->nodes.push_back(dq);
    if (reshape) {
      Tensor shape;
      shape.type = DataType::int64;
      shape.dims = {static_cast<std::int64_t>(w.dims.size())};
      shape.bytes.resize(w.dims.size() * 8);
      std::memcpy(shape.bytes.data(), w.dims.data(), w.dims.size() * 8);
      out->initializers.push_back({wname + "/shape", shape});
      out->nodes.push_back(make_node(Op::reshape, wname + "/Reshape", {wname + "/dq", wname + "/shape"}, wname));
    }
  }
  if (!per_block(options.weights)) return add_int32_bias(model, n, ws, oc, qp, false, weight_names, out, error);
  if (n.input(2).empty()) return Status::success();
  const Tensor* b = model.initializer(n.input(2));
  if (b == nullptr || b->type != DataType::float32 || b->count() != oc)
    return fail(error, StatusCode::unsupported, "quantize_qdq: bias is not a float initializer of one value per channel",
                "node '" + n.name + "': the bias must be a float32 initializer with one value per output channel");
  // No single weight scale per output channel: the bias stays a float initializer.
  if (out->initializer(n.input(2)) == nullptr) out->initializers.push_back({n.input(2), *b});
  return Status::success();
}

}  // namespace

Status quantize_qdq(const Model& model, const Calibrator& calibrator, const PtqOptions& options, Model* qdq,
                    std::string* error) {
  if (qdq == nullptr) return fail(error, StatusCode::null_pointer, "quantize_qdq: null output", "null output");
  QK_RETURN_IF_ERROR(check_options(options, error));
  if (options.weights == WeightScheme::fp16 && options.activations == ActivationScheme::float32)
    return quantize_fp16(model, qdq, error);
  if (options.activations == ActivationScheme::dynamic_int8 && options.weight_range == WeightRange::minmax &&
      (options.weights == WeightScheme::int8_per_channel || options.weights == WeightScheme::int8_per_tensor))
    return quantize_dynamic(model, options.weights == WeightScheme::int8_per_channel, qdq, error);
  const bool int16 = options.activations == ActivationScheme::int16;
  if ((options.activations != ActivationScheme::int8 && !int16) ||
      (options.weight_range != WeightRange::minmax && !low_bit(options.weights)))
    return fail(error, StatusCode::unsupported, "quantize_qdq: mse weight ranges are written for int4/int3 weights only",
                std::string("activations ") + activation_scheme_name(options.activations) + " with weights " +
                    weight_scheme_name(options.weights) + ": weight range " + weight_range_name(options.weight_range) +
                    " is written for int4/int3 weights only");
  Plan plan;
  QK_RETURN_IF_ERROR(make_plan(model, &plan, error));
  if (calibrator.batches() == 0)
    return fail(error, StatusCode::invalid_argument, "quantize_qdq: no calibration data", "the calibrator observed no data");
  Model out;
  out.opset = std::max<std::int64_t>(model.opset, 13);  // per-axis DequantizeLinear
  // int16 QuantizeLinear, INT4 and block_size came with opset 21.
  if (int16 || low_bit(options.weights)) out.opset = std::max<std::int64_t>(model.opset, 21);
  out.inputs = model.inputs;
  out.outputs = model.outputs;
  out.producer = "qk-quantize";
  // Quantization parameters of every quantized tensor (by its float name).
  std::map<std::string, std::pair<float, std::int32_t>> qp;
  for (const std::string& t : plan.calibrated) {
    float s = 0.0f;
    std::int32_t z = 0;
    if (int16) QK_RETURN_IF_ERROR(calibrator.params16(t, &s, error));
    else QK_RETURN_IF_ERROR(calibrator.params(t, &s, &z, error));
    qp[t] = {s, z};
  }
  for (const auto& kv : plan.same_as) {
    const auto it = qp.find(kv.second);
    if (it == qp.end())
      return fail(error, StatusCode::unsupported, "quantize_qdq: pass-through op on an unquantized tensor",
                  "tensor '" + kv.first + "' moves '" + kv.second + "', which is not quantized");
    qp[kv.first] = it->second;
  }
  std::set<std::string> weight_names;
  // Q/DQ pair after a tensor: `from` (float) -> name/q -> DQ -> `to`.
  auto add_qdq = [&](const std::string& from, const std::string& to, const std::string& tensor) {
    const auto& p = qp.at(tensor);
    out.initializers.push_back({tensor + "/scale", scalar_f32(p.first)});
    out.initializers.push_back({tensor + "/zero_point", int16 ? scalar_i16(p.second) : scalar_i8(p.second)});
    out.nodes.push_back(make_node(Op::quantize_linear, tensor + "/QuantizeLinear", {from, tensor + "/scale", tensor + "/zero_point"}, tensor + "/q"));
    out.nodes.push_back(make_node(Op::dequantize_linear, tensor + "/DequantizeLinear", {tensor + "/q", tensor + "/scale", tensor + "/zero_point"}, to));
  };
  std::map<std::string, std::string> rename;  // graph inputs: consumers read name/dq
  for (const ValueInfo& in : model.inputs) {
    add_qdq(in.name, in.name + "/dq", in.name);
    rename[in.name] = in.name + "/dq";
  }
  for (const Node& n : model.nodes) {
    Node q = n;
    for (std::string& in : q.inputs)
      if (rename.count(in) != 0) in = rename[in];
    const std::string out_name = n.outputs[0];
    if (n.op == Op::conv || n.op == Op::gemm || n.op == Op::matmul) {
      const Tensor* w = nullptr;
      const Tensor* b = nullptr;  // checked again, with its count, where the bias is written
      QK_RETURN_IF_ERROR(float_layer(model, n, &w, &b, error));
      const std::size_t axis = n.op == Op::conv ? 0 : (n.op == Op::gemm && n.get_int("transB", 0) != 0) ? 0 : w->dims.size() - 1;
      if (low_bit(options.weights)) {
        QK_RETURN_IF_ERROR(add_low_bit_weights(model, n, *w, axis, options, qp, &weight_names, &out, error));
      } else {  // int8 weights
        Tensor wq, ws;
        quantize_weights(*w, axis, options.weights == WeightScheme::int8_per_channel, &wq, &ws);
        const std::string wname = n.input(1);
        if (!weight_names.insert(wname).second)
          return fail(error, StatusCode::unsupported, "quantize_qdq: shared weights", "weights '" + wname + "' are used twice");
        out.initializers.push_back({wname + "/q", wq});
        out.initializers.push_back({wname + "/scale", ws});
        Node dq = make_node(Op::dequantize_linear, wname + "/DequantizeLinear", {wname + "/q", wname + "/scale"}, wname);
        if (options.weights == WeightScheme::int8_per_channel) dq.attributes.push_back(int_attr("axis", static_cast<std::int64_t>(axis)));
        out.nodes.push_back(dq);
        QK_RETURN_IF_ERROR(add_int32_bias(model, n, ws, static_cast<std::size_t>(w->dims[axis]), qp, int16, &weight_names, &out, error));
      }
      // Conv/Gemm keep reading the (now dequantized) weight and bias names.
    }
    // Other initializers the node reads (Reshape's shape, Clip's bounds) are copied as they are.
    for (const std::string& in : n.inputs) {
      const Tensor* t = model.initializer(in);
      if (t == nullptr || weight_names.count(in) != 0 || (n.op != Op::reshape && n.op != Op::clip)) continue;
      if (out.initializer(in) == nullptr) out.initializers.push_back({in, *t});
    }
    if (plan.fused.count(out_name) != 0 || qp.count(out_name) == 0) {
      out.nodes.push_back(q);
      continue;
    }
    q.outputs[0] = out_name + "/float";
    out.nodes.push_back(q);
    add_qdq(out_name + "/float", out_name, out_name);
  }
  *qdq = std::move(out);
  return Status::success();
}

// ---- writer ------------------------------------------------------------------------------------

namespace {

bool is_4bit(DataType t) { return t == DataType::int4 || t == DataType::uint4; }

void write_tensor(const std::string& name, const Tensor& t, ::onnx::TensorProto* p) {
  p->set_name(name);
  p->set_data_type(static_cast<int>(t.type));
  for (std::int64_t d : t.dims) p->add_dims(d);
  if (is_4bit(t.type)) {
    // Two per byte, element i in the low nibble when i is even (ONNX's INT4/UINT4 packing).
    std::string packed((t.bytes.size() + 1) / 2, '\0');
    for (std::size_t i = 0; i < t.bytes.size(); ++i)
      packed[i / 2] = static_cast<char>(static_cast<unsigned char>(packed[i / 2]) | ((t.bytes[i] & 0xFu) << (4 * (i % 2))));
    p->set_raw_data(packed);
    return;
  }
  p->set_raw_data(std::string(t.bytes.begin(), t.bytes.end()));
}

void write_value_info(const ValueInfo& v, ::onnx::ValueInfoProto* p) {
  p->set_name(v.name);
  auto* tt = p->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int>(v.type == DataType::undefined ? DataType::float32 : v.type));
  auto* shape = tt->mutable_shape();
  for (std::size_t i = 0; i < v.dims.size(); ++i) {
    auto* d = shape->add_dim();
    if (v.dims[i] >= 0) d->set_dim_value(v.dims[i]);
    else d->set_dim_param(i == 0 ? "N" : "d" + std::to_string(i));
  }
}

}  // namespace

Status save(const Model& model, std::string* bytes, std::string* error) {
  if (bytes == nullptr) return fail(error, StatusCode::null_pointer, "onnx::save: null output", "null output");
  ::onnx::ModelProto p;
  // Opset 21 (int16 Q/DQ, INT4, block_size) came with IR version 10, and INT4/UINT4 need it;
  // other models keep IR 8 and their opset (the int8 files stay byte for byte what they were).
  bool four_bit = false;
  for (const NamedTensor& t : model.initializers) four_bit = four_bit || is_4bit(t.tensor.type);
  p.set_ir_version(four_bit || model.opset >= 21 ? 10 : 8);
  p.set_producer_name(model.producer.empty() ? "qk" : model.producer);
  auto* opset = p.add_opset_import();
  opset->set_domain("");
  opset->set_version(four_bit ? std::max<std::int64_t>(model.opset, 21) : model.opset);
  bool ms = false;
  ::onnx::GraphProto* g = p.mutable_graph();
  g->set_name("qk");
  for (const ValueInfo& v : model.inputs) write_value_info(v, g->add_input());
  for (const ValueInfo& v : model.outputs) write_value_info(v, g->add_output());
  for (const NamedTensor& t : model.initializers) write_tensor(t.name, t.tensor, g->add_initializer());
  for (const Node& n : model.nodes) {
    ::onnx::NodeProto* np = g->add_node();
    np->set_name(n.name);
    np->set_op_type(op_name(n.op));
    if (n.op == Op::qlinear_add) {
      np->set_domain("com.microsoft");
      ms = true;
    }
    for (const std::string& in : n.inputs) np->add_input(in);
    for (const std::string& o : n.outputs) np->add_output(o);
    for (const Attribute& a : n.attributes) {
      ::onnx::AttributeProto* ap = np->add_attribute();
      ap->set_name(a.name);
      switch (a.kind) {
        case Attribute::Kind::integer: ap->set_type(::onnx::AttributeProto::INT); ap->set_i(a.i); break;
        case Attribute::Kind::real: ap->set_type(::onnx::AttributeProto::FLOAT); ap->set_f(a.f); break;
        case Attribute::Kind::integers:
          ap->set_type(::onnx::AttributeProto::INTS);
          for (std::int64_t v : a.ints) ap->add_ints(v);
          break;
        case Attribute::Kind::reals:
          ap->set_type(::onnx::AttributeProto::FLOATS);
          for (float v : a.floats) ap->add_floats(v);
          break;
        case Attribute::Kind::string: ap->set_type(::onnx::AttributeProto::STRING); ap->set_s(a.s); break;
      }
    }
  }
  if (ms) {
    auto* o = p.add_opset_import();
    o->set_domain("com.microsoft");
    o->set_version(1);
  }
  if (!p.SerializeToString(bytes)) return fail(error, StatusCode::invalid_argument, "onnx::save: serialization failed", "protobuf serialization failed");
  return Status::success();
}

}  // namespace onnx
}  // namespace qk
