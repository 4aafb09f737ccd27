// The reference interpreter: every op written as the ONNX spec states it, with plain loops.
// Simplicity over speed; each op checks its operands' types and shapes before it allocates.
#include "qk/onnx/interpreter.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <unordered_map>

#include "common.hpp"

namespace qk {
namespace onnx {

namespace {

constexpr std::size_t kMaxTensorBytes = std::size_t{1} << 30;

using Dims = std::vector<std::int64_t>;

// An op's failure: the message is completed with the node's name by the caller. It also carries
// the run's work limit in (RunLimits::max_work_per_node, 0 = none), which the looping ops check
// before they allocate or loop.
struct OpError {
  StatusCode code = StatusCode::ok;
  std::string what;
  std::uint64_t work_limit = 0;
};

bool fail(OpError* e, StatusCode c, std::string what) {
  e->code = c;
  e->what = std::move(what);
  return false;
}

bool unsupported(OpError* e, std::string what) { return fail(e, StatusCode::unsupported, std::move(what)); }

// `work` is a product of dimensions (in double: it may exceed 2^64); false if over the limit.
bool within_work(OpError* e, double work) {
  if (e->work_limit == 0 || work <= static_cast<double>(e->work_limit)) return true;
  return fail(e, StatusCode::unsupported, "needs about " + std::to_string(work) + " operations, over the run's limit of " +
                                            std::to_string(e->work_limit));
}
double product(std::initializer_list<std::int64_t> v) {
  double p = 1.0;
  for (std::int64_t x : v) p *= static_cast<double>(x);
  return p;
}
bool bad_shape(OpError* e, std::string what) { return fail(e, StatusCode::bad_shape, std::move(what)); }

std::string dims_str(const Dims& d) {
  std::string s = "[";
  for (std::size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

// Allocates t with `dims` and `type`, zero-filled, refusing negative dims and tensors over
// kMaxTensorBytes.
bool make_tensor(Tensor* t, DataType type, const Dims& dims, OpError* e) {
  std::size_t n = 1;
  for (std::int64_t d : dims) {
    if (d < 0) return bad_shape(e, "negative dimension in " + dims_str(dims));
    if (d != 0 && n > kMaxTensorBytes / static_cast<std::size_t>(d)) return fail(e, StatusCode::size_overflow, "tensor " + dims_str(dims) + " is larger than 1 GiB");
    n *= static_cast<std::size_t>(d);
  }
  const std::size_t elem = data_type_size(type);
  if (n > kMaxTensorBytes / elem) return fail(e, StatusCode::size_overflow, "tensor " + dims_str(dims) + " is larger than 1 GiB");
  t->type = type;
  t->dims = dims;
  t->bytes.assign(n * elem, 0);
  return true;
}

bool want_type(const Tensor& t, DataType type, const char* what, OpError* e) {
  if (t.type == type) return true;
  return unsupported(e, std::string(what) + " is " + data_type_name(t.type) + ", only " + data_type_name(type) + " is supported");
}

bool is_8bit(DataType t) { return t == DataType::int8 || t == DataType::uint8; }

using detail::int_at;

// Row-major strides of dims.
std::vector<std::size_t> strides_of(const Dims& d) {
  std::vector<std::size_t> s(d.size(), 1);
  for (std::size_t i = d.size(); i-- > 1;) s[i - 1] = s[i] * static_cast<std::size_t>(d[i]);
  return s;
}

// numpy broadcasting of a and b into *out.
bool broadcast_dims(const Dims& a, const Dims& b, Dims* out, OpError* e) {
  const std::size_t r = std::max(a.size(), b.size());
  out->assign(r, 1);
  for (std::size_t i = 0; i < r; ++i) {
    const std::int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const std::int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1) return bad_shape(e, "shapes " + dims_str(a) + " and " + dims_str(b) + " do not broadcast");
    (*out)[i] = da == 1 ? db : da;
  }
  // The index tables of a broadcast are built before the output is allocated: bound them here.
  double n = 1.0;
  for (std::int64_t d : *out) n *= static_cast<double>(d);
  if (n > static_cast<double>(kMaxTensorBytes / 4))
    return fail(e, StatusCode::size_overflow, "broadcast of " + dims_str(a) + " and " + dims_str(b) + " is larger than 1 GiB");
  return true;
}

// For each output element, the linear index of the broadcast operand with dims `d`.
std::vector<std::size_t> broadcast_index(const Dims& d, const Dims& out) {
  const std::size_t r = out.size(), off = r - d.size();
  Dims full(r, 1);
  for (std::size_t i = 0; i < d.size(); ++i) full[off + i] = d[i];
  const std::vector<std::size_t> st = strides_of(full);
  std::size_t n = 1;
  for (std::int64_t x : out) n *= static_cast<std::size_t>(x);
  std::vector<std::size_t> idx(n);
  std::vector<std::int64_t> pos(r, 0);
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t li = 0;
    for (std::size_t i = 0; i < r; ++i) li += full[i] == 1 ? 0 : static_cast<std::size_t>(pos[i]) * st[i];
    idx[k] = li;
    for (std::size_t i = r; i-- > 0;) {
      if (++pos[i] < out[i]) break;
      pos[i] = 0;
    }
  }
  return idx;
}

// Normalises a possibly negative axis into [0, rank) (or [0, rank] with inclusive_end).
bool normalize_axis(std::int64_t axis, std::size_t rank, bool inclusive_end, std::size_t* out, OpError* e) {
  const std::int64_t r = static_cast<std::int64_t>(rank) + (inclusive_end ? 1 : 0);
  const std::int64_t a = axis < 0 ? axis + static_cast<std::int64_t>(rank) : axis;
  if (a < 0 || a >= r) return bad_shape(e, "axis " + std::to_string(axis) + " is outside rank " + std::to_string(rank));
  *out = static_cast<std::size_t>(a);
  return true;
}

// ---- 2-D window geometry (Conv, pools) --------------------------------------------------------

struct Window2D {
  std::int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  std::int64_t pt = 0, pl = 0, pb = 0, pr = 0;  // top, left, bottom, right
  std::int64_t oh = 0, ow = 0;
};

// Resolves kernel, strides, dilations, pads / auto_pad and the output size for input h x w, per
// the ONNX Conv / pool definitions. `ceil_mode` only for pools.
bool window_2d(const Node& n, std::int64_t h, std::int64_t w, std::int64_t kh, std::int64_t kw, bool ceil_mode,
               Window2D* out, OpError* e) {
  Window2D g;
  g.kh = kh;
  g.kw = kw;
  const Dims strides = n.get_ints("strides"), dil = n.get_ints("dilations"), pads = n.get_ints("pads");
  if (!strides.empty() && strides.size() != 2) return bad_shape(e, "strides must have 2 values");
  if (!dil.empty() && dil.size() != 2) return bad_shape(e, "dilations must have 2 values");
  if (!pads.empty() && pads.size() != 4) return bad_shape(e, "pads must have 4 values");
  if (!strides.empty()) { g.sh = strides[0]; g.sw = strides[1]; }
  if (!dil.empty()) { g.dh = dil[0]; g.dw = dil[1]; }
  if (g.kh < 1 || g.kw < 1 || g.kh > (1 << 16) || g.kw > (1 << 16)) return bad_shape(e, "kernel size must be in [1, 65536]");
  if (g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1 || g.sh > (1 << 16) || g.sw > (1 << 16) || g.dh > (1 << 16) ||
      g.dw > (1 << 16))
    return bad_shape(e, "strides and dilations must be in [1, 65536]");
  const std::int64_t ekh = (g.kh - 1) * g.dh + 1, ekw = (g.kw - 1) * g.dw + 1;
  const std::string auto_pad = n.get_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    if (!pads.empty()) {
      for (std::int64_t p : pads)
        if (p < 0 || p > (1 << 16)) return bad_shape(e, "pads must be in [0, 65536]");
      g.pt = pads[0]; g.pl = pads[1]; g.pb = pads[2]; g.pr = pads[3];
    }
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    auto same = [&](std::int64_t in, std::int64_t s, std::int64_t ek, std::int64_t* b, std::int64_t* en) {
      const std::int64_t o = (in + s - 1) / s;
      const std::int64_t total = std::max<std::int64_t>(0, (o - 1) * s + ek - in);
      *b = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      *en = total - *b;
    };
    same(h, g.sh, ekh, &g.pt, &g.pb);
    same(w, g.sw, ekw, &g.pl, &g.pr);
  } else if (auto_pad != "VALID") {
    return unsupported(e, "auto_pad '" + auto_pad + "'");
  }
  const std::int64_t span_h = h + g.pt + g.pb - ekh, span_w = w + g.pl + g.pr - ekw;
  if (span_h < 0 || span_w < 0) return bad_shape(e, "the kernel is larger than the padded input");
  g.oh = (ceil_mode ? (span_h + g.sh - 1) / g.sh : span_h / g.sh) + 1;
  g.ow = (ceil_mode ? (span_w + g.sw - 1) / g.sw : span_w / g.sw) + 1;
  *out = g;
  return true;
}

// ---- ops --------------------------------------------------------------------------------------

using Inputs = std::vector<const Tensor*>;

// Shared by Conv, ConvInteger and QLinearConv: shapes, groups and the loop. `acc(m, k_index)`
// is not used; the caller supplies value getters. Accumulates in Acc.
struct ConvShape {
  std::int64_t n = 0, c = 0, h = 0, w = 0, m = 0, cg = 0, group = 1;
  Window2D g;
};

bool conv_shape(const Node& node, const Tensor& x, const Tensor& wt, ConvShape* s, OpError* e) {
  if (x.dims.size() != 4) return unsupported(e, "only 2-D convolution (NCHW input) is supported, input is " + dims_str(x.dims));
  if (wt.dims.size() != 4) return bad_shape(e, "weights must be [M, C/group, kH, kW], are " + dims_str(wt.dims));
  s->n = x.dims[0]; s->c = x.dims[1]; s->h = x.dims[2]; s->w = x.dims[3];
  s->m = wt.dims[0]; s->cg = wt.dims[1];
  s->group = node.get_int("group", 1);
  if (s->group < 1 || s->c % s->group != 0 || s->m % s->group != 0 || s->cg != s->c / s->group)
    return bad_shape(e, "group " + std::to_string(s->group) + " does not fit input " + dims_str(x.dims) + " and weights " + dims_str(wt.dims));
  const Dims ks = node.get_ints("kernel_shape");
  if (!ks.empty() && (ks.size() != 2 || ks[0] != wt.dims[2] || ks[1] != wt.dims[3]))
    return bad_shape(e, "kernel_shape does not match the weights");
  return window_2d(node, s->h, s->w, wt.dims[2], wt.dims[3], false, &s->g, e) &&
         within_work(e, product({s->n, s->m, s->g.oh, s->g.ow, s->cg, s->g.kh, s->g.kw}));
}

// y[n][m][oy][ox] = sum over the group's channels and taps of xv(index) * wv(index), with
// padding contributing nothing; then finish(m, acc) gives the output value.
template <class Acc, class XV, class WV, class Finish>
void conv_loop(const ConvShape& s, XV xv, WV wv, Finish finish) {
  const Window2D& g = s.g;
  const std::int64_t mg = s.m / s.group;
  std::size_t o = 0;
  for (std::int64_t b = 0; b < s.n; ++b)
    for (std::int64_t m = 0; m < s.m; ++m) {
      const std::int64_t grp = m / mg;
      for (std::int64_t oy = 0; oy < g.oh; ++oy)
        for (std::int64_t ox = 0; ox < g.ow; ++ox, ++o) {
          Acc acc = 0;
          for (std::int64_t ci = 0; ci < s.cg; ++ci) {
            const std::int64_t c = grp * s.cg + ci;
            for (std::int64_t ky = 0; ky < g.kh; ++ky) {
              const std::int64_t iy = oy * g.sh - g.pt + ky * g.dh;
              if (iy < 0 || iy >= s.h) continue;
              for (std::int64_t kx = 0; kx < g.kw; ++kx) {
                const std::int64_t ix = ox * g.sw - g.pl + kx * g.dw;
                if (ix < 0 || ix >= s.w) continue;
                const std::size_t xi = static_cast<std::size_t>(((b * s.c + c) * s.h + iy) * s.w + ix);
                const std::size_t wi = static_cast<std::size_t>(((m * s.cg + ci) * g.kh + ky) * g.kw + kx);
                acc += static_cast<Acc>(xv(xi)) * static_cast<Acc>(wv(wi, m));
              }
            }
          }
          finish(o, m, acc);
        }
    }
}

bool op_conv(const Node& node, const Inputs& in, Tensor* y, OpError* e) {
  const Tensor& x = *in[0];
  const Tensor& w = *in[1];
  if (!want_type(x, DataType::float32, "input", e) || !want_type(w, DataType::float32, "weights", e)) return false;
  ConvShape s;
  if (!conv_shape(node, x, w, &s, e)) return false;
  const Tensor* b = in.size() > 2 ? in[2] : nullptr;
  if (b != nullptr) {
    if (!want_type(*b, DataType::float32, "bias", e)) return false;
    if (b->count() != static_cast<std::size_t>(s.m)) return bad_shape(e, "bias must have M elements");
  }
  if (!make_tensor(y, DataType::float32, {s.n, s.m, s.g.oh, s.g.ow}, e)) return false;
  const float* xp = x.data<float>();
  const float* wp = w.data<float>();
  float* yp = y->data<float>();
  conv_loop<float>(s, [&](std::size_t i) { return xp[i]; }, [&](std::size_t i, std::int64_t) { return wp[i]; },
                   [&](std::size_t o, std::int64_t m, float acc) {
                     yp[o] = b != nullptr ? acc + b->data<float>()[m] : acc;
                   });
  return true;
}

// A zero point operand: absent (0), a scalar, or one per `per` values; checks its type.
bool zero_points(const Tensor* zp, DataType type, std::size_t per, const char* what, std::vector<std::int32_t>* out,
                 OpError* e) {
  if (zp == nullptr) {
    out->assign(1, 0);
    return true;
  }
  if (zp->type != type) return bad_shape(e, std::string(what) + " must have its tensor's type");
  if (zp->count() != 1 && zp->count() != per) return bad_shape(e, std::string(what) + " must be a scalar or have one value per channel");
  out->resize(zp->count());
  for (std::size_t i = 0; i < zp->count(); ++i) (*out)[i] = int_at(*zp, i);
  return true;
}

bool scales(const Tensor& s, std::size_t per, const char* what, std::vector<float>* out, OpError* e) {
  if (!want_type(s, DataType::float32, what, e)) return false;
  if (s.count() != 1 && s.count() != per) return bad_shape(e, std::string(what) + " must be a scalar or have one value per channel");
  out->assign(s.data<float>(), s.data<float>() + s.count());
  for (float v : *out)
    if (!(std::isfinite(v) && v > 0.0f)) return fail(e, StatusCode::invalid_argument, std::string(what) + " must be positive and finite");
  return true;
}

// ONNX's float requantization of an int32 accumulator: saturate(round_half_even(acc * multiplier) + zp).
template <class T>
T requantize(std::int64_t acc, float multiplier, std::int32_t zp) {
  const float r = std::nearbyint(static_cast<float>(acc) * multiplier) + static_cast<float>(zp);
  const float lo = static_cast<float>(std::numeric_limits<T>::lowest()), hi = static_cast<float>(std::numeric_limits<T>::max());
  return static_cast<T>(r < lo ? lo : r > hi ? hi : r);
}

// ConvInteger (int32 out) and QLinearConv (int8/uint8 out).
bool op_conv_quantized(const Node& node, const Inputs& in, bool qlinear, Tensor* y, OpError* e) {
  const Tensor& x = *in[0];
  const Tensor& w = qlinear ? *in[3] : *in[1];
  if (!is_8bit(x.type) || !is_8bit(w.type)) return unsupported(e, "input and weights must be int8 or uint8");
  ConvShape s;
  if (!conv_shape(node, x, w, &s, e)) return false;
  std::vector<std::int32_t> xz, wz;
  std::vector<float> xs, ws, ys;
  std::vector<std::int32_t> yz;
  const Tensor* bias = nullptr;
  if (qlinear) {
    if (!zero_points(in[2], x.type, 1, "x_zero_point", &xz, e) || !zero_points(in[5], w.type, static_cast<std::size_t>(s.m), "w_zero_point", &wz, e) ||
        !scales(*in[1], 1, "x_scale", &xs, e) || !scales(*in[4], static_cast<std::size_t>(s.m), "w_scale", &ws, e) ||
        !scales(*in[6], 1, "y_scale", &ys, e) || !zero_points(in[7], in[7]->type, 1, "y_zero_point", &yz, e))
      return false;
    if (!is_8bit(in[7]->type)) return unsupported(e, "y_zero_point must be int8 or uint8");
    bias = in.size() > 8 ? in[8] : nullptr;
    if (bias != nullptr && (bias->type != DataType::int32 || bias->count() != static_cast<std::size_t>(s.m)))
      return bad_shape(e, "bias must be int32 with M elements");
  } else {
    if (!zero_points(in.size() > 2 ? in[2] : nullptr, x.type, 1, "x_zero_point", &xz, e) ||
        !zero_points(in.size() > 3 ? in[3] : nullptr, w.type, static_cast<std::size_t>(s.m), "w_zero_point", &wz, e))
      return false;
  }
  const DataType out_type = qlinear ? in[7]->type : DataType::int32;
  if (!make_tensor(y, out_type, {s.n, s.m, s.g.oh, s.g.ow}, e)) return false;
  // Padding is the zero point, i.e. contributes 0 after subtraction: conv_loop skips it.
  conv_loop<std::int64_t>(
      s, [&](std::size_t i) { return int_at(x, i) - xz[0]; },
      [&](std::size_t i, std::int64_t m) { return int_at(w, i) - wz[wz.size() == 1 ? 0 : static_cast<std::size_t>(m)]; },
      [&](std::size_t o, std::int64_t m, std::int64_t acc) {
        const std::size_t mi = static_cast<std::size_t>(m);
        if (!qlinear) {
          y->data<std::int32_t>()[o] = static_cast<std::int32_t>(static_cast<std::uint32_t>(acc));
          return;
        }
        if (bias != nullptr) acc += bias->data<std::int32_t>()[mi];
        const float mult = xs[0] * ws[ws.size() == 1 ? 0 : mi] / ys[0];
        if (out_type == DataType::uint8)
          y->data<std::uint8_t>()[o] = requantize<std::uint8_t>(acc, mult, yz[0]);
        else
          y->data<std::int8_t>()[o] = requantize<std::int8_t>(acc, mult, yz[0]);
      });
  return true;
}

template <class F>
bool unary_float(const Tensor& x, Tensor* y, OpError* e, F f) {
  if (!want_type(x, DataType::float32, "input", e) || !make_tensor(y, DataType::float32, x.dims, e)) return false;
  const float* xp = x.data<float>();
  float* yp = y->data<float>();
  for (std::size_t i = 0, n = x.count(); i < n; ++i) yp[i] = f(xp[i]);
  return true;
}

bool scalar_float(const Tensor* t, float fallback, const char* what, float* out, OpError* e) {
  if (t == nullptr) {
    *out = fallback;
    return true;
  }
  if (t->type != DataType::float32 || t->count() != 1) return unsupported(e, std::string(what) + " must be a float32 scalar");
  *out = t->data<float>()[0];
  return true;
}

template <class F>
bool binary_float(const Tensor& a, const Tensor& b, Tensor* y, OpError* e, F f) {
  if (!want_type(a, DataType::float32, "A", e) || !want_type(b, DataType::float32, "B", e)) return false;
  Dims out;
  if (!broadcast_dims(a.dims, b.dims, &out, e) || !make_tensor(y, DataType::float32, out, e)) return false;
  const std::vector<std::size_t> ia = broadcast_index(a.dims, out), ib = broadcast_index(b.dims, out);
  float* yp = y->data<float>();
  for (std::size_t i = 0; i < ia.size(); ++i) yp[i] = f(a.data<float>()[ia[i]], b.data<float>()[ib[i]]);
  return true;
}

bool op_pool(const Node& node, const Tensor& x, bool is_max, Tensor* y, OpError* e) {
  if (!want_type(x, DataType::float32, "input", e)) return false;
  if (x.dims.size() != 4) return unsupported(e, "only 2-D pooling (NCHW input) is supported, input is " + dims_str(x.dims));
  if (node.get_int("storage_order", 0) != 0) return unsupported(e, "storage_order 1");
  const Dims ks = node.get_ints("kernel_shape");
  if (ks.size() != 2) return bad_shape(e, "kernel_shape must have 2 values");
  if (!is_max && node.attribute("dilations") != nullptr) return unsupported(e, "dilations");
  const bool ceil_mode = node.get_int("ceil_mode", 0) != 0;
  const bool include_pad = node.get_int("count_include_pad", 0) != 0;
  Window2D g;
  if (!window_2d(node, x.dims[2], x.dims[3], ks[0], ks[1], ceil_mode, &g, e)) return false;
  if (!within_work(e, product({x.dims[0], x.dims[1], g.oh, g.ow, g.kh, g.kw}))) return false;
  if (!make_tensor(y, DataType::float32, {x.dims[0], x.dims[1], g.oh, g.ow}, e)) return false;
  const std::int64_t h = x.dims[2], w = x.dims[3];
  const float* xp = x.data<float>();
  float* yp = y->data<float>();
  std::size_t o = 0;
  for (std::int64_t nc = 0; nc < x.dims[0] * x.dims[1]; ++nc)
    for (std::int64_t oy = 0; oy < g.oh; ++oy)
      for (std::int64_t ox = 0; ox < g.ow; ++ox, ++o) {
        float best = -std::numeric_limits<float>::infinity(), sum = 0.0f;
        std::int64_t valid = 0, padded = 0;
        for (std::int64_t ky = 0; ky < g.kh; ++ky) {
          const std::int64_t iy = oy * g.sh - g.pt + ky * g.dh;
          for (std::int64_t kx = 0; kx < g.kw; ++kx) {
            const std::int64_t ix = ox * g.sw - g.pl + kx * g.dw;
            // Taps inside the explicit padding count for count_include_pad; taps past it (only
            // in ceil mode) never do.
            if (iy < h + g.pb && ix < w + g.pr) ++padded;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            const float v = xp[static_cast<std::size_t>((nc * h + iy) * w + ix)];
            best = std::max(best, v);
            sum += v;
            ++valid;
          }
        }
        yp[o] = is_max ? best : sum / static_cast<float>(include_pad ? padded : valid);
      }
  return true;
}

bool op_global_average_pool(const Tensor& x, Tensor* y, OpError* e) {
  if (!want_type(x, DataType::float32, "input", e)) return false;
  if (x.dims.size() < 3) return bad_shape(e, "input must be [N, C, spatial...], is " + dims_str(x.dims));
  Dims out = x.dims;
  std::size_t spatial = 1;
  for (std::size_t i = 2; i < out.size(); ++i) {
    spatial *= static_cast<std::size_t>(out[i]);
    out[i] = 1;
  }
  if (spatial == 0) return bad_shape(e, "empty spatial extent");
  if (!make_tensor(y, DataType::float32, out, e)) return false;
  const std::size_t nc = static_cast<std::size_t>(x.dims[0] * x.dims[1]);
  for (std::size_t i = 0; i < nc; ++i) {
    float sum = 0.0f;
    for (std::size_t j = 0; j < spatial; ++j) sum += x.data<float>()[i * spatial + j];
    y->data<float>()[i] = sum / static_cast<float>(spatial);
  }
  return true;
}

bool op_gemm(const Node& node, const Inputs& in, Tensor* y, OpError* e) {
  const Tensor& a = *in[0];
  const Tensor& b = *in[1];
  const Tensor* c = in.size() > 2 ? in[2] : nullptr;
  if (!want_type(a, DataType::float32, "A", e) || !want_type(b, DataType::float32, "B", e)) return false;
  if (c != nullptr && !want_type(*c, DataType::float32, "C", e)) return false;
  if (a.dims.size() != 2 || b.dims.size() != 2) return bad_shape(e, "A and B must be matrices");
  const bool ta = node.get_int("transA", 0) != 0, tb = node.get_int("transB", 0) != 0;
  const float alpha = node.get_float("alpha", 1.0f), beta = node.get_float("beta", 1.0f);
  const std::int64_t M = ta ? a.dims[1] : a.dims[0], K = ta ? a.dims[0] : a.dims[1];
  const std::int64_t K2 = tb ? b.dims[1] : b.dims[0], N = tb ? b.dims[0] : b.dims[1];
  if (K != K2) return bad_shape(e, "A " + dims_str(a.dims) + " and B " + dims_str(b.dims) + " have different K");
  if (!within_work(e, product({M, N, K}))) return false;
  std::vector<std::size_t> ci;
  if (c != nullptr) {
    Dims bc;
    if (!broadcast_dims(c->dims, {M, N}, &bc, e)) return false;
    if (bc != Dims{M, N}) return bad_shape(e, "C " + dims_str(c->dims) + " does not broadcast to [M, N]");
    ci = broadcast_index(c->dims, {M, N});
  }
  if (!make_tensor(y, DataType::float32, {M, N}, e)) return false;
  const float* ap = a.data<float>();
  const float* bp = b.data<float>();
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      float acc = 0.0f;
      for (std::int64_t k = 0; k < K; ++k)
        acc += ap[ta ? k * M + i : i * K + k] * bp[tb ? j * K + k : k * N + j];
      const std::size_t o = static_cast<std::size_t>(i * N + j);
      y->data<float>()[o] = alpha * acc + (c != nullptr ? beta * c->data<float>()[ci[o]] : 0.0f);
    }
  return true;
}

// numpy matmul geometry: batch dims broadcast, a 1-D operand promoted and its dim removed after.
struct MatMulShape {
  std::int64_t M = 0, K = 0, N = 0;
  Dims out;
  std::vector<std::size_t> a_batch, b_batch;  // per output batch, the operand's batch index
};

bool matmul_shape(const Tensor& a, const Tensor& b, MatMulShape* s, OpError* e) {
  if (a.dims.empty() || b.dims.empty()) return bad_shape(e, "MatMul operands must have rank >= 1");
  Dims ad = a.dims, bd = b.dims;
  const bool a1 = ad.size() == 1, b1 = bd.size() == 1;
  if (a1) ad.insert(ad.begin(), 1);
  if (b1) bd.push_back(1);
  s->M = ad[ad.size() - 2];
  s->K = ad.back();
  s->N = bd.back();
  if (bd[bd.size() - 2] != s->K) return bad_shape(e, "A " + dims_str(a.dims) + " and B " + dims_str(b.dims) + " have different K");
  const Dims ab(ad.begin(), ad.end() - 2), bb(bd.begin(), bd.end() - 2);
  Dims batch;
  if (!broadcast_dims(ab, bb, &batch, e)) return false;
  s->a_batch = broadcast_index(ab, batch);
  s->b_batch = broadcast_index(bb, batch);
  s->out = batch;
  if (!a1) s->out.push_back(s->M);
  if (!b1) s->out.push_back(s->N);
  return within_work(e, static_cast<double>(s->a_batch.size()) * product({s->M, s->N, s->K}));
}

template <class Acc, class AV, class BV, class Out>
void matmul_loop(const MatMulShape& s, AV av, BV bv, Out out) {
  const std::size_t M = static_cast<std::size_t>(s.M), K = static_cast<std::size_t>(s.K), N = static_cast<std::size_t>(s.N);
  for (std::size_t bi = 0; bi < s.a_batch.size(); ++bi)
    for (std::size_t i = 0; i < M; ++i)
      for (std::size_t j = 0; j < N; ++j) {
        Acc acc = 0;
        for (std::size_t k = 0; k < K; ++k)
          acc += static_cast<Acc>(av(s.a_batch[bi] * M * K + i * K + k, i)) * static_cast<Acc>(bv(s.b_batch[bi] * K * N + k * N + j, j));
        out((bi * M + i) * N + j, i, j, acc);
      }
}

bool op_matmul(const Inputs& in, Tensor* y, OpError* e) {
  const Tensor& a = *in[0];
  const Tensor& b = *in[1];
  if (!want_type(a, DataType::float32, "A", e) || !want_type(b, DataType::float32, "B", e)) return false;
  MatMulShape s;
  if (!matmul_shape(a, b, &s, e) || !make_tensor(y, DataType::float32, s.out, e)) return false;
  matmul_loop<float>(s, [&](std::size_t i, std::size_t) { return a.data<float>()[i]; },
                     [&](std::size_t i, std::size_t) { return b.data<float>()[i]; },
                     [&](std::size_t o, std::size_t, std::size_t, float acc) { y->data<float>()[o] = acc; });
  return true;
}

// MatMulInteger (int32 out) and QLinearMatMul (8-bit out). Zero points: a per row (M) or
// scalar, b per column (N) or scalar.
bool op_matmul_quantized(const Inputs& in, bool qlinear, Tensor* y, OpError* e) {
  const Tensor& a = *in[0];
  const Tensor& b = qlinear ? *in[3] : *in[1];
  if (!is_8bit(a.type) || !is_8bit(b.type)) return unsupported(e, "A and B must be int8 or uint8");
  MatMulShape s;
  if (!matmul_shape(a, b, &s, e)) return false;
  std::vector<std::int32_t> az, bz, yz;
  std::vector<float> as, bs, ys;
  const std::size_t M = static_cast<std::size_t>(s.M), N = static_cast<std::size_t>(s.N);
  if (qlinear) {
    if (!scales(*in[1], M, "a_scale", &as, e) || !zero_points(in[2], a.type, M, "a_zero_point", &az, e) ||
        !scales(*in[4], N, "b_scale", &bs, e) || !zero_points(in[5], b.type, N, "b_zero_point", &bz, e) ||
        !scales(*in[6], 1, "y_scale", &ys, e))
      return false;
    if (!is_8bit(in[7]->type)) return unsupported(e, "y_zero_point must be int8 or uint8");
    if (!zero_points(in[7], in[7]->type, 1, "y_zero_point", &yz, e)) return false;
  } else if (!zero_points(in.size() > 2 ? in[2] : nullptr, a.type, M, "a_zero_point", &az, e) ||
             !zero_points(in.size() > 3 ? in[3] : nullptr, b.type, N, "b_zero_point", &bz, e)) {
    return false;
  }
  const DataType out_type = qlinear ? in[7]->type : DataType::int32;
  if (!make_tensor(y, out_type, s.out, e)) return false;
  matmul_loop<std::int64_t>(
      s, [&](std::size_t i, std::size_t row) { return int_at(a, i) - az[az.size() == 1 ? 0 : row]; },
      [&](std::size_t i, std::size_t col) { return int_at(b, i) - bz[bz.size() == 1 ? 0 : col]; },
      [&](std::size_t o, std::size_t row, std::size_t col, std::int64_t acc) {
        if (!qlinear) {
          y->data<std::int32_t>()[o] = static_cast<std::int32_t>(static_cast<std::uint32_t>(acc));
          return;
        }
        const float mult = as[as.size() == 1 ? 0 : row] * bs[bs.size() == 1 ? 0 : col] / ys[0];
        if (out_type == DataType::uint8)
          y->data<std::uint8_t>()[o] = requantize<std::uint8_t>(acc, mult, yz[0]);
        else
          y->data<std::int8_t>()[o] = requantize<std::int8_t>(acc, mult, yz[0]);
      });
  return true;
}

bool copy_with_dims(const Tensor& x, const Dims& dims, Tensor* y, OpError* e) {
  if (!make_tensor(y, x.type, dims, e)) return false;
  if (y->bytes.size() != x.bytes.size()) return bad_shape(e, "cannot reshape " + dims_str(x.dims) + " to " + dims_str(dims));
  y->bytes = x.bytes;
  return true;
}

bool op_flatten(const Node& node, const Tensor& x, Tensor* y, OpError* e) {
  std::size_t axis = 0;
  if (!normalize_axis(node.get_int("axis", 1), x.dims.size(), true, &axis, e)) return false;
  std::int64_t outer = 1, inner = 1;
  for (std::size_t i = 0; i < x.dims.size(); ++i) (i < axis ? outer : inner) *= x.dims[i];
  return copy_with_dims(x, {outer, inner}, y, e);
}

bool op_reshape(const Node& node, const Tensor& x, const Tensor& shape, Tensor* y, OpError* e) {
  if (!want_type(shape, DataType::int64, "shape", e)) return false;
  if (shape.dims.size() != 1) return bad_shape(e, "shape must be 1-D");
  const bool allowzero = node.get_int("allowzero", 0) != 0;
  Dims out(shape.data<std::int64_t>(), shape.data<std::int64_t>() + shape.count());
  std::int64_t known = 1;
  int infer = -1;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0 && !allowzero) {
      if (i >= x.dims.size()) return bad_shape(e, "shape copies a dimension the input does not have");
      out[i] = x.dims[i];
    }
    if (out[i] == -1) {
      if (infer >= 0) return bad_shape(e, "shape has more than one -1");
      infer = static_cast<int>(i);
      continue;
    }
    if (out[i] < 0) return bad_shape(e, "shape has a negative dimension");
    if (out[i] != 0 && known > std::numeric_limits<std::int64_t>::max() / out[i]) return bad_shape(e, "shape overflows");
    known *= out[i];
  }
  if (infer >= 0) {
    const std::int64_t total = static_cast<std::int64_t>(x.count());
    if (known == 0 || total % known != 0) return bad_shape(e, "cannot infer the -1 dimension");
    out[static_cast<std::size_t>(infer)] = total / known;
  }
  return copy_with_dims(x, out, y, e);
}

