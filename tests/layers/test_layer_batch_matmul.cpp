// BatchMatMul layer (qk/layers/batch_matmul.hpp) against a naive loop written here from TFLite's
// definition (README "Batch matmul"): random shapes with every M/N/K tail, adj_x/adj_y,
// batch and height broadcasting either way, int8 and uint8, random zero points, multipliers,
// shifts and clamps, operands at the type's extremes, on every ISA; the float-scale build;
// argument errors (nothing written); a thread pool gives the same outputs.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "common/isa_sweep.hpp"
#include "qk/core/threading.hpp"
#include "qk/fixed_point.hpp"
#include "qk/layers/batch_matmul.hpp"

namespace {

using qk::ElementType;
using qk::StatusCode;
using qk::layers::BatchMatMul;
using qk::layers::BatchMatMulParams;
using qk::layers::QuantInfo;
using qk::layers::Shape4;

// out[b][h][i][j] = clamp(MBQM(sum_k (L[i][k] + lhs_offset)(R[k][j] + rhs_offset)) + output_offset),
// L and R the operand slices after the optional transposes, size-1 batch/height broadcast.
template <class T>
std::vector<T> reference(const std::vector<T>& lhs, const Shape4& ls, const std::vector<T>& rhs, const Shape4& rs, bool adj_x,
                         bool adj_y, const BatchMatMulParams& p) {
  const std::size_t B = std::max(ls.n, rs.n), H = std::max(ls.h, rs.h);
  const std::size_t M = adj_x ? ls.c : ls.w, K = adj_x ? ls.w : ls.c, N = adj_y ? rs.w : rs.c;
  std::vector<T> out(B * H * M * N);
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t h = 0; h < H; ++h) {
      const T* L = lhs.data() + ((ls.n == 1 ? 0 : b) * ls.h + (ls.h == 1 ? 0 : h)) * ls.w * ls.c;
      const T* R = rhs.data() + ((rs.n == 1 ? 0 : b) * rs.h + (rs.h == 1 ? 0 : h)) * rs.w * rs.c;
      for (std::size_t i = 0; i < M; ++i)
        for (std::size_t j = 0; j < N; ++j) {
          std::int64_t acc = 0;
          for (std::size_t k = 0; k < K; ++k) {
            const std::int64_t l = adj_x ? L[k * M + i] : L[i * K + k];
            const std::int64_t r = adj_y ? R[j * K + k] : R[k * N + j];
            acc += (l + p.lhs_offset) * (r + p.rhs_offset);
          }
          REQUIRE(acc == static_cast<std::int32_t>(acc));  // the test's shapes stay inside int32
          std::int64_t v =
              qk::multiply_by_quantized_multiplier_double_rounding(static_cast<std::int32_t>(acc), p.output_multiplier,
                                                                   p.output_shift) +
              static_cast<std::int64_t>(p.output_offset);
          v = std::min<std::int64_t>(std::max<std::int64_t>(v, p.act_min), p.act_max);
          out[((b * H + h) * M + i) * N + j] = static_cast<T>(v);
        }
    }
  return out;
}

template <class T>
std::vector<T> random_operand(std::mt19937& rng, std::size_t count, bool extremes) {
  const int lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
  std::uniform_int_distribution<int> u(lo, hi);
  std::vector<T> v(count);
  for (T& x : v) x = static_cast<T>(extremes ? (rng() % 2 ? lo : hi) : u(rng));
  return v;
}

struct Problem {
  Shape4 lhs, rhs;
  bool adj_x = false, adj_y = false;
};

