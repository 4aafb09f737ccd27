// Layer benchmarks: qk's pooling, element-wise, softmax and activation layers against XNNPACK's
// 8-bit operators, and against a plain memcpy of the same bytes (the memory-bound ceiling).
//
// Names: layer/<impl>/<op>_<shape>, impl in {qk, xnnpack, copy}. Counter bytes/s = bytes read +
// written per iteration (inputs + output), as a rate. The copy row of an op memcpy's the op's
// input bytes to an output buffer, so its bytes/s is read + written of that copy; an op's
// bytes/s over its copy row's is its fraction of what the memory system does for the same data.
//
// Shapes (batch 1, NHWC, MobileNet v2 sizes): 112x112x32, 56x56x144, 7x7x1280. Single thread
// (qk: no Executor; XNNPACK: a null pthreadpool). Inputs are random int8 with fixed seeds.
//
// Ops and their parameters (the same for qk and XNNPACK; MobileNet-like quantization):
//   avgpool3x3, maxpool3x3  3x3 window, stride 2, TFLite SAME padding (112 -> 56: pad 0 top/left,
//                           1 bottom/right; 56 -> 28 the same; 7 -> 4: 1 each side). Output
//                           quantization = input's (TFLite requires it for int8 pooling).
//   global_avgpool          mean over H x W per channel -> 1x1xC (TFLite MEAN over axes 1,2).
//   add, mul                two same-shape inputs, no broadcast.
//   softmax                 rows = N*H*W, row length = C (the innermost dim); beta 1; output
//                           scale 1/256, zero point -128 (TFLite's int8 softmax output).
//   logistic                output scale 1/256, zero point -128 (TFLite's int8 requirement).
//   tanh                    output scale 1/128, zero point 0 (TFLite's int8 requirement).
//   hardswish, leakyrelu    leaky alpha 0.2.
//
// XNNPACK (Debian's 2022-02 snapshot) has a signed int8 (qs8/s8) operator for maxpool,
// global_avgpool, add, mul, logistic and tanh. For avgpool, softmax and leakyrelu it has only
// the unsigned qu8 operator: those rows run qu8 on the same data shifted by 128 (zero points
// + 128, same scales: the same real values and the same bytes), labelled "qu8". Hardswish
// has no 8-bit XNNPACK operator (f32/f16 only): no xnnpack row.
// XNNPACK's qu8 average pooling divides by the full window (9) at padded borders, TFLite's
// (and qk's) by the number of valid taps; the work per output is the same.
#include <benchmark/benchmark.h>

#include "bench_common.hpp"

#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "qk/layers/activation.hpp"
#include "qk/layers/elementwise.hpp"
#include "qk/layers/layer.hpp"
#include "qk/layers/pool.hpp"
#include "qk/layers/softmax.hpp"

#if defined(QK_BENCH_HAVE_XNNPACK)
#include <xnnpack.h>
#endif

