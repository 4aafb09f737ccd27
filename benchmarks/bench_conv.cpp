// Convolution benchmarks: qk int8 (and qk fp32) against oneDNN (s8 and f32) and XNNPACK (qc8), in one run.
//
// Names: conv/<impl>/<layer> (and conv/qk_s8/<layer>/single_rounding: TFLITE_SINGLE_ROUNDING
// requantization; conv/qk_s8/<layer>/float_scale: ONNX's float requantization with oneDNN's
// output scales, the like-for-like row for conv/onednn_s8); counter GOPS = 2 * MACs per second. Batch 1, single thread, NHWC
// activations. Every int8 row computes the same layer: s8 activations (zero point 0), s8
// weights with per-output-channel scales, int32 bias, requantized to s8. Weights are packed /
// reordered once, outside the timed loop (oneDNN: format_tag::any reordered in advance).
// conv/qk_s4 is the qk row with int4 weights (ElementType::s4: TFLite's 4-bit filters, per
// channel, values in [-8, 7], two a byte).
#include <benchmark/benchmark.h>

#include "bench_common.hpp"

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "qk/conv.hpp"
#include "qk/conv_f32.hpp"

#if defined(QK_BENCH_HAVE_ONEDNN)
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#endif
#if defined(QK_BENCH_HAVE_XNNPACK)
#include <xnnpack.h>
#endif