bool op_concat(const Node& node, const Inputs& in, Tensor* y, OpError* e) {
  const Tensor& first = *in[0];
  if (node.attribute("axis") == nullptr) return bad_shape(e, "Concat needs an axis");
  std::size_t axis = 0;
  if (!normalize_axis(node.get_int("axis", 0), first.dims.size(), false, &axis, e)) return false;
  Dims out = first.dims;
  out[axis] = 0;
  for (const Tensor* t : in) {
    if (t->type != first.type || t->dims.size() != first.dims.size()) return bad_shape(e, "inputs differ in type or rank");
    for (std::size_t i = 0; i < out.size(); ++i)
      if (i != axis && t->dims[i] != first.dims[i]) return bad_shape(e, "inputs differ outside the axis");
    out[axis] += t->dims[axis];
  }
  if (!make_tensor(y, first.type, out, e)) return false;
  const std::size_t elem = data_type_size(first.type);
  std::size_t outer = 1, inner = elem;
  for (std::size_t i = 0; i < axis; ++i) outer *= static_cast<std::size_t>(out[i]);
  for (std::size_t i = axis + 1; i < out.size(); ++i) inner *= static_cast<std::size_t>(out[i]);
  std::size_t off = 0;
  for (std::size_t o = 0; o < outer; ++o)
    for (const Tensor* t : in) {
      const std::size_t chunk = static_cast<std::size_t>(t->dims[axis]) * inner;
      if (chunk != 0) std::memcpy(y->bytes.data() + off, t->bytes.data() + o * chunk, chunk);
      off += chunk;
    }
  return true;
}