namespace {

using qk_bench::random_vector;

struct TensorShape {
  const char* name;
  std::size_t h, w, c;
  std::size_t count() const { return h * w * c; }
};
const TensorShape kShapes[] = {{"112x112x32", 112, 112, 32}, {"56x56x144", 56, 56, 144}, {"7x7x1280", 7, 7, 1280}};

enum class Op { avgpool3x3, maxpool3x3, global_avgpool, add, mul, softmax, logistic, tanh, hardswish, leakyrelu };
struct OpInfo {
  Op op;
  const char* name;
};
const OpInfo kOps[] = {{Op::avgpool3x3, "avgpool3x3"}, {Op::maxpool3x3, "maxpool3x3"}, {Op::global_avgpool, "global_avgpool"},
                       {Op::add, "add"},               {Op::mul, "mul"},               {Op::softmax, "softmax"},
                       {Op::logistic, "logistic"},     {Op::tanh, "tanh"},             {Op::hardswish, "hardswish"},
                       {Op::leakyrelu, "leakyrelu"}};

// Pooling geometry: 3x3, stride 2, TFLite SAME padding (the extra row/column at the end).
constexpr std::size_t kPool = 3, kPoolStride = 2;
std::size_t pool_out(std::size_t in) { return (in + kPoolStride - 1) / kPoolStride; }
std::size_t pool_pad_total(std::size_t in) {
  const std::size_t need = (pool_out(in) - 1) * kPoolStride + kPool;
  return need > in ? need - in : 0;
}
std::size_t pool_pad_before(std::size_t in) { return pool_pad_total(in) / 2; }
std::size_t pool_pad_after(std::size_t in) { return pool_pad_total(in) - pool_pad_before(in); }

// Quantization shared by every implementation (s8 zero points; qu8 operators add 128).
struct Q {
  float scale;
  std::int32_t zp;
};
constexpr float kAlpha = 0.2f;       // leaky relu
constexpr Q kIn{0.05f, -3};          // every op's (first) input
constexpr Q kIn2{0.04f, 5};          // add / mul second input
constexpr Q kAddOut{0.08f, -1};
constexpr Q kMulOut{0.1f, 2};
constexpr Q kMeanOut{0.02f, -2};     // global average pool (TFLite MEAN may requantize)
constexpr Q kSoftmaxOut{1.0f / 256.0f, -128};
constexpr Q kLogisticOut{1.0f / 256.0f, -128};
constexpr Q kTanhOut{1.0f / 128.0f, 0};
constexpr Q kHardswishOut{0.03f, -20};
constexpr Q kLeakyOut{0.04f, -10};

std::size_t input_count(Op op) { return op == Op::add || op == Op::mul ? 2 : 1; }
std::size_t output_elements(Op op, const TensorShape& s) {
  switch (op) {
    case Op::avgpool3x3:
    case Op::maxpool3x3:
      return pool_out(s.h) * pool_out(s.w) * s.c;
    case Op::global_avgpool:
      return s.c;
    default:
      return s.count();
  }
}
std::size_t input_bytes(Op op, const TensorShape& s) { return input_count(op) * s.count(); }
std::size_t traffic_bytes(Op op, const TensorShape& s) { return input_bytes(op, s) + output_elements(op, s); }

void set_bytes(benchmark::State& state, std::size_t bytes) {
  state.counters["bytes/s"] = benchmark::Counter(static_cast<double>(bytes) * static_cast<double>(state.iterations()),
                                                 benchmark::Counter::kIsRate);
}

// The operands: input 1 (seed 1) and input 2 (seed 2), uniform over int8.
qk_bench::Buffer<std::int8_t> input1(const TensorShape& s) { return random_vector<std::int8_t>(s.count(), -128, 127, 1); }
qk_bench::Buffer<std::int8_t> input2(const TensorShape& s) { return random_vector<std::int8_t>(s.count(), -128, 127, 2); }
qk_bench::Buffer<std::uint8_t> to_u8(const qk_bench::Buffer<std::int8_t>& v) {
  qk_bench::Buffer<std::uint8_t> u(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) u[i] = static_cast<std::uint8_t>(static_cast<int>(v[i]) + 128);
  return u;
}

// memcpy of the op's input bytes: read + written = 2 x input bytes.
void bench_copy(benchmark::State& state, Op op, TensorShape s) {
  const std::size_t n = input_bytes(op, s);
  const auto src = random_vector<std::int8_t>(n, -128, 127, 1);
  qk_bench::Buffer<std::int8_t> dst(n);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), n);
    benchmark::ClobberMemory();
  }
  set_bytes(state, 2 * n);
}