namespace {

struct Layer {
  const char* name;
  std::size_t h, w, cin, cout, k, stride, pad, groups;
  std::size_t out_h() const { return (h + 2 * pad - k) / stride + 1; }
  std::size_t out_w() const { return (w + 2 * pad - k) / stride + 1; }
  std::size_t cin_g() const { return cin / groups; }
  double macs() const {
    return static_cast<double>(out_h() * out_w() * cout) * static_cast<double>(k * k * cin_g());
  }
};
const Layer kLayers[] = {
    {"resnet3x3_56", 56, 56, 64, 64, 3, 1, 1, 1},        {"resnet3x3_14", 14, 14, 256, 256, 3, 1, 1, 1},
    {"mbv2_1x1_56", 56, 56, 24, 144, 1, 1, 0, 1},        {"mbv2_dw_112", 112, 112, 32, 32, 3, 1, 1, 32},
    {"mbv2_dw_s2_56", 56, 56, 144, 144, 3, 2, 1, 144},  {"first_224", 224, 224, 3, 32, 3, 2, 1, 1},
};

using qk_bench::random_floats;
using qk_bench::random_vector;

void set_gops(benchmark::State& state, const Layer& l) { qk_bench::set_gops(state, l.macs()); }

// The layer's shape, for either qk descriptor (both derive from qk::ConvGeometry).
void set_geometry(const Layer& l, qk::ConvGeometry* d) {
  d->in_h = l.h, d->in_w = l.w, d->in_c = l.cin, d->out_c = l.cout, d->kernel_h = d->kernel_w = l.k;
  d->stride_h = d->stride_w = l.stride;
  d->pad_top = d->pad_bottom = d->pad_left = d->pad_right = l.pad;
  d->groups = l.groups;
}

// OHWI weights ([Cout][k][k][Cin/groups]), shared by qk and XNNPACK (GOHWI without the depthwise flag).
qk_bench::Buffer<std::int8_t> layer_weights(const Layer& l) { return random_vector<std::int8_t>(l.cout * l.k * l.k * l.cin_g(), -127, 127, 2); }

// The output stage of the qk int8 rows: TFLite's fixed-point requantization (either rounding),
// or ONNX's float one.
enum class Stage { double_rounding, single_rounding, float_scale };

void bench_qk_int(benchmark::State& state, Layer l, bool int4, Stage stage = Stage::double_rounding) {
  const auto x = random_vector<std::int8_t>(l.h * l.w * l.cin, -128, 127, 1);
  const auto w = int4 ? random_vector<std::int8_t>(l.cout * l.k * l.k * l.cin_g(), -8, 7, 2) : layer_weights(l);
  qk_bench::Buffer<std::uint8_t> w4(int4 ? (w.size() + 1) / 2 : 0, 0);  // two a byte, the first in the low nibble
  for (std::size_t i = 0; int4 && i < w.size(); ++i)
    w4[i / 2] = static_cast<std::uint8_t>(w4[i / 2] | ((static_cast<unsigned>(w[i]) & 0x0Fu) << (i % 2 == 0 ? 0 : 4)));
  const auto bias = random_vector<std::int32_t>(l.cout, -1000, 1000, 3);
  qk_bench::Buffer<std::int32_t> mult(l.cout, 1518500250), shift(l.cout, -9);
  const qk_bench::Buffer<float> scale(l.cout, 0.0013f);  // bench_onednn's output scales, zero point 0
  qk::ConvS8Desc d;
  set_geometry(l, &d);
  d.weights = w.data();
  if (int4) d.weights = w4.data(), d.weight_type = qk::ElementType::s4;
  d.bias = bias.data();
  qk::ConvS8 layer;
  std::size_t ws_bytes = 0;
  if (!layer.pack(d).ok() || !qk::conv_s8_workspace_size(layer, 1, 1, &ws_bytes).ok()) {
    state.SkipWithError("pack failed");
    return;
  }
  qk_bench::Buffer<std::uint8_t> ws(ws_bytes);
  const auto out =
      stage == Stage::float_scale
          ? qk::OutputStage::float_requant(qk::OutputType::s8, scale.data(), true, 0, -128, 127)
          : qk::OutputStage::fixed_point_requant(qk::OutputType::s8, mult.data(), shift.data(), true, -1, -128, 127,
                                                 stage == Stage::single_rounding ? qk::RequantRounding::single_rounding
                                                                                 : qk::RequantRounding::double_rounding);
  qk_bench::Buffer<std::int8_t> y(l.out_h() * l.out_w() * l.cout);
  for (auto _ : state) {
    qk::Status st = qk::conv_s8(layer, 1, x.data(), out, y.data(), ws.data(), ws_bytes);
    benchmark::DoNotOptimize(st);
    benchmark::ClobberMemory();
  }
  set_gops(state, l);
  state.SetLabel(std::string(qk::isa_name(layer.isa())) + " " + qk::conv_path_name(layer.path()));
}
void bench_qk_s8(benchmark::State& state, Layer l) { bench_qk_int(state, l, false); }
void bench_qk_s4(benchmark::State& state, Layer l) { bench_qk_int(state, l, true); }
// conv/qk_s8/<layer>/single_rounding: the same layer with TFLITE_SINGLE_ROUNDING requantization,
// for its ratio to conv/qk_s8/<layer> (double rounding) in one run.
void bench_qk_s8_single(benchmark::State& state, Layer l) { bench_qk_int(state, l, false, Stage::single_rounding); }
// conv/qk_s8/<layer>/float_scale: ONNX QLinearConv's requantization, float(acc) * scale rounded
// half to even, with bench_onednn's per-channel scales and zero point: the same output stage as
// conv/onednn_s8, where conv/qk_s8 does TFLite's exact integer one.
void bench_qk_s8_float(benchmark::State& state, Layer l) { bench_qk_int(state, l, false, Stage::float_scale); }

// qk's fp32 convolution on the same layer (float activations, weights and bias): the float
// baseline within qk. It is a plain composition (im2col + qk::gemm_f32, a direct depthwise loop
// compiled for the baseline ISA), not tuned like the int8 path.
void bench_qk_f32(benchmark::State& state, Layer l) {
  const auto x = random_floats(l.h * l.w * l.cin, 1), w = random_floats(l.cout * l.k * l.k * l.cin_g(), 2);
  const auto bias = random_floats(l.cout, 3);
  qk::ConvF32Desc d;
  set_geometry(l, &d);
  d.weights = w.data();
  d.bias = bias.data();
  qk::ConvF32 layer;
  std::size_t ws_bytes = 0;
  if (!layer.pack(d).ok() || !qk::conv_f32_workspace_size(layer, &ws_bytes).ok()) {
    state.SkipWithError("pack failed");
    return;
  }
  qk_bench::Buffer<std::uint8_t> ws(ws_bytes);
  qk_bench::Buffer<float> y(l.out_h() * l.out_w() * l.cout);
  for (auto _ : state) {
    qk::Status st = qk::conv_f32(layer, 1, x.data(), y.data(), ws.data(), ws_bytes);
    benchmark::DoNotOptimize(st);
    benchmark::ClobberMemory();
  }
  set_gops(state, l);
  state.SetLabel(std::string(qk::isa_name(layer.isa())) + " " + qk::conv_path_name(layer.path()));
}

#if defined(QK_BENCH_HAVE_ONEDNN)
void bench_onednn(benchmark::State& state, Layer l, bool int8) {
  using namespace dnnl;
  omp_set_num_threads(1);
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const auto D = [](std::size_t v) { return static_cast<memory::dim>(v); };
  const memory::dims src_dims = {1, D(l.cin), D(l.h), D(l.w)};
  const memory::dims dst_dims = {1, D(l.cout), D(l.out_h()), D(l.out_w())};
  const memory::dims wei_dims = l.groups > 1
                                    ? memory::dims{D(l.groups), D(l.cout / l.groups), D(l.cin_g()), D(l.k), D(l.k)}
                                    : memory::dims{D(l.cout), D(l.cin), D(l.k), D(l.k)};
  const auto wei_plain_tag = l.groups > 1 ? memory::format_tag::goihw : memory::format_tag::oihw;
  const auto dt = int8 ? memory::data_type::s8 : memory::data_type::f32;
  const auto bias_dt = int8 ? memory::data_type::s32 : memory::data_type::f32;
  memory::desc src_md(src_dims, dt, memory::format_tag::nhwc);
  memory::desc dst_md(dst_dims, dt, memory::format_tag::nhwc);
  memory::desc wei_any(wei_dims, dt, memory::format_tag::any);
  memory::desc wei_plain(wei_dims, dt, wei_plain_tag);
  memory::desc bias_md({D(l.cout)}, bias_dt, memory::format_tag::x);
  primitive_attr attr;
  if (int8) attr.set_output_scales(2, std::vector<float>(l.cout, 0.0013f));
  const memory::dims strides = {D(l.stride), D(l.stride)}, pad = {D(l.pad), D(l.pad)};
  convolution_forward::primitive_desc pd(
      convolution_forward::desc(prop_kind::forward_inference, algorithm::convolution_direct, src_md, wei_any, bias_md,
                                dst_md, strides, pad, pad),
      attr, eng);
  memory src_mem(src_md, eng), plain_w(wei_plain, eng), wei_mem(pd.weights_desc(), eng), bias_mem(bias_md, eng),
      dst_mem(dst_md, eng);
  const std::size_t src_n = l.h * l.w * l.cin, wei_n = l.cout * l.cin_g() * l.k * l.k;
  if (int8) {
    const auto a = random_vector<std::int8_t>(src_n, -128, 127, 1);
    const auto b = random_vector<std::int8_t>(wei_n, -127, 127, 2);
    const auto bias = random_vector<std::int32_t>(l.cout, -1000, 1000, 3);
    std::memcpy(src_mem.get_data_handle(), a.data(), a.size());
    std::memcpy(plain_w.get_data_handle(), b.data(), b.size());
    std::memcpy(bias_mem.get_data_handle(), bias.data(), bias.size() * 4);
  } else {
    const auto a = random_floats(src_n, 1), b = random_floats(wei_n, 2), bias = random_floats(l.cout, 3);
    std::memcpy(src_mem.get_data_handle(), a.data(), a.size() * 4);
    std::memcpy(plain_w.get_data_handle(), b.data(), b.size() * 4);
    std::memcpy(bias_mem.get_data_handle(), bias.data(), bias.size() * 4);
  }
  reorder(plain_w, wei_mem).execute(strm, plain_w, wei_mem);
  strm.wait();
  convolution_forward prim(pd);
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, wei_mem}, {DNNL_ARG_BIAS, bias_mem}, {DNNL_ARG_DST, dst_mem}};
  for (auto _ : state) {
    prim.execute(strm, args);
    strm.wait();
  }
  set_gops(state, l);
  state.SetLabel(pd.impl_info_str());
}
#endif

