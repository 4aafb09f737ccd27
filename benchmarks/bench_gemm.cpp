// GEMM benchmarks: qk int8 and fp32 against oneDNN, XNNPACK and OpenBLAS, in one run.
//
// Names: gemm/<impl>/<M>x<N>x<K>[/threads:2]; counter GOPS = 2*M*N*K per second.
// Every int8 row computes the same thing: s8 activations (zero point 3), s8 weights with
// per-output-channel scales, int32 bias, requantized to s8; qk_s4 is the same with int4 weights
// (ElementType::s4, per channel: TFLite's W4A8, values in [-8, 7], two a byte). The qk_s8 and
// qk_s4 rows also count weight_bytes/s: the packed weights' bytes (panels and column constants)
// per call, per second. Weights are packed / reordered once,
// outside the timed loop (oneDNN: format_tag::any, as the peers' numbers in docs/gemm.md).
// Single thread unless the name says otherwise.
#include <benchmark/benchmark.h>

#include "bench_common.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "qk/gemm.hpp"
#include "qk/gemm_blockwise.hpp"

#if defined(QK_BENCH_HAVE_ONEDNN)
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#endif
#if defined(QK_BENCH_HAVE_XNNPACK)
#include <xnnpack.h>
#endif
#if defined(QK_BENCH_HAVE_OPENBLAS)
#include <cblas.h>
#endif

