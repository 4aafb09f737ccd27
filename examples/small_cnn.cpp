// A small CNN (conv 3x3 + relu, depthwise 3x3, pointwise 1x1, global average pool, FC) from float weights, min/max-calibrated
// on random data, run in int8 (a qk::layers::Sequence) and fp32 (plain loops): top-1 agreement, largest |int8 - fp32| output.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "qk/layers/conv.hpp"
#include "qk/layers/pool.hpp"
#include "qk/layers/sequence.hpp"
#include "qk/quantize/calibration.hpp"
using V = std::vector<float>; namespace L = qk::layers;
constexpr std::size_t H = 12, W = 12, C = 8, C2 = 16, K = 10, kTest = 200;
std::mt19937 rng(1); V rnd(std::size_t n, float a) { V v(n); for (float& x : v) x = std::uniform_real_distribution<float>(-a, a)(rng); return v; }
// SAME k x k conv of H x W x ci with OHWI weights, or depthwise ([ky][kx][c] weights, TFLite's layout).
V conv(const V& x, std::size_t ci, const V& w, const V& b, std::size_t co, std::size_t k, bool dw, bool relu) {
  V y(H * W * co);
  for (std::size_t p = 0; p < H * W; ++p) for (std::size_t o = 0; o < co; ++o) { float s = b[o];
    for (std::size_t ky = 0; ky < k; ++ky) for (std::size_t kx = 0; kx < k; ++kx) {
      const long iy = long(p / W + ky) - long(k / 2), ix = long(p % W + kx) - long(k / 2);
      if (iy < 0 || ix < 0 || iy >= long(H) || ix >= long(W)) continue;
      const std::size_t q = (std::size_t(iy) * W + std::size_t(ix)) * ci;
      for (std::size_t c = 0; c < (dw ? 1 : ci); ++c) s += dw ? x[q + o] * w[(ky * k + kx) * co + o] : x[q + c] * w[((o * k + ky) * k + kx) * ci + c];
    }
    y[p * co + o] = relu ? std::max(s, 0.0f) : s; }
  return y; }
int main() {
  const V w1 = rnd(C * 9, 0.5f), w2 = rnd(9 * C, 0.5f), w3 = rnd(C2 * C, 0.4f), w4 = rnd(K * C2, 0.5f), b1 = rnd(C, 0.1f), b2 = rnd(C, 0.1f), b3 = rnd(C2, 0.1f), b4 = rnd(K, 0.1f);
  auto forward = [&](const V& x) {  // fp32: the six tensors, input .. logits
    std::vector<V> t{x, conv(x, 1, w1, b1, C, 3, false, true)};
    t.push_back(conv(t[1], C, w2, b2, C, 3, true, false)), t.push_back(conv(t[2], C, w3, b3, C2, 1, false, false)), t.push_back(V(C2, 0.0f)), t.push_back(b4);
    for (std::size_t i = 0; i < H * W * C2; ++i) t[4][i % C2] += t[3][i] / float(H * W);
    for (std::size_t o = 0; o < K; ++o) for (std::size_t c = 0; c < C2; ++c) t[5][o] += t[4][c] * w4[o * C2 + c];
    return t; };
  std::vector<qk::MinMaxObserver> obs(6); for (auto& o : obs) (void)o.init(qk::CalibConfig{});  // min/max of each tensor
  for (int i = 0; i < 32; ++i) { const auto t = forward(rnd(H * W, 1.0f)); for (std::size_t j = 0; j < 6; ++j) (void)obs[j].observe(t[j].data(), t[j].size()); }
  std::vector<L::QuantInfo> qi(6); for (std::size_t j = 0; j < 6; ++j) { qk::QuantParams p; (void)obs[j].params(&p, 1); qi[j] = {p.scale, p.zero_point}; }
  std::vector<V> s(4); auto qw = [&](const V& w, std::size_t co, bool dw, V* sc) {  // symmetric int8, a scale per channel
    std::vector<std::int8_t> q(w.size()); sc->resize(co);
    (void)L::quantize_weights_per_channel(w.data(), w.size(), co, dw ? L::ChannelAxis::last : L::ChannelAxis::first, q.data(), sc->data());
    return q; };
  const auto q1 = qw(w1, C, false, &s[0]), q2 = qw(w2, C, true, &s[1]), q3 = qw(w3, C2, false, &s[2]), q4 = qw(w4, K, false, &s[3]);
  auto fq = [&](std::size_t j, const V& sc, const V& b, bool relu) { L::FloatQuantization q; q.input = qi[j], q.output = qi[j + 1], q.weight_scales = sc.data(), q.bias = b.data(), q.activation = relu ? L::Activation::relu : L::Activation::none; return q; };
  L::Conv2DOptions o1, o3; o1.input = {1, H, W, 1}, o1.out_c = C, o1.kernel_h = o1.kernel_w = 3, o1.padding = L::Padding::same, o3.input = {1, H, W, C}, o3.out_c = C2, o3.kernel_h = o3.kernel_w = 1;
  L::DepthwiseConv2DOptions o2; o2.input = {1, H, W, C}, o2.kernel_h = o2.kernel_w = 3, o2.padding = L::Padding::same; L::FullyConnectedOptions o4; o4.depth = C2, o4.out_c = K;
  L::Conv2D l1, l3; L::DepthwiseConv2D l2; L::GlobalAveragePool l4; L::FullyConnected l5; L::Sequence seq; L::Layer* net[] = {&l1, &l2, &l3, &l4, &l5};
  qk::Status st = l1.init(o1, q1.data(), fq(0, s[0], b1, true)); std::size_t bytes = 0, agree = 0; float max_diff = 0.0f;
  st = st.ok() ? l2.init(o2, q2.data(), fq(1, s[1], b2, false)) : st; st = st.ok() ? l3.init(o3, q3.data(), fq(2, s[2], b3, false)) : st;
  st = st.ok() ? l4.init(qk::ElementType::s8, {1, H, W, C2}, qi[3], qi[4]) : st; st = st.ok() ? l5.init(o4, q4.data(), fq(4, s[3], b4, false)) : st;
  st = st.ok() ? seq.init(net, 5) : st; st = st.ok() ? seq.arena_size(1, &bytes) : st; std::vector<std::uint8_t> arena(bytes);
  for (std::size_t n = 0; n < kTest && st.ok(); ++n) {
    const V x = rnd(H * W, 1.0f), y = forward(x)[5]; V yd(K); std::vector<std::int8_t> xq(H * W), yq(K);
    (void)qk::quantize<std::int8_t>(x.data(), x.size(), qi[0].scale, qi[0].zero_point, xq.data());
    st = seq.run(xq.data(), yq.data(), arena.data(), bytes);
    for (std::size_t i = 0; i < K; ++i) yd[i] = qi[5].scale * float(yq[i] - qi[5].zero_point), max_diff = std::max(max_diff, std::fabs(yd[i] - y[i]));
    agree += std::max_element(yd.begin(), yd.end()) - yd.begin() == std::max_element(y.begin(), y.end()) - y.begin();
  }
  if (!st.ok()) return std::printf("error: %s\n", st.message()), 1;
  std::printf("int8 vs fp32, %zu random inputs: top-1 agreement %zu/%zu, max |diff| %.4f (logit range %.2f .. %.2f), arena %zu bytes\n", kTest, agree, kTest, double(max_diff), double(qi[5].scale * float(-128 - qi[5].zero_point)), double(qi[5].scale * float(127 - qi[5].zero_point)), bytes); }