// qk: the layer built from float quantization (as a user would, from a model file), run through
// the Layer interface's run(). Returns nullptr (and says why in *error) when init fails.
std::unique_ptr<qk::layers::Layer> make_qk(Op op, const TensorShape& s, std::string* error) {
  namespace L = qk::layers;
  const L::Shape4 shape{1, s.h, s.w, s.c};
  const auto QI = [](const Q& q) { return L::QuantInfo{q.scale, q.zp}; };
  const auto T = qk::ElementType::s8;
  qk::Status st = qk::Status::success();
  std::unique_ptr<L::Layer> layer;
  L::Pool2DOptions pool;
  pool.filter_h = pool.filter_w = kPool;
  pool.stride_h = pool.stride_w = kPoolStride;
  pool.padding = L::PoolPadding::same;
  switch (op) {
    case Op::avgpool3x3: {
      auto l = std::unique_ptr<L::AveragePool2D>(new (std::nothrow) L::AveragePool2D);
      if (l) st = l->init(T, shape, pool, QI(kIn), QI(kIn));
      layer = std::move(l);
      break;
    }
    case Op::maxpool3x3: {
      auto l = std::unique_ptr<L::MaxPool2D>(new (std::nothrow) L::MaxPool2D);
      if (l) st = l->init(T, shape, pool, QI(kIn), QI(kIn));
      layer = std::move(l);
      break;
    }
    case Op::global_avgpool: {
      auto l = std::unique_ptr<L::GlobalAveragePool>(new (std::nothrow) L::GlobalAveragePool);
      if (l) st = l->init(T, shape, QI(kIn), QI(kMeanOut));
      layer = std::move(l);
      break;
    }
    case Op::add: {
      auto l = std::unique_ptr<L::Add>(new (std::nothrow) L::Add);
      if (l) st = l->init(T, shape, shape, QI(kIn), QI(kIn2), QI(kAddOut));
      layer = std::move(l);
      break;
    }
    case Op::mul: {
      auto l = std::unique_ptr<L::Mul>(new (std::nothrow) L::Mul);
      if (l) st = l->init(T, shape, shape, QI(kIn), QI(kIn2), QI(kMulOut));
      layer = std::move(l);
      break;
    }
    case Op::softmax: {
      auto l = std::unique_ptr<L::Softmax>(new (std::nothrow) L::Softmax);
      if (l) st = l->init(shape, T, QI(kIn), 1.0f, QI(kSoftmaxOut));
      layer = std::move(l);
      break;
    }
    case Op::logistic: {
      auto l = std::unique_ptr<L::Logistic>(new (std::nothrow) L::Logistic);
      if (l) st = l->init(T, shape, QI(kIn), QI(kLogisticOut));
      layer = std::move(l);
      break;
    }
    case Op::tanh: {
      auto l = std::unique_ptr<L::Tanh>(new (std::nothrow) L::Tanh);
      if (l) st = l->init(T, shape, QI(kIn), QI(kTanhOut));
      layer = std::move(l);
      break;
    }
    case Op::hardswish: {
      auto l = std::unique_ptr<L::HardSwish>(new (std::nothrow) L::HardSwish);
      if (l) st = l->init(T, shape, QI(kIn), QI(kHardswishOut));
      layer = std::move(l);
      break;
    }
    case Op::leakyrelu: {
      auto l = std::unique_ptr<L::LeakyReLU>(new (std::nothrow) L::LeakyReLU);
      if (l) st = l->init(T, shape, QI(kIn), QI(kLeakyOut), kAlpha);
      layer = std::move(l);
      break;
    }
  }
  if (!layer || !st.ok()) {
    *error = std::string("qk init failed: ") + (layer ? st.message() : "out of memory");
    return nullptr;
  }
  return layer;
}

void bench_qk(benchmark::State& state, Op op, TensorShape s) {
  std::string error;
  const auto layer = make_qk(op, s, &error);
  if (!layer) {
    state.SkipWithError(error.c_str());
    return;
  }
  const auto a = input1(s), b = input2(s);
  qk_bench::Buffer<std::int8_t> y(output_elements(op, s));
  std::size_t ws_bytes = 0;
  if (!layer->workspace_size(1, &ws_bytes).ok()) {
    state.SkipWithError("qk workspace_size failed");
    return;
  }
  qk_bench::Buffer<std::uint8_t> ws(ws_bytes);
  const void* inputs[2] = {a.data(), b.data()};
  const qk::Status first = layer->run(inputs, y.data(), ws.data(), ws_bytes, nullptr);
  if (!first.ok()) {
    state.SkipWithError((std::string("qk run failed: ") + first.message()).c_str());
    return;
  }
  for (auto _ : state) {
    qk::Status st = layer->run(inputs, y.data(), ws.data(), ws_bytes, nullptr);
    benchmark::DoNotOptimize(st);
    benchmark::ClobberMemory();
  }
  set_bytes(state, traffic_bytes(op, s));
  state.SetLabel("s8");
}