Problem random_problem(std::mt19937& rng) {
  const std::size_t dims[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 33, 48, 63, 65, 100};
  auto pick = [&] { return dims[rng() % (sizeof dims / sizeof dims[0])]; };
  Problem pr;
  const std::size_t m = pick(), n = pick(), k = pick();
  pr.adj_x = rng() % 2 == 0;
  pr.adj_y = rng() % 2 == 0;
  const std::size_t batch = 1 + rng() % 3, height = 1 + rng() % 3;
  // Each operand takes the full batch/height or broadcasts (size 1).
  pr.lhs.n = rng() % 3 == 0 ? 1 : batch;
  pr.rhs.n = rng() % 3 == 0 ? 1 : batch;
  pr.lhs.h = rng() % 3 == 0 ? 1 : height;
  pr.rhs.h = rng() % 3 == 0 ? 1 : height;
  pr.lhs.w = pr.adj_x ? k : m;
  pr.lhs.c = pr.adj_x ? m : k;
  pr.rhs.w = pr.adj_y ? n : k;
  pr.rhs.c = pr.adj_y ? k : n;
  return pr;
}

template <class T>
void check_random(std::mt19937& rng, ElementType type, int trials, std::size_t* outputs) {
  const std::int32_t tmin = std::numeric_limits<T>::min(), tmax = std::numeric_limits<T>::max();
  for (int t = 0; t < trials; ++t) {
    const Problem pr = random_problem(rng);
    const bool extremes = rng() % 5 == 0;
    BatchMatMulParams p;
    std::uniform_int_distribution<std::int32_t> zp(tmin, tmax);
    const int zmode = static_cast<int>(rng() % 4);  // 0: extreme zero points
    p.lhs_offset = -(zmode == 0 ? (rng() % 2 ? tmin : tmax) : zp(rng));
    p.rhs_offset = -(zmode == 0 ? (rng() % 2 ? tmax : tmin) : zp(rng));
    p.output_offset = zp(rng);
    // A multiplier near 1 / (K * 128 * 128), sometimes the extreme shifts.
    const std::size_t k = pr.adj_x ? pr.lhs.w : pr.lhs.c;
    const double real = std::ldexp(0.5 + static_cast<double>(rng() % 1000) / 1000.0, -static_cast<int>(rng() % 6)) /
                        static_cast<double>(k * 64);
    REQUIRE(qk::quantize_multiplier(real, &p.output_multiplier, &p.output_shift).ok());
    const int smode = static_cast<int>(rng() % 10);
    if (smode == 0) p.output_shift = qk::kMinRequantShift;
    if (smode == 1) p.output_shift = qk::kMaxRequantShift;
    if (smode == 2) p.output_multiplier = static_cast<std::int32_t>(rng() % (1u << 30));  // unnormalized
    p.act_min = tmin;
    p.act_max = tmax;
    if (rng() % 3 == 0) {
      p.act_min = std::uniform_int_distribution<std::int32_t>(tmin, tmin + 100)(rng);
      p.act_max = std::uniform_int_distribution<std::int32_t>(p.act_min, tmax)(rng);
    }
    const std::vector<T> lhs = random_operand<T>(rng, pr.lhs.count_unchecked(), extremes);
    const std::vector<T> rhs = random_operand<T>(rng, pr.rhs.count_unchecked(), extremes);
    BatchMatMul layer;
    INFO("lhs " << pr.lhs.n << "x" << pr.lhs.h << "x" << pr.lhs.w << "x" << pr.lhs.c << " rhs " << pr.rhs.n << "x"
                << pr.rhs.h << "x" << pr.rhs.w << "x" << pr.rhs.c << " adj_x " << pr.adj_x << " adj_y " << pr.adj_y
                << " offsets " << p.lhs_offset << " " << p.rhs_offset << " " << p.output_offset << " mult "
                << p.output_multiplier << " shift " << p.output_shift);
    REQUIRE(layer.init(pr.lhs, pr.rhs, pr.adj_x, pr.adj_y, type, p).ok());
    std::size_t ws = 0;
    REQUIRE(layer.workspace_size(1, &ws).ok());
    std::vector<std::uint8_t> workspace(ws + 1);
    std::vector<T> got(layer.output_shape().count_unchecked(), 0);
    // An unaligned workspace too: the layer aligns inside it.
    REQUIRE(layer.run(lhs.data(), rhs.data(), got.data(), workspace.data() + (t % 2), ws).ok());
    REQUIRE(got == reference(lhs, pr.lhs, rhs, pr.rhs, pr.adj_x, pr.adj_y, p));
    *outputs += got.size();
  }
}

}  // namespace