bool op_batch_norm(const Node& node, const Inputs& in, Tensor* y, OpError* e) {
  const Tensor& x = *in[0];
  if (node.get_int("training_mode", 0) != 0) return unsupported(e, "training_mode 1");
  if (node.get_int("spatial", 1) != 1) return unsupported(e, "spatial 0");
  if (!want_type(x, DataType::float32, "input", e)) return false;
  if (x.dims.size() < 2) return bad_shape(e, "input must be [N, C, ...]");
  const std::size_t C = static_cast<std::size_t>(x.dims[1]);
  for (std::size_t i = 1; i < 5; ++i)
    if (in[i]->type != DataType::float32 || in[i]->count() != C) return bad_shape(e, "scale, B, mean and var must be float32 with C values");
  const float eps = node.get_float("epsilon", 1e-5f);
  if (!make_tensor(y, DataType::float32, x.dims, e)) return false;
  std::size_t inner = 1;
  for (std::size_t i = 2; i < x.dims.size(); ++i) inner *= static_cast<std::size_t>(x.dims[i]);
  const std::size_t N = static_cast<std::size_t>(x.dims[0]);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t c = 0; c < C; ++c) {
      const float sc = in[1]->data<float>()[c], bi = in[2]->data<float>()[c], mean = in[3]->data<float>()[c],
                  var = in[4]->data<float>()[c];
      const float inv = 1.0f / std::sqrt(var + eps);
      for (std::size_t i = 0; i < inner; ++i) {
        const std::size_t k = (n * C + c) * inner + i;
        y->data<float>()[k] = (x.data<float>()[k] - mean) * inv * sc + bi;
      }
    }
  return true;
}