#if defined(QK_BENCH_HAVE_XNNPACK)
void bench_xnnpack_s8(benchmark::State& state, Layer l) {
  if (xnn_initialize(nullptr) != xnn_status_success) {
    state.SkipWithError("xnn_initialize failed");
    return;
  }
  const auto x = random_vector<std::int8_t>(l.h * l.w * l.cin, -128, 127, 1);
  const auto w = layer_weights(l);
  const auto bias = random_vector<std::int32_t>(l.cout, -1000, 1000, 3);
  const qk_bench::Buffer<float> kscale(l.cout, 0.01f);
  qk_bench::Buffer<std::int8_t> y(l.out_h() * l.out_w() * l.cout);
  const auto P = [](std::size_t v) { return static_cast<std::uint32_t>(v); };
  xnn_operator_t op = nullptr;
  if (xnn_create_convolution2d_nhwc_qc8(P(l.pad), P(l.pad), P(l.pad), P(l.pad), P(l.k), P(l.k), P(l.stride), P(l.stride), 1,
                                        1, P(l.groups), l.cin_g(), l.cout / l.groups, l.cin, l.cout, 0, 0.02f,
                                        kscale.data(), w.data(), bias.data(), -1, 0.15f, -128, 127, 0,
                                        &op) != xnn_status_success ||
      xnn_setup_convolution2d_nhwc_qc8(op, 1, l.h, l.w, x.data(), y.data(), nullptr) != xnn_status_success) {
    state.SkipWithError("xnnpack setup failed");
    return;
  }
  for (auto _ : state) {
    xnn_run_operator(op, nullptr);
    benchmark::ClobberMemory();
  }
  xnn_delete_operator(op);
  set_gops(state, l);
}
#endif