#if defined(QK_BENCH_HAVE_XNNPACK)
std::int8_t s8(std::int32_t v) { return static_cast<std::int8_t>(v); }
std::uint8_t u8(std::int32_t v) { return static_cast<std::uint8_t>(v + 128); }

// Creates and sets up the XNNPACK operator for op on shape s (one thread: null pthreadpool).
// Returns nullptr when XNNPACK has no 8-bit operator for it (or creation fails); *label names
// the operator variant.
xnn_operator_t make_xnnpack(Op op, const TensorShape& s, const qk_bench::Buffer<std::int8_t>& a, const qk_bench::Buffer<std::int8_t>& b,
                            const qk_bench::Buffer<std::uint8_t>& au, qk_bench::Buffer<std::int8_t>* y, qk_bench::Buffer<std::uint8_t>* yu,
                            std::string* label) {
  const auto U = [](std::size_t v) { return static_cast<std::uint32_t>(v); };
  xnn_operator_t p = nullptr;
  xnn_status st = xnn_status_unsupported_parameter;
  const std::size_t rows = s.h * s.w, c = s.c;
  const std::size_t shape[4] = {1, s.h, s.w, s.c};
  *label = "qs8";
  switch (op) {
    case Op::avgpool3x3:
      *label = "qu8";
      st = xnn_create_average_pooling2d_nhwc_qu8(U(pool_pad_before(s.h)), U(pool_pad_after(s.w)), U(pool_pad_after(s.h)),
                                                 U(pool_pad_before(s.w)), U(kPool), U(kPool), U(kPoolStride), U(kPoolStride), c,
                                                 c, c, u8(kIn.zp), kIn.scale, u8(kIn.zp), kIn.scale, 0, 255, 0, &p);
      if (st == xnn_status_success)
        st = xnn_setup_average_pooling2d_nhwc_qu8(p, 1, s.h, s.w, au.data(), yu->data(), nullptr);
      break;
    case Op::maxpool3x3:
      *label = "s8";
      st = xnn_create_max_pooling2d_nhwc_s8(U(pool_pad_before(s.h)), U(pool_pad_after(s.w)), U(pool_pad_after(s.h)),
                                            U(pool_pad_before(s.w)), U(kPool), U(kPool), U(kPoolStride), U(kPoolStride), 1, 1,
                                            c, c, c, -128, 127, 0, &p);
      if (st == xnn_status_success) st = xnn_setup_max_pooling2d_nhwc_s8(p, 1, s.h, s.w, a.data(), y->data(), nullptr);
      break;
    case Op::global_avgpool:
      st = xnn_create_global_average_pooling_nwc_qs8(c, c, c, s8(kIn.zp), kIn.scale, s8(kMeanOut.zp), kMeanOut.scale, -128,
                                                     127, 0, &p);
      if (st == xnn_status_success)
        st = xnn_setup_global_average_pooling_nwc_qs8(p, 1, rows, a.data(), y->data(), nullptr);
      break;
    case Op::add:
      st = xnn_create_add_nd_qs8(s8(kIn.zp), kIn.scale, s8(kIn2.zp), kIn2.scale, s8(kAddOut.zp), kAddOut.scale, -128, 127, 0, &p);
      if (st == xnn_status_success)
        st = xnn_setup_add_nd_qs8(p, 4, shape, 4, shape, a.data(), b.data(), y->data(), nullptr);
      break;
    case Op::mul:
      st = xnn_create_multiply_nd_qs8(s8(kIn.zp), kIn.scale, s8(kIn2.zp), kIn2.scale, s8(kMulOut.zp), kMulOut.scale, -128, 127,
                                      0, &p);
      if (st == xnn_status_success)
        st = xnn_setup_multiply_nd_qs8(p, 4, shape, 4, shape, a.data(), b.data(), y->data(), nullptr);
      break;
    case Op::softmax:
      *label = "qu8";
      st = xnn_create_softmax_nc_qu8(c, c, c, kIn.scale, u8(kSoftmaxOut.zp), kSoftmaxOut.scale, 0, &p);
      if (st == xnn_status_success) st = xnn_setup_softmax_nc_qu8(p, rows, au.data(), yu->data(), nullptr);
      break;
    case Op::logistic:
      st = xnn_create_sigmoid_nc_qs8(c, c, c, s8(kIn.zp), kIn.scale, s8(kLogisticOut.zp), kLogisticOut.scale, -128, 127, 0, &p);
      if (st == xnn_status_success) st = xnn_setup_sigmoid_nc_qs8(p, rows, a.data(), y->data(), nullptr);
      break;
    case Op::tanh:
      st = xnn_create_tanh_nc_qs8(c, c, c, s8(kIn.zp), kIn.scale, s8(kTanhOut.zp), kTanhOut.scale, -128, 127, 0, &p);
      if (st == xnn_status_success) st = xnn_setup_tanh_nc_qs8(p, rows, a.data(), y->data(), nullptr);
      break;
    case Op::leakyrelu:
      *label = "qu8";
      st = xnn_create_leaky_relu_nc_qu8(c, c, c, kAlpha, u8(kIn.zp), kIn.scale, u8(kLeakyOut.zp), kLeakyOut.scale, 0, 255, 0,
                                        &p);
      if (st == xnn_status_success) st = xnn_setup_leaky_relu_nc_qu8(p, rows, au.data(), yu->data(), nullptr);
      break;
    case Op::hardswish:  // f32 / f16 only in this XNNPACK
      break;
  }
  if (st != xnn_status_success) {
    if (p != nullptr) xnn_delete_operator(p);
    return nullptr;
  }
  return p;
}