bool op_softmax(const Node& node, std::int64_t opset, const Tensor& x, Tensor* y, OpError* e) {
  if (!want_type(x, DataType::float32, "input", e)) return false;
  std::size_t axis = 0;
  if (!normalize_axis(node.get_int("axis", opset >= 13 ? -1 : 1), x.dims.size(), false, &axis, e)) return false;
  if (!make_tensor(y, DataType::float32, x.dims, e)) return false;
  // Opset 13: along one axis. Before: over the flattened [axis, rank) block.
  std::size_t outer = 1, len = 1, inner = 1;
  for (std::size_t i = 0; i < x.dims.size(); ++i) {
    const std::size_t d = static_cast<std::size_t>(x.dims[i]);
    if (i < axis) outer *= d;
    else if (i == axis || opset < 13) len *= d;
    else inner *= d;
  }
  const float* xp = x.data<float>();
  float* yp = y->data<float>();
  for (std::size_t o = 0; o < outer; ++o)
    for (std::size_t in_ = 0; in_ < inner; ++in_) {
      auto at = [&](std::size_t k) { return (o * len + k) * inner + in_; };
      float mx = -std::numeric_limits<float>::infinity();
      for (std::size_t k = 0; k < len; ++k) mx = std::max(mx, xp[at(k)]);
      float sum = 0.0f;
      for (std::size_t k = 0; k < len; ++k) sum += (yp[at(k)] = std::exp(xp[at(k)] - mx));
      for (std::size_t k = 0; k < len; ++k) yp[at(k)] /= sum;
    }
  return true;
}