TEST_CASE("batch matmul: random shapes, adj_x/adj_y, broadcasting, int8 and uint8, equal the naive loop on every ISA",
          "[layers][batch_matmul]") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(21);
    std::size_t s8 = 0, u8 = 0;
    check_random<std::int8_t>(rng, ElementType::s8, 150, &s8);
    check_random<std::uint8_t>(rng, ElementType::u8, 150, &u8);
    WARN("batch matmul (" << qk::isa_name(isa) << "): 150 s8 layers (" << s8 << " outputs) and 150 u8 layers (" << u8
                          << " outputs) equal the reference");
  }
}

TEST_CASE("batch matmul: built from float scales as TFLite's Prepare", "[layers][batch_matmul]") {
  const Shape4 ls{2, 1, 5, 7}, rs{1, 1, 7, 3};
  const QuantInfo l{0.0123f, -3}, r{0.0456f, 9}, o{0.089f, 4};
  BatchMatMul layer;
  REQUIRE(layer.init(ls, rs, false, false, ElementType::s8, l, r, o).ok());
  // TFLite: double(float(lhs_scale * rhs_scale)) / double(output_scale), then QuantizeMultiplier.
  std::int32_t m = 0, s = 0;
  REQUIRE(qk::quantize_multiplier(static_cast<double>(l.scale * r.scale) / static_cast<double>(o.scale), &m, &s).ok());
  CHECK(layer.params().output_multiplier == m);
  CHECK(layer.params().output_shift == s);
  CHECK(layer.params().lhs_offset == 3);
  CHECK(layer.params().rhs_offset == -9);
  CHECK(layer.params().output_offset == 4);
  CHECK(layer.params().act_min == -128);
  CHECK(layer.params().act_max == 127);
  CHECK(layer.output_shape() == Shape4{2, 1, 5, 3});
  CHECK(layer.input_count() == 2);
  BatchMatMul u;
  REQUIRE(u.init(ls, rs, false, false, ElementType::u8, QuantInfo{0.5f, 0}, QuantInfo{0.5f, 255}, QuantInfo{1.0f, 128}).ok());
  CHECK(u.params().act_min == 0);
  CHECK(u.params().act_max == 255);
  CHECK(u.params().rhs_offset == -255);
}