namespace {

struct Shape {
  std::size_t m, n, k;
};
const Shape kShapes[] = {{1024, 1024, 1024}, {3136, 64, 576}, {196, 256, 2304}, {128, 3072, 768}, {1, 4096, 4096}};

std::string shape_name(const Shape& s) {
  return std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
}

using qk_bench::random_floats;
using qk_bench::random_vector;

void set_gops(benchmark::State& state, const Shape& s) {
  qk_bench::set_gops(state, static_cast<double>(s.m * s.n * s.k));
}

// int4 weights, two a byte, the first in the low nibble (TFLite's packing).
qk_bench::Buffer<std::uint8_t> pack_nibbles(const qk_bench::Buffer<std::int8_t>& v) {
  qk_bench::Buffer<std::uint8_t> out((v.size() + 1) / 2, 0);
  for (std::size_t i = 0; i < v.size(); ++i)
    out[i / 2] = static_cast<std::uint8_t>(out[i / 2] | ((static_cast<unsigned>(v[i]) & 0x0Fu) << (i % 2 == 0 ? 0 : 4)));
  return out;
}

void bench_qk_int(benchmark::State& state, Shape s, std::size_t threads, bool int4,
                  qk::kernels::SignedActivationForm form = qk::kernels::SignedActivationForm::automatic) {
  const auto a = random_vector<std::int8_t>(s.m * s.k, -128, 127, 1);
  const auto b = int4 ? random_vector<std::int8_t>(s.n * s.k, -8, 7, 2) : random_vector<std::int8_t>(s.n * s.k, -127, 127, 2);
  const auto b4 = int4 ? pack_nibbles(b) : qk_bench::Buffer<std::uint8_t>();
  const auto bias = random_vector<std::int32_t>(s.n, -1000, 1000, 3);
  qk_bench::Buffer<std::int32_t> mult(s.n, 1518500250), shift(s.n, -9);
  qk::GemmS8WeightsDesc d = int4 ? qk::GemmS8WeightsDesc::n_by_k_s4(s.n, s.k, b4.data(), bias.data())
                                 : qk::GemmS8WeightsDesc::n_by_k(s.n, s.k, b.data(), bias.data());
  d.a_zero_point = 3;
  qk::GemmS8Weights w;
  // The form of s8 A on AVX-512 VNNI applies to weights packed while it is set (they keep it).
  qk::kernels::vnni_signed_activation_form().store(form);
  const bool packed = w.pack(d).ok();
  qk::kernels::vnni_signed_activation_form().store(qk::kernels::SignedActivationForm::automatic);
  if (!packed) {
    state.SkipWithError("pack failed");
    return;
  }
  const auto out = qk::OutputStage::fixed_point_requant(qk::OutputType::s8, mult.data(), shift.data(), true, -1, -128, 127);
  qk_bench::Buffer<std::int8_t> c(s.m * s.n);
  qk::ThreadPool pool(threads);
  qk::Executor* ex = threads > 1 ? &pool : nullptr;
  for (auto _ : state) {
    qk::Status st = qk::gemm_s8(w, s.m, a.data(), s.k, out, c.data(), s.n, ex);
    benchmark::DoNotOptimize(st);
    benchmark::ClobberMemory();
  }
  set_gops(state, s);
  state.counters["weight_bytes/s"] =
      benchmark::Counter(static_cast<double>(w.packed_bytes()), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(qk::isa_name(w.isa()));
}
void bench_qk_s8(benchmark::State& state, Shape s, std::size_t threads) { bench_qk_int(state, s, threads, false); }
void bench_qk_s4(benchmark::State& state, Shape s, std::size_t threads) { bench_qk_int(state, s, threads, true); }
// Both forms of s8 A on AVX-512 VNNI, whatever the CPU would choose (gemm_s8_contract.hpp's
// SignedActivationForm): how the choice per core is checked on a new core. Elsewhere both
// rows run the one family of the ISA.
void bench_qk_s8_form(benchmark::State& state, Shape s, qk::kernels::SignedActivationForm form) {
  bench_qk_int(state, s, 1, false, form);
}

// Blockwise 4-bit weights (qk/gemm_blockwise.hpp): signed nibbles, fp32 block scales, fp32 A and
// C. dynamic: A quantized per block to int8 inside the timed call (as ORT accuracy_level 4);
// otherwise weight-only fp32. weight_bytes/s counts the packed nibbles and scales read per call.
void bench_qk_q4(benchmark::State& state, Shape s, std::size_t block, bool dynamic) {
  const auto a = random_floats(s.m * s.k, 1), bias = random_floats(s.n, 3);
  const auto nibbles = random_vector<std::uint8_t>(s.n * ((s.k + 1) / 2), 0, 255, 2);
  const std::size_t nb = (s.k + block - 1) / block;
  qk_bench::Buffer<float> scales = random_floats(s.n * nb, 4);
  // fp16-exact scales, as MatMulNBits' and Q4_0's come from fp16 models: packed as fp16.
  for (auto& v : scales) v = std::ldexp(1.0f + std::round(v * 512.0f) / 1024.0f, -7);
  qk::GemmQ4Weights w;
  if (!w.pack(qk::GemmQ4WeightsDesc::signed_blocks(s.n, s.k, block, nibbles.data(), scales.data(), bias.data())).ok()) {
    state.SkipWithError("pack failed");
    return;
  }
  std::size_t ws_bytes = 0;
  (void)qk::gemm_q4_dynamic_workspace_size(w, s.m, &ws_bytes);
  qk_bench::Buffer<std::uint8_t> ws(ws_bytes);
  qk_bench::Buffer<float> c(s.m * s.n);
  for (auto _ : state) {
    qk::Status st = dynamic ? qk::gemm_q4_dynamic(w, s.m, a.data(), s.k, c.data(), s.n, ws.data(), ws.size())
                            : qk::gemm_q4_f32(w, s.m, a.data(), s.k, c.data(), s.n);
    benchmark::DoNotOptimize(st);
    benchmark::ClobberMemory();
  }
  set_gops(state, s);
  state.counters["weight_bytes/s"] = benchmark::Counter(static_cast<double>(w.packed_bytes()), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(qk::isa_name(w.isa()));
}

void bench_qk_f32(benchmark::State& state, Shape s) {
  const auto a = random_floats(s.m * s.k, 1), b = random_floats(s.n * s.k, 2), bias = random_floats(s.n, 3);
  qk::GemmF32Weights w;
  if (!w.pack(qk::GemmF32WeightsDesc::n_by_k(s.n, s.k, b.data(), bias.data())).ok()) {
    state.SkipWithError("pack failed");
    return;
  }
  qk_bench::Buffer<float> c(s.m * s.n);
  for (auto _ : state) {
    qk::Status st = qk::gemm_f32(w, s.m, a.data(), s.k, c.data(), s.n);
    benchmark::DoNotOptimize(st);
    benchmark::ClobberMemory();
  }
  set_gops(state, s);
  state.SetLabel(qk::isa_name(w.isa()));
}

#if defined(QK_BENCH_HAVE_ONEDNN)
void bench_onednn(benchmark::State& state, Shape s, bool int8, int threads) {
  using namespace dnnl;
  omp_set_num_threads(threads);
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const memory::dims src_dims = {static_cast<memory::dim>(s.m), static_cast<memory::dim>(s.k)};
  const memory::dims wei_dims = {static_cast<memory::dim>(s.k), static_cast<memory::dim>(s.n)};
  const memory::dims dst_dims = {static_cast<memory::dim>(s.m), static_cast<memory::dim>(s.n)};
  const memory::dims bias_dims = {1, static_cast<memory::dim>(s.n)};
  const auto dt = int8 ? memory::data_type::s8 : memory::data_type::f32;
  const auto bias_dt = int8 ? memory::data_type::s32 : memory::data_type::f32;
  memory::desc src_md(src_dims, dt, memory::format_tag::ab);
  memory::desc wei_any(wei_dims, dt, memory::format_tag::any);
  memory::desc wei_plain(wei_dims, dt, memory::format_tag::ab);
  memory::desc bias_md(bias_dims, bias_dt, memory::format_tag::ab);
  memory::desc dst_md(dst_dims, dt, memory::format_tag::ab);
  primitive_attr attr;
  if (int8) {
    attr.set_output_scales(2, std::vector<float>(s.n, 0.0013f));
    attr.set_zero_points(DNNL_ARG_SRC, 0, {3});
  }
  matmul::primitive_desc pd(matmul::desc(src_md, wei_any, bias_md, dst_md), attr, eng);
  memory src_mem(src_md, eng), plain_w(wei_plain, eng), wei_mem(pd.weights_desc(), eng), bias_mem(bias_md, eng),
      dst_mem(dst_md, eng);
  if (int8) {
    const auto a = random_vector<std::int8_t>(s.m * s.k, -128, 127, 1);
    const auto b = random_vector<std::int8_t>(s.k * s.n, -127, 127, 2);
    const auto bias = random_vector<std::int32_t>(s.n, -1000, 1000, 3);
    std::memcpy(src_mem.get_data_handle(), a.data(), a.size());
    std::memcpy(plain_w.get_data_handle(), b.data(), b.size());
    std::memcpy(bias_mem.get_data_handle(), bias.data(), bias.size() * 4);
  } else {
    const auto a = random_floats(s.m * s.k, 1), b = random_floats(s.k * s.n, 2), bias = random_floats(s.n, 3);
    std::memcpy(src_mem.get_data_handle(), a.data(), a.size() * 4);
    std::memcpy(plain_w.get_data_handle(), b.data(), b.size() * 4);
    std::memcpy(bias_mem.get_data_handle(), bias.data(), bias.size() * 4);
  }
  reorder(plain_w, wei_mem).execute(strm, plain_w, wei_mem);
  strm.wait();
  matmul prim(pd);
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, wei_mem}, {DNNL_ARG_BIAS, bias_mem}, {DNNL_ARG_DST, dst_mem}};
  memory zp_mem;
  if (int8) {
    zp_mem = memory({{1}, memory::data_type::s32, memory::format_tag::x}, eng);
    *static_cast<std::int32_t*>(zp_mem.get_data_handle()) = 3;
  }
  for (auto _ : state) {
    prim.execute(strm, args);
    strm.wait();
  }
  set_gops(state, s);
  omp_set_num_threads(1);
}
#endif

#if defined(QK_BENCH_HAVE_XNNPACK)
void bench_xnnpack_s8(benchmark::State& state, Shape s) {
  if (xnn_initialize(nullptr) != xnn_status_success) {
    state.SkipWithError("xnn_initialize failed");
    return;
  }
  const auto a = random_vector<std::int8_t>(s.m * s.k, -128, 127, 1);
  const auto b = random_vector<std::int8_t>(s.n * s.k, -127, 127, 2);
  const auto bias = random_vector<std::int32_t>(s.n, -1000, 1000, 3);
  qk_bench::Buffer<std::int8_t> c(s.m * s.n);
  xnn_operator_t op = nullptr;
  if (xnn_create_fully_connected_nc_qs8(s.k, s.n, s.k, s.n, 3, 0.02f, 0.01f, b.data(), bias.data(), -1, 0.15f, -128, 127, 0,
                                        &op) != xnn_status_success ||
      xnn_setup_fully_connected_nc_qs8(op, s.m, a.data(), c.data(), nullptr) != xnn_status_success) {
    state.SkipWithError("xnnpack setup failed");
    return;
  }
  for (auto _ : state) {
    xnn_run_operator(op, nullptr);
    benchmark::ClobberMemory();
  }
  xnn_delete_operator(op);
  set_gops(state, s);
}
#endif

#if defined(QK_BENCH_HAVE_OPENBLAS)
void bench_openblas_f32(benchmark::State& state, Shape s) {
  openblas_set_num_threads(1);
  const auto a = random_floats(s.m * s.k, 1), b = random_floats(s.k * s.n, 2);
  qk_bench::Buffer<float> c(s.m * s.n);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(s.m), static_cast<int>(s.n),
                static_cast<int>(s.k), 1.0f, a.data(), static_cast<int>(s.k), b.data(), static_cast<int>(s.n), 0.0f,
                c.data(), static_cast<int>(s.n));
    benchmark::ClobberMemory();
  }
  set_gops(state, s);
}
#endif