// The per-element index into a per-axis parameter (scale, zero point) of size dims[axis].
bool axis_params(const Node& node, const Tensor& x, const Tensor& scale, std::size_t* axis, std::size_t* inner, OpError* e) {
  *axis = 0;
  *inner = x.count();
  if (scale.count() == 1 && scale.dims.size() <= 1) return true;
  if (scale.dims.size() != 1) return unsupported(e, "blocked quantization (scale of rank > 1)");
  if (!normalize_axis(node.get_int("axis", 1), x.dims.size(), false, axis, e)) return false;
  if (static_cast<std::size_t>(x.dims[*axis]) != scale.count()) return bad_shape(e, "scale must have one value per axis element");
  *inner = 1;
  for (std::size_t i = *axis + 1; i < x.dims.size(); ++i) *inner *= static_cast<std::size_t>(x.dims[i]);
  return true;
}

bool op_quantize_linear(const Node& node, const Inputs& in, Tensor* y, OpError* e) {
  const Tensor& x = *in[0];
  const Tensor* zp = in.size() > 2 ? in[2] : nullptr;
  if (!want_type(x, DataType::float32, "x", e)) return false;
  const DataType out = zp != nullptr ? zp->type : DataType::uint8;
  if (!is_8bit(out) && out != DataType::int16) return unsupported(e, "y_zero_point must be int8, uint8 or int16");
  std::size_t axis = 0, inner = 0;
  if (!axis_params(node, x, *in[1], &axis, &inner, e)) return false;
  const std::size_t nparams = in[1]->count();
  std::vector<float> s;
  std::vector<std::int32_t> z;
  if (!scales(*in[1], nparams, "y_scale", &s, e) || !zero_points(zp, out, nparams, "y_zero_point", &z, e)) return false;
  if (z.size() != 1 && z.size() != s.size()) return bad_shape(e, "y_zero_point must match y_scale");
  if (!make_tensor(y, out, x.dims, e)) return false;
  for (std::size_t i = 0, n = x.count(); i < n; ++i) {
    const std::size_t p = s.size() == 1 ? 0 : (i / inner) % s.size();
    const float r = std::nearbyint(x.data<float>()[i] / s[p]) + static_cast<float>(z[z.size() == 1 ? 0 : p]);
    if (out == DataType::uint8)
      y->data<std::uint8_t>()[i] = static_cast<std::uint8_t>(std::isnan(r) ? 0.0f : std::min(255.0f, std::max(0.0f, r)));
    else if (out == DataType::int16)
      y->data<std::int16_t>()[i] = static_cast<std::int16_t>(std::isnan(r) ? 0.0f : std::min(32767.0f, std::max(-32768.0f, r)));
    else
      y->data<std::int8_t>()[i] = static_cast<std::int8_t>(std::isnan(r) ? 0.0f : std::min(127.0f, std::max(-128.0f, r)));
  }
  return true;
}