TEST_CASE("batch matmul: argument errors are reported and write nothing", "[layers][batch_matmul]") {
  const Shape4 ls{2, 3, 4, 5}, rs{1, 3, 5, 6};
  BatchMatMulParams good;
  good.lhs_offset = 128;
  good.rhs_offset = 0;
  good.output_offset = -5;
  good.output_multiplier = 1 << 30;
  good.output_shift = -8;
  struct Bad {
    const char* what;
    StatusCode code;
    Shape4 lhs, rhs;
    bool adj_x, adj_y;
    ElementType type;
    BatchMatMulParams p;
  };
  auto with = [&](auto f) {
    BatchMatMulParams p = good;
    f(p);
    return p;
  };
  const Bad bad[] = {
      {"unknown type", StatusCode::invalid_argument, ls, rs, false, false, static_cast<ElementType>(3), good},
      {"zero dimension", StatusCode::bad_shape, Shape4{2, 3, 0, 5}, rs, false, false, ElementType::s8, good},
      {"batches differ", StatusCode::bad_shape, ls, Shape4{3, 3, 5, 6}, false, false, ElementType::s8, good},
      {"heights differ", StatusCode::bad_shape, ls, Shape4{2, 2, 5, 6}, false, false, ElementType::s8, good},
      {"K differs", StatusCode::bad_shape, ls, Shape4{1, 3, 6, 6}, false, false, ElementType::s8, good},
      {"K differs with adj_y", StatusCode::bad_shape, ls, rs, false, true, ElementType::s8, good},
      {"K differs with adj_x", StatusCode::bad_shape, ls, rs, true, false, ElementType::s8, good},
      {"overflowing shape", StatusCode::size_overflow, Shape4{std::size_t{1} << 40, std::size_t{1} << 30, 4, 5}, rs, false,
       false, ElementType::s8, good},
      {"K above kMaxGemmK", StatusCode::size_overflow, Shape4{1, 1, 1, qk::kMaxGemmK + 1},
       Shape4{1, 1, qk::kMaxGemmK + 1, 1}, false, false, ElementType::s8, good},
      {"lhs zero point", StatusCode::invalid_argument, ls, rs, false, false, ElementType::s8,
       with([](BatchMatMulParams& p) { p.lhs_offset = -128; })},
      {"rhs zero point", StatusCode::invalid_argument, ls, rs, false, false, ElementType::s8,
       with([](BatchMatMulParams& p) { p.rhs_offset = 129; })},
      {"u8 lhs zero point", StatusCode::invalid_argument, ls, rs, false, false, ElementType::u8,
       with([](BatchMatMulParams& p) { p.lhs_offset = 1; p.act_min = 0; p.act_max = 255; p.output_offset = 0; })},
      {"output offset", StatusCode::invalid_argument, ls, rs, false, false, ElementType::s8,
       with([](BatchMatMulParams& p) { p.output_offset = 128; })},
      {"act_min above act_max", StatusCode::invalid_argument, ls, rs, false, false, ElementType::s8,
       with([](BatchMatMulParams& p) { p.act_min = 10; p.act_max = 9; })},
      {"act_max outside", StatusCode::invalid_argument, ls, rs, false, false, ElementType::s8,
       with([](BatchMatMulParams& p) { p.act_max = 128; })},
      {"u8 act_min outside", StatusCode::invalid_argument, ls, rs, false, false, ElementType::u8,
       with([](BatchMatMulParams& p) { p.lhs_offset = 0; p.output_offset = 0; p.act_min = -1; p.act_max = 255; })},
      {"negative multiplier", StatusCode::invalid_argument, ls, rs, false, false, ElementType::s8,
       with([](BatchMatMulParams& p) { p.output_multiplier = -1; })},
      {"shift 31", StatusCode::invalid_argument, ls, rs, false, false, ElementType::s8,
       with([](BatchMatMulParams& p) { p.output_shift = 31; })},
      {"shift -32", StatusCode::invalid_argument, ls, rs, false, false, ElementType::s8,
       with([](BatchMatMulParams& p) { p.output_shift = -32; })},
  };
  for (const Bad& b : bad) {
    INFO(b.what);
    BatchMatMul layer;
    CHECK(layer.init(b.lhs, b.rhs, b.adj_x, b.adj_y, b.type, b.p).code() == b.code);
    CHECK(!layer.built());
  }
  struct BadQuant {
    const char* what;
    QuantInfo l, r, o;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const BadQuant bad_quant[] = {
      {"lhs scale 0", {0.0f, 0}, {1.0f, 0}, {1.0f, 0}},
      {"rhs scale NaN", {1.0f, 0}, {nan, 0}, {1.0f, 0}},
      {"output scale inf", {1.0f, 0}, {1.0f, 0}, {inf, 0}},
      {"negative scale", {-1.0f, 0}, {1.0f, 0}, {1.0f, 0}},
      {"product underflows", {1e-30f, 0}, {1e-30f, 0}, {1.0f, 0}},
      {"multiplier >= 2^30", {1.0f, 0}, {1.0f, 0}, {1e-10f, 0}},
      {"zero point outside", {1.0f, 200}, {1.0f, 0}, {1.0f, 0}},
      {"output zero point outside", {1.0f, 0}, {1.0f, 0}, {1.0f, -129}},
  };
  for (const BadQuant& b : bad_quant) {
    INFO(b.what);
    BatchMatMul layer;
    CHECK(layer.init(ls, rs, false, false, ElementType::s8, b.l, b.r, b.o).code() == StatusCode::invalid_argument);
    CHECK(!layer.built());
  }

  BatchMatMul layer;
  std::vector<std::int8_t> lhs(ls.count_unchecked(), 3), rhs(rs.count_unchecked(), -2);
  std::vector<std::int8_t> out(2 * 3 * 4 * 6, 0x5a);
  std::vector<std::uint8_t> ws(1 << 16);
  std::size_t bytes = 0;
  CHECK(layer.workspace_size(1, &bytes).code() == StatusCode::invalid_argument);  // not built
  CHECK(layer.run(lhs.data(), rhs.data(), out.data(), ws.data(), ws.size()).code() == StatusCode::invalid_argument);
  REQUIRE(layer.init(ls, rs, false, false, ElementType::s8, good).ok());
  CHECK(layer.workspace_size(1, nullptr).code() == StatusCode::null_pointer);
  REQUIRE(layer.workspace_size(4, &bytes).ok());
  REQUIRE(bytes <= ws.size());
  CHECK(layer.run(nullptr, rhs.data(), out.data(), ws.data(), bytes).code() == StatusCode::null_pointer);
  CHECK(layer.run(lhs.data(), nullptr, out.data(), ws.data(), bytes).code() == StatusCode::null_pointer);
  CHECK(layer.run(lhs.data(), rhs.data(), nullptr, ws.data(), bytes).code() == StatusCode::null_pointer);
  CHECK(layer.run(lhs.data(), rhs.data(), out.data(), nullptr, bytes).code() == StatusCode::null_pointer);
  CHECK(layer.run(lhs.data(), rhs.data(), out.data(), ws.data(), bytes - 1).code() == StatusCode::buffer_too_small);
  CHECK(layer.run(static_cast<const void* const*>(nullptr), out.data(), ws.data(), bytes).code() == StatusCode::null_pointer);
  for (std::int8_t v : out) CHECK(v == 0x5a);
  // A failed re-init leaves the layer as it was.
  CHECK(!layer.init(ls, Shape4{1, 3, 6, 6}, false, false, ElementType::s8, good).ok());
  REQUIRE(layer.built());
  const void* inputs[2] = {lhs.data(), rhs.data()};
  REQUIRE(layer.run(inputs, out.data(), ws.data(), bytes).ok());
  CHECK(out == reference(lhs, ls, rhs, rs, false, false, good));
}

TEST_CASE("batch matmul: a thread pool gives the serial outputs", "[layers][batch_matmul]") {
#if !defined(QK_NO_THREADS)
  std::mt19937 rng(22);
  const Shape4 ls{3, 2, 70, 40}, rs{1, 2, 40, 50};
  BatchMatMulParams p;
  p.lhs_offset = 7;
  p.rhs_offset = -3;
  p.output_offset = 2;
  REQUIRE(qk::quantize_multiplier(1.0 / 9000.0, &p.output_multiplier, &p.output_shift).ok());
  for (bool adj_x : {false, true}) {
    const Shape4 l = adj_x ? Shape4{3, 2, 40, 70} : ls;
    BatchMatMul layer;
    REQUIRE(layer.init(l, rs, adj_x, false, ElementType::s8, p).ok());
    const std::vector<std::int8_t> lhs = random_operand<std::int8_t>(rng, l.count_unchecked(), false);
    const std::vector<std::int8_t> rhs = random_operand<std::int8_t>(rng, rs.count_unchecked(), false);
    std::size_t bytes = 0;
    REQUIRE(layer.workspace_size(3, &bytes).ok());
    std::vector<std::uint8_t> ws(bytes);
    std::vector<std::int8_t> serial(layer.output_shape().count_unchecked()), pooled(serial.size());
    REQUIRE(layer.run(lhs.data(), rhs.data(), serial.data(), ws.data(), bytes).ok());
    qk::ThreadPool pool(3);
    REQUIRE(layer.run(lhs.data(), rhs.data(), pooled.data(), ws.data(), bytes, &pool).ok());
    CHECK(pooled == serial);
    CHECK(serial == reference(lhs, l, rhs, rs, adj_x, false, p));
  }
#endif
}
