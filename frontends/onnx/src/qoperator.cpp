// QOperator -> QDQ rewrite (see qoperator.hpp).
#include "qoperator.hpp"

#include <cmath>
#include <utility>
#include <vector>

#include "common.hpp"

namespace qk {
namespace onnx {
namespace detail {

namespace {

Node dq_node(const std::string& name, const std::string& x, const std::string& scale, const std::string& zero_point,
             const std::string& out) {
  Node n;
  n.op = Op::dequantize_linear;
  n.name = name;
  n.inputs = {x, scale};
  if (!zero_point.empty()) n.inputs.push_back(zero_point);
  n.outputs = {out};
  return n;
}

void set_axis(Node* n, std::int64_t axis) {
  Attribute a;
  a.name = "axis";
  a.kind = Attribute::Kind::integer;
  a.i = axis;
  n->attributes.push_back(a);
}

bool is_scale(const Tensor* t) { return t != nullptr && t->type == DataType::float32 && t->dims.size() <= 1; }

}  // namespace

bool has_qoperator_nodes(const Model& m) noexcept {
  for (const Node& n : m.nodes)
    if (n.op == Op::qlinear_conv || n.op == Op::qlinear_matmul) return true;
  return false;
}

Status qoperator_as_qdq(const Model& m, Model* out, std::string* error) {
  Model r;
  r.opset = m.opset < 13 ? 13 : m.opset;  // per-axis DequantizeLinear
  r.inputs = m.inputs;
  r.outputs = m.outputs;
  r.initializers = m.initializers;
  r.producer = m.producer;
  for (const Node& n : m.nodes) {
    if (n.op != Op::qlinear_conv && n.op != Op::qlinear_matmul) {
      r.nodes.push_back(n);
      continue;
    }
    const bool conv = n.op == Op::qlinear_conv;
    const std::string label = "node '" + n.name + "' (" + op_name(n.op) + ")";
    auto refuse = [&](const std::string& why) {
      return fail(error, StatusCode::unsupported, "network: a QOperator node qk cannot lower", label + ": " + why);
    };
    const Tensor* w = m.initializer(n.input(3));
    const Tensor* ws = m.initializer(n.input(4));
    const Tensor* xs = m.initializer(n.input(1));
    if (w == nullptr || !is_scale(ws) || (!n.input(5).empty() && m.initializer(n.input(5)) == nullptr))
      return refuse("the weights, their scale and zero point must be initializers");
    if (!is_scale(xs) || xs->count() != 1) return refuse("the input scale must be a scalar initializer");
    const std::size_t oc_axis = conv ? 0 : 1;
    if (w->dims.size() < 2) return refuse("weights of rank < 2");
    const std::size_t oc = static_cast<std::size_t>(w->dims[oc_axis]);
    const bool per_channel = ws->count() != 1;
    if (per_channel && ws->count() != oc) return refuse("weight scales must be one or one per output channel");
    const std::string x_dq = n.name + "/x_dq", w_dq = n.name + "/w_dq", y_float = n.name + "/y_float";
    r.nodes.push_back(dq_node(n.name + "/x_DequantizeLinear", n.input(0), n.input(1), n.input(2), x_dq));
    Node wn = dq_node(n.name + "/w_DequantizeLinear", n.input(3), n.input(4), n.input(5), w_dq);
    if (per_channel) set_axis(&wn, static_cast<std::int64_t>(oc_axis));
    r.nodes.push_back(wn);
    Node core;
    core.op = conv ? Op::conv : Op::matmul;
    core.name = n.name;
    core.inputs = {x_dq, w_dq};
    core.outputs = {y_float};
    if (conv) core.attributes = n.attributes;
    if (conv && !n.input(8).empty()) {
      const Tensor* b = m.initializer(n.input(8));
      if (b == nullptr || b->type != DataType::int32 || b->count() != oc)
        return refuse("the bias must be an int32 initializer, one per output channel");
      // ONNX: the bias is int32 at scale x_scale * w_scale, zero point 0.
      Tensor bs;
      bs.type = DataType::float32;
      bs.dims = {static_cast<std::int64_t>(oc)};
      bs.bytes.resize(oc * sizeof(float));
      for (std::size_t c = 0; c < oc; ++c) bs.data<float>()[c] = xs->data<float>()[0] * ws->data<float>()[per_channel ? c : 0];
      const std::string b_scale = n.name + "/bias_scale", b_dq = n.name + "/bias_dq";
      r.initializers.push_back({b_scale, std::move(bs)});
      Node bn = dq_node(n.name + "/bias_DequantizeLinear", n.input(8), b_scale, "", b_dq);
      set_axis(&bn, 0);
      r.nodes.push_back(bn);
      core.inputs.push_back(b_dq);
    }
    r.nodes.push_back(core);
    Node q;
    q.op = Op::quantize_linear;
    q.name = n.name + "/y_QuantizeLinear";
    q.inputs = {y_float, n.input(6), n.input(7)};  // y_scale, y_zero_point: inputs 6 and 7 of both ops
    if (q.inputs.back().empty()) q.inputs.pop_back();
    q.outputs = {n.outputs[0]};
    r.nodes.push_back(q);
  }
  *out = std::move(r);
  return Status::success();
}

}  // namespace detail
}  // namespace onnx
}  // namespace qk