bool is_4bit(DataType t) { return t == DataType::int4 || t == DataType::uint4; }

// Blocked DequantizeLinear (opset 21, block_size > 0): the scale (and zero point) has x's shape
// except along `axis`, where it has ceil(dim / block_size) entries; element x[..., a, ...] uses
// scale[..., a / block_size, ...].
bool op_dequantize_blocked(const Node& node, const Inputs& in, std::int64_t block, Tensor* y, OpError* e) {
  const Tensor& x = *in[0];
  const Tensor& sc = *in[1];
  const Tensor* zp = in.size() > 2 ? in[2] : nullptr;
  std::size_t axis = 0;
  if (!normalize_axis(node.get_int("axis", 1), x.dims.size(), false, &axis, e)) return false;
  if (!want_type(sc, DataType::float32, "x_scale", e)) return false;
  if (sc.dims.size() != x.dims.size()) return bad_shape(e, "a blocked x_scale must have x's rank");
  const std::size_t b = static_cast<std::size_t>(block);
  for (std::size_t i = 0; i < x.dims.size(); ++i) {
    const std::size_t d = static_cast<std::size_t>(x.dims[i]);
    const std::size_t want = i == axis ? (d + b - 1) / b : d;
    if (static_cast<std::size_t>(sc.dims[i]) != want)
      return bad_shape(e, "x_scale " + dims_str(sc.dims) + " does not fit x " + dims_str(x.dims) + " with block_size " +
                              std::to_string(block) + " along axis " + std::to_string(axis));
  }
  if (zp != nullptr && (zp->type != x.type || zp->dims != sc.dims)) return bad_shape(e, "x_zero_point must have x's type and x_scale's shape");
  for (std::size_t i = 0, n = sc.count(); i < n; ++i)
    if (!(std::isfinite(sc.data<float>()[i]) && sc.data<float>()[i] > 0.0f))
      return fail(e, StatusCode::invalid_argument, "x_scale must be positive and finite");
  if (!make_tensor(y, DataType::float32, x.dims, e)) return false;
  const std::size_t len = static_cast<std::size_t>(x.dims[axis]), blocks = (len + b - 1) / b;
  std::size_t inner = 1;
  for (std::size_t i = axis + 1; i < x.dims.size(); ++i) inner *= static_cast<std::size_t>(x.dims[i]);
  for (std::size_t i = 0, n = x.count(); i < n; ++i) {
    const std::size_t o = i / (len * inner), a = (i / inner) % len, r = i % inner;
    const std::size_t p = (o * blocks + a / b) * inner + r;
    const std::int64_t q = static_cast<std::int64_t>(int_at(x, i)) - (zp != nullptr ? int_at(*zp, p) : 0);
    y->data<float>()[i] = static_cast<float>(q) * sc.data<float>()[p];
  }
  return true;
}