void register_all() {
  for (const Shape& s : kShapes) {
    const std::string name = shape_name(s);
    benchmark::RegisterBenchmark(("gemm/qk_s8/" + name).c_str(), bench_qk_s8, s, std::size_t{1})->Unit(benchmark::kMicrosecond)->UseRealTime();
    benchmark::RegisterBenchmark(("gemm/qk_s4/" + name).c_str(), bench_qk_s4, s, std::size_t{1})->Unit(benchmark::kMicrosecond)->UseRealTime();
    benchmark::RegisterBenchmark(("gemm/qk_s8_as_signed_operand/" + name).c_str(), bench_qk_s8_form, s,
                                 qk::kernels::SignedActivationForm::weight_offset)->Unit(benchmark::kMicrosecond)->UseRealTime();
    benchmark::RegisterBenchmark(("gemm/qk_s8_xor/" + name).c_str(), bench_qk_s8_form, s,
                                 qk::kernels::SignedActivationForm::activation_xor)->Unit(benchmark::kMicrosecond)->UseRealTime();
    benchmark::RegisterBenchmark(("gemm/qk_f32/" + name).c_str(), bench_qk_f32, s)->Unit(benchmark::kMicrosecond)->UseRealTime();
    benchmark::RegisterBenchmark(("gemm/qk_s4b32/" + name).c_str(), bench_qk_q4, s, std::size_t{32}, true)->Unit(benchmark::kMicrosecond)->UseRealTime();
    benchmark::RegisterBenchmark(("gemm/qk_s4b128/" + name).c_str(), bench_qk_q4, s, std::size_t{128}, true)->Unit(benchmark::kMicrosecond)->UseRealTime();
    benchmark::RegisterBenchmark(("gemm/qk_w4f32b32/" + name).c_str(), bench_qk_q4, s, std::size_t{32}, false)->Unit(benchmark::kMicrosecond)->UseRealTime();
#if defined(QK_BENCH_HAVE_ONEDNN)
    benchmark::RegisterBenchmark(("gemm/onednn_s8/" + name).c_str(), bench_onednn, s, true, 1)->Unit(benchmark::kMicrosecond)->UseRealTime();
    benchmark::RegisterBenchmark(("gemm/onednn_f32/" + name).c_str(), bench_onednn, s, false, 1)->Unit(benchmark::kMicrosecond)->UseRealTime();
#endif
#if defined(QK_BENCH_HAVE_XNNPACK)
    benchmark::RegisterBenchmark(("gemm/xnnpack_s8/" + name).c_str(), bench_xnnpack_s8, s)->Unit(benchmark::kMicrosecond)->UseRealTime();
#endif
#if defined(QK_BENCH_HAVE_OPENBLAS)
    benchmark::RegisterBenchmark(("gemm/openblas_f32/" + name).c_str(), bench_openblas_f32, s)->Unit(benchmark::kMicrosecond)->UseRealTime();
#endif
  }
  for (const Shape& s : kShapes) {
    const std::string name = shape_name(s);
    benchmark::RegisterBenchmark(("gemm/qk_s8/" + name + "/threads:2").c_str(), bench_qk_s8, s, std::size_t{2})->Unit(benchmark::kMicrosecond)->UseRealTime();
#if defined(QK_BENCH_HAVE_ONEDNN)
    benchmark::RegisterBenchmark(("gemm/onednn_s8/" + name + "/threads:2").c_str(), bench_onednn, s, true, 2)->Unit(benchmark::kMicrosecond)->UseRealTime();
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
