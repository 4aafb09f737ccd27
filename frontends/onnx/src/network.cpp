// QDQ ONNX -> qk layers (see network.hpp for the patterns).
#include "qk/onnx/network.hpp"

#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "qk/layers/conv.hpp"
#include "qk/layers/fully_connected.hpp"
#include "qk/layers/pool.hpp"
#include "qk/layers/sequence.hpp"

#include "common.hpp"
#include "qoperator.hpp"

namespace qk {
namespace onnx {

namespace {

using detail::fail;
using detail::int_at;

// A quantized activation: its NHWC shape (a matrix [n][c] is {n, 1, 1, c}) and quantization.
struct Act {
  layers::Shape4 shape;
  layers::QuantInfo quant;
};

// A DequantizeLinear of an initializer: the integer tensor and its per-tensor or per-axis scale.
struct ConstDQ {
  const Tensor* q = nullptr;
  std::vector<float> scales;
  std::vector<std::int32_t> zero_points;  // as many as scales, or empty (0)
  std::int64_t axis = 1;
};

bool scalar_quant(const Model& m, const Node& n, layers::QuantInfo* q) {
  const Tensor* s = m.initializer(n.input(1));
  const Tensor* z = n.input(2).empty() ? nullptr : m.initializer(n.input(2));
  if (s == nullptr || s->type != DataType::float32 || s->count() != 1) return false;
  if (!n.input(2).empty() && (z == nullptr || z->type != DataType::int8 || z->count() != 1)) return false;
  q->scale = s->data<float>()[0];
  q->zero_point = z != nullptr ? z->data<std::int8_t>()[0] : 0;
  return std::isfinite(q->scale) && q->scale > 0.0f;
}

// SAME padding as ONNX's auto_pad defines it, else the explicit pads.
bool window(const Node& n, std::size_t h, std::size_t w, std::size_t kh, std::size_t kw, layers::ConvWindow* cw,
            std::string* why) {
  const auto strides = n.get_ints("strides"), dil = n.get_ints("dilations"), pads = n.get_ints("pads");
  cw->kernel_h = kh;
  cw->kernel_w = kw;
  if (strides.size() == 2) {
    if (strides[0] < 1 || strides[1] < 1) return *why = "bad strides", false;
    cw->stride_h = static_cast<std::size_t>(strides[0]);
    cw->stride_w = static_cast<std::size_t>(strides[1]);
  }
  if (dil.size() == 2) {
    if (dil[0] < 1 || dil[1] < 1) return *why = "bad dilations", false;
    cw->dilation_h = static_cast<std::size_t>(dil[0]);
    cw->dilation_w = static_cast<std::size_t>(dil[1]);
  }
  cw->padding = layers::Padding::explicit_pads;
  const std::string ap = n.get_string("auto_pad", "NOTSET");
  if (ap == "NOTSET") {
    if (pads.size() == 4) {
      for (auto p : pads)
        if (p < 0) return *why = "negative pads", false;
      cw->pad_top = static_cast<std::size_t>(pads[0]);
      cw->pad_left = static_cast<std::size_t>(pads[1]);
      cw->pad_bottom = static_cast<std::size_t>(pads[2]);
      cw->pad_right = static_cast<std::size_t>(pads[3]);
    } else if (!pads.empty()) {
      return *why = "pads must have 4 values", false;
    }
  } else if (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
    auto same = [&](std::size_t in, std::size_t s, std::size_t k, std::size_t d, std::size_t* b, std::size_t* e) {
      const std::size_t o = (in + s - 1) / s, ek = (k - 1) * d + 1;
      const std::size_t need = (o - 1) * s + ek, total = need > in ? need - in : 0;
      *b = ap == "SAME_UPPER" ? total / 2 : total - total / 2;
      *e = total - *b;
    };
    same(h, cw->stride_h, kh, cw->dilation_h, &cw->pad_top, &cw->pad_bottom);
    same(w, cw->stride_w, kw, cw->dilation_w, &cw->pad_left, &cw->pad_right);
  } else if (ap != "VALID") {
    return *why = "auto_pad " + ap, false;
  }
  return true;
}

// int4 codes (one a byte) -> qk's s4 weights: element i in nibble i, the low nibble first.
std::vector<std::uint8_t> pack_s4(const std::vector<std::int8_t>& v) {
  std::vector<std::uint8_t> p((v.size() + 1) / 2, 0);
  for (std::size_t i = 0; i < v.size(); ++i)
    p[i / 2] = static_cast<std::uint8_t>(p[i / 2] | ((static_cast<unsigned>(v[i]) & 0xFu) << (4 * (i % 2))));
  return p;
}

std::string shape_str(const layers::Shape4& s) {
  return std::to_string(s.h) + "x" + std::to_string(s.w) + "x" + std::to_string(s.c);
}

}  // namespace

struct Network::Impl {
  std::vector<std::unique_ptr<layers::Layer>> layers;
  layers::Sequence sequence;
  layers::QuantInfo in_quant, out_quant;
  std::size_t n = 0, c = 0, h = 0, w = 0;  // input NCHW
  std::size_t out_count = 0;
  std::size_t in_bytes = 0, out_bytes = 0, seq_bytes = 0;
  std::vector<std::string> lines;
};

Network::Network() = default;
Network::~Network() = default;
Network::Network(Network&&) noexcept = default;
Network& Network::operator=(Network&&) noexcept = default;

Status Network::build(const Model& m, std::size_t batch, std::string* error, const NetworkOptions& options) {
  if (batch == 0) return fail(error, StatusCode::bad_shape, "network: batch 0", "batch must be at least 1");
  if (detail::has_qoperator_nodes(m)) {
    // QOperator nodes become the QDQ chains they stand for, then lower as those do.
    Model qdq;
    QK_RETURN_IF_ERROR(detail::qoperator_as_qdq(m, &qdq, error));
    return build(qdq, batch, error, options);
  }
  if (m.inputs.size() != 1 || m.outputs.size() != 1)
    return fail(error, StatusCode::unsupported, "network: one input and one output", "only models with one input and one output are lowered");
  const ValueInfo& vin = m.inputs[0];
  if (vin.type != DataType::float32 || vin.dims.size() != 4)
    return fail(error, StatusCode::unsupported, "network: input must be float NCHW", "the input must be a float32 NCHW tensor");
  for (std::size_t i = 1; i < 4; ++i)
    if (vin.dims[i] <= 0)
      return fail(error, StatusCode::unsupported, "network: input C, H, W must be fixed", "the input's C, H and W must be fixed numbers");
  auto impl = std::make_unique<Impl>();
  impl->n = batch;
  impl->c = static_cast<std::size_t>(vin.dims[1]);
  impl->h = static_cast<std::size_t>(vin.dims[2]);
  impl->w = static_cast<std::size_t>(vin.dims[3]);

  std::map<std::string, std::vector<std::size_t>> consumers;
  for (std::size_t i = 0; i < m.nodes.size(); ++i)
    for (const std::string& in : m.nodes[i].inputs) consumers[in].push_back(i);
  std::map<std::string, Act> acts;
  std::map<std::string, ConstDQ> consts;
  std::set<std::size_t> done;
  bool have_input = false, have_output = false;

  // The single consumer of `name`, or null.
  auto only_consumer = [&](const std::string& name) -> const Node* {
    const auto it = consumers.find(name);
    if (it == consumers.end() || it->second.size() != 1) return nullptr;
    return &m.nodes[it->second[0]];
  };
  auto index_of = [&](const Node* n) { return static_cast<std::size_t>(n - m.nodes.data()); };
  // Follows `out` through an optional Relu/Clip to its QuantizeLinear: the output quantization.
  auto output_stage = [&](const Node& node, layers::Activation* act, const Node** q, std::string* why) {
    const Node* next = only_consumer(node.outputs[0]);
    *act = layers::Activation::none;
    if (next != nullptr && (next->op == Op::relu || next->op == Op::clip)) {
      if (next->op == Op::clip) {
        const Tensor* lo = m.initializer(next->input(1));
        const Tensor* hi = m.initializer(next->input(2));
        const bool relu6 = m.opset >= 11 ? (lo && hi && lo->type == DataType::float32 && hi->type == DataType::float32 &&
                                            lo->count() == 1 && hi->count() == 1 && lo->data<float>()[0] == 0.0f &&
                                            hi->data<float>()[0] == 6.0f)
                                         : (next->get_float("min", -1.0f) == 0.0f && next->get_float("max", 0.0f) == 6.0f);
        if (!relu6) return *why = "only Clip(0, 6) is fused", false;
        *act = layers::Activation::relu6;
      } else {
        *act = layers::Activation::relu;
      }
      done.insert(index_of(next));
      next = only_consumer(next->outputs[0]);
    }
    if (next == nullptr || next->op != Op::quantize_linear) return *why = "its output is not quantized by one QuantizeLinear", false;
    *q = next;
    done.insert(index_of(next));
    return true;
  };
  auto add_layer = [&](std::unique_ptr<layers::Layer> l, const std::string& name, const layers::Shape4& in) {
    impl->lines.push_back(std::string(l->op_name()) + " '" + name + "' " + shape_str(in) + " -> " + shape_str(l->output_shape()));
    impl->layers.push_back(std::move(l));
  };

  // Schemes with no integer layers in qk (qk has no 16x8 layers, no run-time quantization):
  // refused up front, so that callers fall back to the reference interpreter.
  for (const Node& node : m.nodes) {
    const std::string label = "node '" + node.name + "' (" + op_name(node.op) + ")";
    if (node.op == Op::dynamic_quantize_linear || node.op == Op::conv_integer || node.op == Op::matmul_integer)
      return fail(error, StatusCode::unsupported, "network: dynamic quantization: not lowered",
                  label + ": dynamic quantization: not lowered");
    if (node.op == Op::cast)
      return fail(error, StatusCode::unsupported, "network: Cast (float16 weights): not lowered",
                  label + ": Cast (float16 weights, float arithmetic): not lowered");
    if (node.op == Op::quantize_linear || node.op == Op::dequantize_linear) {
      const Tensor* z = node.input(2).empty() ? nullptr : m.initializer(node.input(2));
      const Tensor* x = m.initializer(node.input(0));
      if ((z != nullptr && z->type == DataType::int16) || (x != nullptr && x->type == DataType::int16))
        return fail(error, StatusCode::unsupported, "network: int16 activations: not lowered",
                    label + ": int16 activations: not lowered");
    }
  }
  for (std::size_t i = 0; i < m.nodes.size(); ++i) {
    if (done.count(i) != 0) continue;
    const Node& node = m.nodes[i];
    const std::string label = "node '" + node.name + "' (" + op_name(node.op) + ")";
    std::string why;
    auto refuse = [&](const std::string& reason) {
      return fail(error, StatusCode::unsupported, "network: a node qk cannot lower", label + ": " + reason);
    };
    if (node.op == Op::quantize_linear) {
      if (node.input(0) != vin.name || have_input) return refuse("a QuantizeLinear that is not the input's");
      Act a;
      if (!scalar_quant(m, node, &a.quant) || node.input(2).empty()) return refuse("the input needs a scalar scale and an int8 zero point");
      a.shape = layers::Shape4{batch, impl->h, impl->w, impl->c};
      impl->in_quant = a.quant;
      acts[node.outputs[0]] = a;
      have_input = true;
      continue;
    }
    if (node.op == Op::dequantize_linear) {
      const Tensor* q = m.initializer(node.input(0));
      if (q != nullptr) {
        if (node.get_int("block_size", 0) != 0) return refuse("per-block weights: no qk layer");
        ConstDQ c;
        c.q = q;
        const Tensor* s = m.initializer(node.input(1));
        const Tensor* z = node.input(2).empty() ? nullptr : m.initializer(node.input(2));
        if (s == nullptr || s->type != DataType::float32 || (!node.input(2).empty() && z == nullptr))
          return refuse("scale and zero point must be initializers");
        c.scales.assign(s->data<float>(), s->data<float>() + s->count());
        if (z != nullptr)
          for (std::size_t k = 0; k < z->count(); ++k) c.zero_points.push_back(int_at(*z, k));
        c.axis = node.get_int("axis", 1);
        consts[node.outputs[0]] = std::move(c);
        continue;
      }
      const auto it = acts.find(node.input(0));
      if (it == acts.end()) return refuse("dequantizes a tensor qk did not quantize");
      acts[node.outputs[0]] = it->second;
      if (node.outputs[0] == m.outputs[0].name) {
        impl->out_quant = it->second.quant;
        impl->out_count = it->second.shape.count_unchecked() / batch;
        have_output = true;
      }
      continue;
    }
    const auto in_it = acts.find(node.input(0));
    if (in_it == acts.end()) return refuse("its input is not a dequantized int8 activation");
    const Act in = in_it->second;
    layers::Activation act = layers::Activation::none;
    const Node* q = nullptr;
    Act out;
    switch (node.op) {
      case Op::conv: case Op::gemm: case Op::matmul: {
        const auto w_it = consts.find(node.input(1));
        if (w_it == consts.end() || (w_it->second.q->type != DataType::int8 && w_it->second.q->type != DataType::int4))
          return refuse("weights must be int8 or int4 behind a DequantizeLinear");
        const ConstDQ& wd = w_it->second;
        for (std::int32_t z : wd.zero_points)
          if (z != 0) return refuse("weight zero points must be 0");
        const Tensor& wt = *wd.q;
        if (!output_stage(node, &act, &q, &why)) return refuse(why);
        if (!scalar_quant(m, *q, &out.quant) || q->input(2).empty()) return refuse("the output needs a scalar scale and an int8 zero point");
        const bool conv = node.op == Op::conv;
        // Output channels: conv [M][C/g][kh][kw] axis 0; Gemm transB [N][K] axis 0; else [K][N] axis 1.
        const bool trans_b = node.op == Op::gemm && node.get_int("transB", 0) != 0;
        if (node.op == Op::gemm && (node.get_int("transA", 0) != 0 || node.get_float("alpha", 1.0f) != 1.0f || node.get_float("beta", 1.0f) != 1.0f))
          return refuse("Gemm with transA, alpha or beta");
        if (wt.dims.size() != (conv ? 4u : 2u)) return refuse("weights of an unexpected rank");
        const std::size_t oc = static_cast<std::size_t>(conv || trans_b ? wt.dims[0] : wt.dims[1]);
        const bool per_channel = wd.scales.size() != 1;
        if (per_channel && (wd.scales.size() != oc || wd.axis != (conv || trans_b ? 0 : 1)))
          return refuse("weight scales must be per tensor or per output channel");
        std::vector<float> bias;
        if (!node.input(2).empty()) {
          const auto b_it = consts.find(node.input(2));
          if (b_it == consts.end() || b_it->second.q->type != DataType::int32 || b_it->second.q->count() != oc)
            return refuse("the bias must be int32 behind a DequantizeLinear, one per output channel");
          const ConstDQ& bd = b_it->second;
          bias.resize(oc);
          for (std::size_t k = 0; k < oc; ++k)
            bias[k] = static_cast<float>(bd.q->data<std::int32_t>()[k]) * bd.scales[bd.scales.size() == 1 ? 0 : k];
        }
        layers::FloatQuantization fq;
        fq.input = in.quant;
        fq.output = out.quant;
        fq.rounding = options.rounding;
        fq.weight_scales = wd.scales.data();
        fq.per_channel = per_channel;
        fq.bias = bias.empty() ? nullptr : bias.data();
        fq.activation = act;
        const std::int8_t* wp = wt.data<std::int8_t>();  // int4 too: one code a byte
        const bool s4 = wt.type == DataType::int4;
        if (conv) {
          if (in.shape.h == 1 && in.shape.w == 1 && in.shape.c != static_cast<std::size_t>(wt.dims[1]) * static_cast<std::size_t>(node.get_int("group", 1)))
            return refuse("input channels do not match the weights");
          const std::size_t group = static_cast<std::size_t>(node.get_int("group", 1));
          const std::size_t cg = static_cast<std::size_t>(wt.dims[1]), kh = static_cast<std::size_t>(wt.dims[2]),
                            kw = static_cast<std::size_t>(wt.dims[3]);
          if (group == 0 || cg * group != in.shape.c || oc % group != 0) return refuse("group does not fit the channels");
          layers::ConvWindow cw;
          if (!window(node, in.shape.h, in.shape.w, kh, kw, &cw, &why)) return refuse(why);
          if (group == in.shape.c && cg == 1 && group > 1) {
            layers::DepthwiseConv2DOptions o;
            static_cast<layers::ConvWindow&>(o) = cw;
            o.input = in.shape;
            o.depth_multiplier = oc / group;
            // ONNX [M][1][kh][kw] -> qk [1][kh][kw][M].
            std::vector<std::int8_t> hwm(oc * kh * kw);
            for (std::size_t mm = 0; mm < oc; ++mm)
              for (std::size_t k = 0; k < kh * kw; ++k) hwm[k * oc + mm] = wp[mm * kh * kw + k];
            auto l = std::make_unique<layers::DepthwiseConv2D>();
            if (s4) o.weight_type = ElementType::s4;
            const std::vector<std::uint8_t> packed = s4 ? pack_s4(hwm) : std::vector<std::uint8_t>();
            const Status st = l->init(o, s4 ? static_cast<const void*>(packed.data()) : hwm.data(), fq);
            if (!st.ok()) return refuse(st.message());
            out.shape = l->output_shape();
            add_layer(std::move(l), node.name, in.shape);
          } else {
            layers::Conv2DOptions o;
            static_cast<layers::ConvWindow&>(o) = cw;
            o.input = in.shape;
            o.out_c = oc;
            o.groups = group;
            // ONNX [M][C/g][kh][kw] -> qk OHWI [M][kh][kw][C/g].
            std::vector<std::int8_t> ohwi(oc * kh * kw * cg);
            for (std::size_t mm = 0; mm < oc; ++mm)
              for (std::size_t ci = 0; ci < cg; ++ci)
                for (std::size_t k = 0; k < kh * kw; ++k) ohwi[(mm * kh * kw + k) * cg + ci] = wp[(mm * cg + ci) * kh * kw + k];
            auto l = std::make_unique<layers::Conv2D>();
            if (s4) o.weight_type = ElementType::s4;
            const std::vector<std::uint8_t> packed = s4 ? pack_s4(ohwi) : std::vector<std::uint8_t>();
            const Status st = l->init(o, s4 ? static_cast<const void*>(packed.data()) : ohwi.data(), fq);
            if (!st.ok()) return refuse(st.message());
            out.shape = l->output_shape();
            add_layer(std::move(l), node.name, in.shape);
          }
        } else {
          if (in.shape.h != 1 || in.shape.w != 1) return refuse("a matrix product needs a [batch, K] input (Flatten first)");
          const std::size_t depth = static_cast<std::size_t>(trans_b ? wt.dims[1] : wt.dims[0]);
          if (depth != in.shape.c) return refuse("K of the weights does not match the input");
          std::vector<std::int8_t> nk(oc * depth);
          for (std::size_t nn = 0; nn < oc; ++nn)
            for (std::size_t k = 0; k < depth; ++k) nk[nn * depth + k] = trans_b ? wp[nn * depth + k] : wp[k * oc + nn];
          layers::FullyConnectedOptions o;
          o.batch = in.shape.n;
          o.depth = depth;
          o.out_c = oc;
          auto l = std::make_unique<layers::FullyConnected>();
          if (s4) o.weight_type = ElementType::s4;
          const std::vector<std::uint8_t> packed = s4 ? pack_s4(nk) : std::vector<std::uint8_t>();
          const Status st = l->init(o, s4 ? static_cast<const void*>(packed.data()) : nk.data(), fq);
          if (!st.ok()) return refuse(st.message());
          out.shape = layers::Shape4{in.shape.n, 1, 1, oc};
          add_layer(std::move(l), node.name, in.shape);
        }
        break;
      }
      case Op::global_average_pool: {
        if (!output_stage(node, &act, &q, &why) || act != layers::Activation::none) return refuse(why.empty() ? "an activation after the pool" : why);
        if (!scalar_quant(m, *q, &out.quant) || q->input(2).empty()) return refuse("the output needs a scalar scale and an int8 zero point");
        auto l = std::make_unique<layers::GlobalAveragePool>();
        const Status st = l->init(ElementType::s8, in.shape, in.quant, out.quant);
        if (!st.ok()) return refuse(st.message());
        out.shape = l->output_shape();
        add_layer(std::move(l), node.name, in.shape);
        break;
      }
      case Op::max_pool: case Op::average_pool: {
        if (!output_stage(node, &act, &q, &why)) return refuse(why);
        if (!scalar_quant(m, *q, &out.quant) || q->input(2).empty()) return refuse("the output needs a scalar scale and an int8 zero point");
        if (node.get_int("ceil_mode", 0) != 0) return refuse("ceil_mode 1");
        const auto ks = node.get_ints("kernel_shape");
        if (ks.size() != 2 || ks[0] < 1 || ks[1] < 1) return refuse("kernel_shape must have 2 positive values");
        layers::ConvWindow cw;
        if (!window(node, in.shape.h, in.shape.w, static_cast<std::size_t>(ks[0]), static_cast<std::size_t>(ks[1]), &cw, &why)) return refuse(why);
        if (cw.dilation_h != 1 || cw.dilation_w != 1) return refuse("dilated pooling");
        const bool pads = cw.pad_top + cw.pad_left + cw.pad_bottom + cw.pad_right != 0;
        if (node.op == Op::average_pool && pads && node.get_int("count_include_pad", 0) != 0)
          return refuse("count_include_pad with padding (TFLite's average counts only the image taps)");
        layers::Pool2DOptions o;
        o.filter_h = cw.kernel_h;
        o.filter_w = cw.kernel_w;
        o.stride_h = cw.stride_h;
        o.stride_w = cw.stride_w;
        o.padding = layers::PoolPadding::explicit_pads;
        o.pad_top = cw.pad_top;
        o.pad_left = cw.pad_left;
        o.pad_bottom = cw.pad_bottom;
        o.pad_right = cw.pad_right;
        std::unique_ptr<layers::Layer> l;
        Status st;
        if (node.op == Op::max_pool) {
          auto p = std::make_unique<layers::MaxPool2D>();
          st = p->init(ElementType::s8, in.shape, o, in.quant, out.quant, act);
          l = std::move(p);
        } else {
          auto p = std::make_unique<layers::AveragePool2D>();
          st = p->init(ElementType::s8, in.shape, o, in.quant, out.quant, act);
          l = std::move(p);
        }
        if (!st.ok()) return refuse(st.message());
        out.shape = l->output_shape();
        add_layer(std::move(l), node.name, in.shape);
        break;
      }
      case Op::flatten: case Op::reshape: {
        if (!output_stage(node, &act, &q, &why) || act != layers::Activation::none) return refuse(why.empty() ? "an activation after a reshape" : why);
        if (!scalar_quant(m, *q, &out.quant) || out.quant.scale != in.quant.scale || out.quant.zero_point != in.quant.zero_point)
          return refuse("a reshape must keep its input's scale and zero point");
        // NCHW and NHWC orders agree only when there is one pixel or one channel.
        if (in.shape.h * in.shape.w != 1 && in.shape.c != 1) return refuse("flattening a spatial tensor (NCHW order differs from qk's NHWC)");
        if (node.op == Op::flatten && node.get_int("axis", 1) != 1) return refuse("Flatten axis other than 1");
        if (node.op == Op::reshape) {
          const Tensor* s = m.initializer(node.input(1));
          if (s == nullptr || s->type != DataType::int64 || s->count() != 2) return refuse("only a constant reshape to [batch, features]");
          const std::int64_t d0 = s->data<std::int64_t>()[0], d1 = s->data<std::int64_t>()[1];
          const std::int64_t feat = static_cast<std::int64_t>(in.shape.h * in.shape.w * in.shape.c);
          if (!((d0 == -1 || d0 == 0 || d0 == static_cast<std::int64_t>(batch)) && (d1 == -1 || d1 == feat)))
            return refuse("only a reshape to [batch, features]");
        }
        out.shape = layers::Shape4{in.shape.n, 1, 1, in.shape.h * in.shape.w * in.shape.c};
        break;
      }
      default:
        return refuse("no qk layer for this op yet");
    }
    acts[q->outputs[0]] = out;
  }
  if (!have_input || !have_output)
    return fail(error, StatusCode::unsupported, "network: no quantized input or dequantized output",
                "the model does not start with QuantizeLinear of its input or end with DequantizeLinear to its output");
  if (impl->layers.empty()) return fail(error, StatusCode::unsupported, "network: no layers", "the model has no layer qk lowers");
  std::vector<layers::Layer*> ptrs;
  for (auto& l : impl->layers) ptrs.push_back(l.get());
  Status st = impl->sequence.init(ptrs.data(), ptrs.size());
  if (!st.ok()) return fail(error, st.code(), st.message(), std::string("network: ") + st.message());
  st = impl->sequence.arena_size(1, &impl->seq_bytes);
  if (!st.ok()) return fail(error, st.code(), st.message(), std::string("network: ") + st.message());
  std::size_t out_elems = 0;
  impl->sequence.output_shape().count(&out_elems);
  if (out_elems != impl->out_count * batch)
    return fail(error, StatusCode::unsupported, "network: the output is not the last layer's", "the graph output is not the last layer's output");
  auto round64 = [](std::size_t b) { return (b + 63) / 64 * 64; };
  impl->in_bytes = round64(batch * impl->c * impl->h * impl->w);
  impl->out_bytes = round64(out_elems);
  impl_ = std::move(impl);
  return Status::success();
}

std::size_t Network::arena_size() const noexcept { return impl_ ? impl_->in_bytes + impl_->out_bytes + impl_->seq_bytes + 64 : 0; }
std::size_t Network::input_count() const noexcept { return impl_ ? impl_->n * impl_->c * impl_->h * impl_->w : 0; }
std::size_t Network::output_count() const noexcept { return impl_ ? impl_->n * impl_->out_count : 0; }
std::size_t Network::layer_count() const noexcept { return impl_ ? impl_->layers.size() : 0; }
std::string Network::describe() const {
  std::string s;
  if (impl_)
    for (const std::string& l : impl_->lines) s += l + "\n";
  return s;
}

Status Network::run(const float* input, float* output, void* arena, std::size_t arena_bytes) const noexcept {
  if (!impl_) return Status(StatusCode::invalid_argument, "network run: not built");
  if (input == nullptr || output == nullptr || arena == nullptr) return Status(StatusCode::null_pointer, "network run: null input, output or arena");
  if (arena_bytes < arena_size()) return Status(StatusCode::buffer_too_small, "network run: arena smaller than arena_size()", "arena_bytes", arena_bytes);
  // 64-byte alignment inside the arena, whatever the caller's pointer.
  const std::uintptr_t base = reinterpret_cast<std::uintptr_t>(arena);
  std::uint8_t* a = static_cast<std::uint8_t*>(arena) + ((64 - base % 64) % 64);
  std::int8_t* xq = reinterpret_cast<std::int8_t*>(a);
  std::int8_t* yq = reinterpret_cast<std::int8_t*>(a + impl_->in_bytes);
  void* seq_arena = a + impl_->in_bytes + impl_->out_bytes;
  // ONNX QuantizeLinear (round half to even, saturate), NCHW -> NHWC.
  const Impl& p = *impl_;
  const float s = p.in_quant.scale;
  const float z = static_cast<float>(p.in_quant.zero_point);
  for (std::size_t n = 0; n < p.n; ++n)
    for (std::size_t c = 0; c < p.c; ++c)
      for (std::size_t i = 0; i < p.h * p.w; ++i) {
        const float v = std::nearbyint(input[(n * p.c + c) * p.h * p.w + i] / s) + z;
        xq[(n * p.h * p.w + i) * p.c + c] = static_cast<std::int8_t>(v != v ? 0.0f : v < -128.0f ? -128.0f : v > 127.0f ? 127.0f : v);
      }
  QK_RETURN_IF_ERROR(p.sequence.run(xq, yq, seq_arena, p.seq_bytes));
  const std::size_t count = p.n * p.out_count;
  for (std::size_t i = 0; i < count; ++i)
    output[i] = static_cast<float>(static_cast<std::int32_t>(yq[i]) - p.out_quant.zero_point) * p.out_quant.scale;
  return Status::success();
}

}  // namespace onnx
}  // namespace qk