bool op_dequantize_linear(const Node& node, const Inputs& in, Tensor* y, OpError* e) {
  const Tensor& x = *in[0];
  const Tensor* zp = in.size() > 2 ? in[2] : nullptr;
  const std::int64_t block = node.get_int("block_size", 0);
  if (block < 0) return bad_shape(e, "block_size " + std::to_string(block) + " is negative");
  if (!is_8bit(x.type) && !is_4bit(x.type) && x.type != DataType::int32 && x.type != DataType::int16)
    return unsupported(e, "x must be int8, uint8, int4, uint4, int16 or int32");
  if (block > 0) return op_dequantize_blocked(node, in, block, y, e);
  std::size_t axis = 0, inner = 0;
  if (!axis_params(node, x, *in[1], &axis, &inner, e)) return false;
  const std::size_t nparams = in[1]->count();
  std::vector<float> s;
  std::vector<std::int32_t> z;
  if (!scales(*in[1], nparams, "x_scale", &s, e) || !zero_points(zp, x.type, nparams, "x_zero_point", &z, e)) return false;
  if (z.size() != 1 && z.size() != s.size()) return bad_shape(e, "x_zero_point must match x_scale");
  if (!make_tensor(y, DataType::float32, x.dims, e)) return false;
  for (std::size_t i = 0, n = x.count(); i < n; ++i) {
    const std::size_t p = s.size() == 1 ? 0 : (i / inner) % s.size();
    const std::int64_t q = static_cast<std::int64_t>(int_at(x, i)) - z[z.size() == 1 ? 0 : p];
    y->data<float>()[i] = static_cast<float>(q) * s[p];
  }
  return true;
}

// com.microsoft QLinearAdd: C = saturate(round((A_s (a - A_zp) + B_s (b - B_zp)) / C_s) + C_zp).
bool op_qlinear_add(const Inputs& in, Tensor* y, OpError* e) {
  const Tensor& a = *in[0];
  const Tensor& b = *in[3];
  if (!is_8bit(a.type) || a.type != b.type) return unsupported(e, "A and B must both be int8 or both uint8");
  std::vector<float> as, bs, cs;
  std::vector<std::int32_t> az, bz, cz;
  const Tensor* czp = in.size() > 7 ? in[7] : nullptr;
  if (!scales(*in[1], 1, "A_scale", &as, e) || !zero_points(in[2], a.type, 1, "A_zero_point", &az, e) ||
      !scales(*in[4], 1, "B_scale", &bs, e) || !zero_points(in[5], b.type, 1, "B_zero_point", &bz, e) ||
      !scales(*in[6], 1, "C_scale", &cs, e) || !zero_points(czp, a.type, 1, "C_zero_point", &cz, e))
    return false;
  Dims out;
  if (!broadcast_dims(a.dims, b.dims, &out, e) || !make_tensor(y, a.type, out, e)) return false;
  const std::vector<std::size_t> ia = broadcast_index(a.dims, out), ib = broadcast_index(b.dims, out);
  for (std::size_t i = 0; i < ia.size(); ++i) {
    const float r = as[0] * static_cast<float>(int_at(a, ia[i]) - az[0]) + bs[0] * static_cast<float>(int_at(b, ib[i]) - bz[0]);
    const float q = std::nearbyint(r / cs[0]) + static_cast<float>(cz[0]);
    if (a.type == DataType::uint8)
      y->data<std::uint8_t>()[i] = static_cast<std::uint8_t>(std::min(255.0f, std::max(0.0f, q)));
    else
      y->data<std::int8_t>()[i] = static_cast<std::int8_t>(std::min(127.0f, std::max(-128.0f, q)));
  }
  return true;
}

// Cast(to = FLOAT) from float16, float32, float64, int8, uint8, int16 and int32 (the loader refuses
// other targets, and other declared input types).
bool op_cast(const Node& node, const Tensor& x, Tensor* y, OpError* e) {
  if (node.get_int("to", 0) != static_cast<std::int64_t>(DataType::float32)) return unsupported(e, "Cast to a type other than FLOAT");
  switch (x.type) {
    case DataType::float16: case DataType::float32: case DataType::float64: case DataType::int8: case DataType::uint8:
    case DataType::int16: case DataType::int32: break;
    default: return unsupported(e, std::string("Cast from ") + data_type_name(x.type) + " to float32");
  }
  if (!make_tensor(y, DataType::float32, x.dims, e)) return false;
  float* yp = y->data<float>();
  for (std::size_t i = 0, n = x.count(); i < n; ++i) {
    if (x.type == DataType::float16) yp[i] = half_to_float(x.data<std::uint16_t>()[i]);
    else if (x.type == DataType::float32) yp[i] = x.data<float>()[i];
    else if (x.type == DataType::float64) yp[i] = static_cast<float>(x.data<double>()[i]);
    else yp[i] = static_cast<float>(int_at(x, i));
  }
  return true;
}

// DynamicQuantizeLinear (opset 11), as the spec writes it: the range [min(0, min x), max(0, max x)],
// y_scale = (max - min) / 255, y_zero_point = saturate(round(-min / y_scale)), y = saturate(round(x /
// y_scale) + y_zero_point), rounding half to even, uint8. An all-zero input gives scale 0; the spec
// leaves x / 0 undefined, qk (like ONNX Runtime) then writes zero point 0 and y = 0.
bool op_dynamic_quantize_linear(const Tensor& x, std::vector<Tensor>* out, OpError* e) {
  if (!want_type(x, DataType::float32, "x", e)) return false;
  out->resize(3);
  Tensor& y = (*out)[0];
  Tensor& ys = (*out)[1];
  Tensor& yz = (*out)[2];
  float lo = 0.0f, hi = 0.0f;
  const float* xp = x.data<float>();
  for (std::size_t i = 0, n = x.count(); i < n; ++i) {
    if (std::isnan(xp[i])) return fail(e, StatusCode::invalid_argument, "x contains NaN");
    lo = std::min(lo, xp[i]);
    hi = std::max(hi, xp[i]);
  }
  const float scale = (hi - lo) / 255.0f;
  if (!std::isfinite(scale)) return fail(e, StatusCode::invalid_argument, "x's range is not finite");
  float zp = 0.0f;
  if (scale > 0.0f) zp = std::min(255.0f, std::max(0.0f, std::nearbyint(-lo / scale)));
  if (!make_tensor(&y, DataType::uint8, x.dims, e) || !make_tensor(&ys, DataType::float32, {}, e) ||
      !make_tensor(&yz, DataType::uint8, {}, e))
    return false;
  ys.data<float>()[0] = scale;
  yz.data<std::uint8_t>()[0] = static_cast<std::uint8_t>(zp);
  for (std::size_t i = 0, n = x.count(); i < n; ++i) {
    const float r = scale > 0.0f ? std::nearbyint(xp[i] / scale) + zp : 0.0f;
    y.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(std::min(255.0f, std::max(0.0f, r)));
  }
  return true;
}