bool xnnpack_has(Op op) { return op != Op::hardswish; }

void bench_xnnpack(benchmark::State& state, Op op, TensorShape s) {
  if (xnn_initialize(nullptr) != xnn_status_success) {
    state.SkipWithError("xnn_initialize failed");
    return;
  }
  const auto a = input1(s), b = input2(s);
  const auto au = to_u8(a);
  qk_bench::Buffer<std::int8_t> y(output_elements(op, s));
  qk_bench::Buffer<std::uint8_t> yu(output_elements(op, s));
  std::string label;
  xnn_operator_t p = make_xnnpack(op, s, a, b, au, &y, &yu, &label);
  if (p == nullptr) {
    state.SkipWithError("xnnpack create/setup failed");
    return;
  }
  for (auto _ : state) {
    xnn_run_operator(p, nullptr);
    benchmark::ClobberMemory();
  }
  xnn_delete_operator(p);
  set_bytes(state, traffic_bytes(op, s));
  state.SetLabel(label);
}
#endif

void register_all() {
  for (const OpInfo& o : kOps) {
    for (const TensorShape& s : kShapes) {
      const std::string name = std::string(o.name) + "_" + s.name;
      benchmark::RegisterBenchmark(("layer/qk/" + name).c_str(), bench_qk, o.op, s)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
#if defined(QK_BENCH_HAVE_XNNPACK)
      if (xnnpack_has(o.op))
        benchmark::RegisterBenchmark(("layer/xnnpack/" + name).c_str(), bench_xnnpack, o.op, s)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
#endif
      benchmark::RegisterBenchmark(("layer/copy/" + name).c_str(), bench_copy, o.op, s)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
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