void register_all() {
  for (const Layer& l : kLayers) {
    const std::string name = l.name;
    benchmark::RegisterBenchmark(("conv/qk_s8/" + name).c_str(), bench_qk_s8, l)->Unit(benchmark::kMicrosecond)->UseRealTime();
    benchmark::RegisterBenchmark(("conv/qk_s8/" + name + "/single_rounding").c_str(), bench_qk_s8_single, l)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("conv/qk_s8/" + name + "/float_scale").c_str(), bench_qk_s8_float, l)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("conv/qk_s4/" + name).c_str(), bench_qk_s4, l)->Unit(benchmark::kMicrosecond)->UseRealTime();
    benchmark::RegisterBenchmark(("conv/qk_f32/" + name).c_str(), bench_qk_f32, l)->Unit(benchmark::kMicrosecond)->UseRealTime();
#if defined(QK_BENCH_HAVE_ONEDNN)
    benchmark::RegisterBenchmark(("conv/onednn_s8/" + name).c_str(), bench_onednn, l, true)->Unit(benchmark::kMicrosecond)->UseRealTime();
    benchmark::RegisterBenchmark(("conv/onednn_f32/" + name).c_str(), bench_onednn, l, false)->Unit(benchmark::kMicrosecond)->UseRealTime();
#endif
#if defined(QK_BENCH_HAVE_XNNPACK)
    benchmark::RegisterBenchmark(("conv/xnnpack_s8/" + name).c_str(), bench_xnnpack_s8, l)->Unit(benchmark::kMicrosecond)->UseRealTime();
#endif
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