bool run_node(const Model& model, const Node& node, const Inputs& in, Tensor* y, OpError* e) {
  // Optional inputs may be absent (nullptr); required ones are checked here, once.
  std::size_t required = 1;
  switch (node.op) {
    case Op::conv: case Op::add: case Op::mul: case Op::gemm: case Op::matmul: case Op::reshape:
    case Op::quantize_linear: case Op::dequantize_linear: case Op::matmul_integer: case Op::conv_integer:
      required = 2; break;
    case Op::batch_normalization: required = 5; break;
    case Op::qlinear_add: required = 7; break;
    case Op::qlinear_conv: case Op::qlinear_matmul: required = 8; break;
    case Op::concat: required = in.size(); break;
    default: break;
  }
  for (std::size_t i = 0; i < required; ++i)
    if (i >= in.size() || in[i] == nullptr) return bad_shape(e, "required input " + std::to_string(i) + " is missing");
  switch (node.op) {
    case Op::conv: return op_conv(node, in, y, e);
    case Op::relu: return unary_float(*in[0], y, e, [](float v) { return v > 0.0f ? v : 0.0f; });
    case Op::clip: {
      float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
      if (model.opset < 11) {
        lo = node.get_float("min", lo);
        hi = node.get_float("max", hi);
      } else if (!scalar_float(in.size() > 1 ? in[1] : nullptr, lo, "min", &lo, e) ||
                 !scalar_float(in.size() > 2 ? in[2] : nullptr, hi, "max", &hi, e)) {
        return false;
      }
      return unary_float(*in[0], y, e, [lo, hi](float v) { return std::min(hi, std::max(lo, v)); });
    }
    case Op::add: return binary_float(*in[0], *in[1], y, e, [](float a, float b) { return a + b; });
    case Op::mul: return binary_float(*in[0], *in[1], y, e, [](float a, float b) { return a * b; });
    case Op::max_pool: return op_pool(node, *in[0], true, y, e);
    case Op::average_pool: return op_pool(node, *in[0], false, y, e);
    case Op::global_average_pool: return op_global_average_pool(*in[0], y, e);
    case Op::gemm: return op_gemm(node, in, y, e);
    case Op::matmul: return op_matmul(in, y, e);
    case Op::flatten: return op_flatten(node, *in[0], y, e);
    case Op::reshape: return op_reshape(node, *in[0], *in[1], y, e);
    case Op::concat: return op_concat(node, in, y, e);
    case Op::batch_normalization: return op_batch_norm(node, in, y, e);
    case Op::softmax: return op_softmax(node, model.opset, *in[0], y, e);
    case Op::quantize_linear: return op_quantize_linear(node, in, y, e);
    case Op::dequantize_linear: return op_dequantize_linear(node, in, y, e);
    case Op::qlinear_conv: return op_conv_quantized(node, in, true, y, e);
    case Op::conv_integer: return op_conv_quantized(node, in, false, y, e);
    case Op::qlinear_matmul: return op_matmul_quantized(in, true, y, e);
    case Op::matmul_integer: return op_matmul_quantized(in, false, y, e);
    case Op::qlinear_add: return op_qlinear_add(in, y, e);
    case Op::cast: return op_cast(node, *in[0], y, e);
    case Op::dynamic_quantize_linear: break;  // three outputs: run_reference calls it
    case Op::count: break;
  }
  return unsupported(e, "unknown op");
}

}  // namespace

Status run_reference(const Model& model, const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs,
                     std::string* error, const Observer& observe, const RunLimits& limits) {
  auto failed = [&](StatusCode code, const char* message, const std::string& detail) {
    if (error != nullptr) *error = detail;
    return Status(code, message);
  };
  if (outputs == nullptr) return failed(StatusCode::null_pointer, "onnx::run_reference: null outputs", "null outputs");
  if (inputs.size() != model.inputs.size())
    return failed(StatusCode::invalid_argument, "onnx::run_reference: wrong number of inputs",
                  "the model has " + std::to_string(model.inputs.size()) + " inputs, " + std::to_string(inputs.size()) + " given");
  std::unordered_map<std::string, const Tensor*> values;
  for (const NamedTensor& t : model.initializers) values[t.name] = &t.tensor;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const ValueInfo& vi = model.inputs[i];
    const Tensor& t = inputs[i];
    bool ok = data_type_size(t.type) != 0 && t.bytes.size() == t.count() * data_type_size(t.type) &&
              (vi.type == DataType::undefined || vi.type == t.type) && (vi.dims.empty() || vi.dims.size() == t.dims.size());
    for (std::size_t d = 0; ok && d < t.dims.size(); ++d)
      ok = t.dims[d] >= 0 && (vi.dims.empty() || vi.dims[d] < 0 || vi.dims[d] == t.dims[d]);
    if (!ok)
      return failed(StatusCode::bad_shape, "onnx::run_reference: an input does not match the model",
                    "input '" + vi.name + "' does not match the type or shape the model declares");
    values[vi.name] = &t;
  }
  // Node outputs, owned here until the run ends. (A reference, not a memory planner.)
  std::vector<std::vector<Tensor>> produced(model.nodes.size());
  for (std::size_t k = 0; k < model.nodes.size(); ++k) {
    const Node& node = model.nodes[k];
    Inputs in;
    for (const std::string& name : node.inputs) {
      if (name.empty()) {
        in.push_back(nullptr);
        continue;
      }
      const auto it = values.find(name);
      if (it == values.end())
        return failed(StatusCode::invalid_argument, "onnx::run_reference: undefined value",
                      "node '" + node.name + "': input '" + name + "' is undefined");
      in.push_back(it->second);
    }
    produced[k].resize(1);
    OpError e;
    e.work_limit = limits.max_work_per_node;
    const bool ran = node.op == Op::dynamic_quantize_linear
                         ? (in.empty() || in[0] == nullptr ? bad_shape(&e, "required input 0 is missing")
                                                           : op_dynamic_quantize_linear(*in[0], &produced[k], &e))
                         : run_node(model, node, in, &produced[k][0], &e);
    if (!ran)
      return failed(e.code, "onnx::run_reference: a node cannot run",
                    "node '" + node.name + "' (" + op_name(node.op) + "): " + e.what);
    for (std::size_t o = 0; o < node.outputs.size(); ++o) values[node.outputs[o]] = &produced[k][o];
    if (observe) {
      std::vector<const Tensor*> outs;
      for (const Tensor& t : produced[k]) outs.push_back(&t);
      observe(node, outs);
    }
  }
  std::vector<Tensor> result;
  for (const ValueInfo& o : model.outputs) result.push_back(*values.at(o.name));
  *outputs = std::move(result);
  return Status::success();
}

}  // namespace onnx
}  // namespace qk
