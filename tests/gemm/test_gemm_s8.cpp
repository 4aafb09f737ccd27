// Every int8 GEMM kernel family this machine can run, forced in turn, against the reference:
// random shapes with every M/N/K tail, strides, all zero-point combinations, every output stage,
// and operands at the extremes (the vpmaddubsw saturation trap).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "common/isa_sweep.hpp"
#include "qk/gemm.hpp"
#include "qk/reference/gemm.hpp"

namespace {

enum class Fill { random, extreme_hi, extreme_lo, mixed_extremes };

struct Case {
  std::size_t m, n, k, lda_pad, ldc_pad;
  qk::ElementType a_type, b_type;
  std::int32_t za;
  bool zb_nonzero, zb_per_column, has_bias;
  Fill fill;
  int stage;  // 0 raw, 1 fixed double, 2 fixed single, 3 float requant, 4 dequantize (5, 6: 1, 2 unforced)
  qk::OutputType out_type;
  bool per_channel;
};

std::uint8_t draw(std::mt19937& rng, qk::ElementType t, Fill fill) {
  const bool s = t == qk::ElementType::s8;
  const int lo = s ? -128 : 0, hi = s ? 127 : 255;
  int v;
  switch (fill) {
    case Fill::extreme_hi: v = hi; break;
    case Fill::extreme_lo: v = lo; break;
    case Fill::mixed_extremes: v = (rng() & 1) ? hi : lo; break;
    default: v = std::uniform_int_distribution<int>(lo, hi)(rng);
  }
  return static_cast<std::uint8_t>(v);
}

void run_case(const Case& c, std::mt19937& rng) {
  const std::size_t lda = c.k + c.lda_pad, ldc = c.n + c.ldc_pad;
  std::vector<std::uint8_t> a(c.m * lda + 1), b(c.k * c.n);
  for (auto& v : a) v = draw(rng, c.a_type, c.fill);
  for (auto& v : b) v = draw(rng, c.b_type, c.fill == Fill::random ? Fill::random : Fill::mixed_extremes);
  std::vector<std::int32_t> bias(c.n), zb(c.n), mult(c.n), shift(c.n);
  std::vector<float> scale(c.n);
  const int zlo = c.b_type == qk::ElementType::s8 ? -128 : 0, zhi = c.b_type == qk::ElementType::s8 ? 127 : 255;
  for (std::size_t j = 0; j < c.n; ++j) {
    bias[j] = std::uniform_int_distribution<std::int32_t>(-200000, 200000)(rng);
    zb[j] = c.zb_nonzero ? std::uniform_int_distribution<int>(zlo, zhi)(rng) : 0;
    const double real = std::uniform_real_distribution<double>(1e-5, 0.02)(rng);
    REQUIRE(qk::quantize_multiplier(real, &mult[j], reinterpret_cast<int*>(&shift[j])).ok());
    scale[j] = static_cast<float>(real);
  }
  if (c.stage == 1 || c.stage == 2) {  // also exercise left shifts and the shift limits
    shift[0] = 2;
    if (c.n > 1) shift[1] = -31;
  }
  qk::OutputStage out;
  const bool pc = c.per_channel;
  const std::int32_t ozp = c.out_type == qk::OutputType::s8 ? -3 : 120;
  const std::int32_t qmin = c.out_type == qk::OutputType::s8 ? -120 : 5, qmax = c.out_type == qk::OutputType::s8 ? 127 : 250;
  switch (c.stage) {
    case 0: out = qk::OutputStage::int32(); break;
    case 1:
    case 5:  // as 1 without the forced shifts: the multipliers TFLite's converter gives (single-shift epilogues)
      out = qk::OutputStage::fixed_point_requant(c.out_type, mult.data(), shift.data(), pc, ozp, qmin, qmax);
      break;
    case 2:
    case 6:  // as 2 without the forced shifts (single rounding through the single-shift epilogues)
      out = qk::OutputStage::fixed_point_requant(c.out_type, mult.data(), shift.data(), pc, ozp, qmin, qmax,
                                                 qk::RequantRounding::single_rounding);
      break;
    case 3: out = qk::OutputStage::float_requant(c.out_type, scale.data(), pc, ozp, qmin, qmax); break;
    default: out = qk::OutputStage::dequantize(scale.data(), pc); break;
  }
  const std::size_t es = qk::output_type_size(out.type);

  qk::GemmS8WeightsDesc d;
  d.k = c.k, d.n = c.n, d.data = b.data(), d.stride_k = c.n, d.stride_n = 1, d.b_type = c.b_type;
  d.bias = c.has_bias ? bias.data() : nullptr;
  d.zero_point = zb.data(), d.zero_point_per_column = c.zb_per_column;
  d.a_type = c.a_type, d.a_zero_point = c.za;
  qk::GemmS8Weights w;
  REQUIRE(w.pack(d).ok());
  REQUIRE(w.isa() == qk::active_isa());

  std::vector<std::uint8_t> got(c.m * ldc * es, 0xCD), want(c.m * ldc * es, 0xCD);
  REQUIRE(qk::gemm_s8(w, c.m, a.data(), lda, out, got.data(), ldc).ok());
  qk::reference::gemm_int8(c.m, c.n, c.k, a.data(), lda, c.a_type == qk::ElementType::s8, c.za, b.data(), c.n, 1,
                           c.b_type == qk::ElementType::s8, zb.data(), c.zb_per_column, d.bias, out, want.data(), ldc);
  INFO("m=" << c.m << " n=" << c.n << " k=" << c.k << " stage=" << c.stage << " a_s8=" << (c.a_type == qk::ElementType::s8)
            << " b_s8=" << (c.b_type == qk::ElementType::s8) << " za=" << c.za << " zb=" << c.zb_nonzero
            << " pc=" << c.per_channel << " fill=" << static_cast<int>(c.fill));
  // Whole buffers, padding included: the kernel must not touch C beyond N in each row.
  REQUIRE(std::memcmp(got.data(), want.data(), got.size()) == 0);
}

Case random_case(std::mt19937& rng, std::size_t max_dim) {
  auto dim = [&] { return std::uniform_int_distribution<std::size_t>(1, max_dim)(rng); };
  Case c{};
  c.m = dim(), c.n = dim(), c.k = dim();
  c.lda_pad = rng() % 3 == 0 ? rng() % 7 : 0;
  c.ldc_pad = rng() % 3 == 0 ? rng() % 5 : 0;
  c.a_type = rng() & 1 ? qk::ElementType::s8 : qk::ElementType::u8;
  c.b_type = rng() % 4 == 0 ? qk::ElementType::u8 : qk::ElementType::s8;
  const int alo = c.a_type == qk::ElementType::s8 ? -128 : 0, ahi = c.a_type == qk::ElementType::s8 ? 127 : 255;
  const int zsel = static_cast<int>(rng() % 4);
  c.za = zsel == 0 ? 0 : zsel == 1 ? alo : zsel == 2 ? ahi : std::uniform_int_distribution<int>(alo, ahi)(rng);
  c.zb_nonzero = rng() % 3 == 0;
  c.zb_per_column = rng() & 1;
  c.has_bias = rng() % 4 != 0;
  c.fill = static_cast<Fill>(rng() % 4 == 0 ? 1 + rng() % 3 : 0);
  c.stage = static_cast<int>(rng() % 5);
  c.out_type = rng() & 1 ? qk::OutputType::s8 : qk::OutputType::u8;
  c.per_channel = rng() & 1;
  return c;
}

}  // namespace

TEST_CASE("gemm_s8: every kernel matches the reference on small exhaustive tails") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(1234);
    // Every (M, N, K) tail combination around the tile and K-group sizes.
    for (std::size_t m : {1u, 2u, 3u, 5u, 7u, 8u, 9u, 13u, 17u})
      for (std::size_t n : {1u, 7u, 8u, 9u, 15u, 16u, 17u, 33u, 48u, 49u, 64u, 65u})
        for (std::size_t k : {1u, 2u, 3u, 4u, 5u, 7u, 8u, 9u, 31u}) {
          Case c = random_case(rng, 8);
          c.m = m, c.n = n, c.k = k;
          run_case(c, rng);
        }
  }
}

// Tiles of up to 32 columns finish two rows at a time (AVX-512: from the tile's registers with
// the narrow epilogue), as one 64-byte store when the rows are contiguous (ldc == N == 32):
// N of one and two panels, around 32, with and without row padding (ldc below and above 32),
// every row tail (M up to 40), so that a wrong contiguity test or a misplaced second row
// writes into the padding or the next row.
TEST_CASE("gemm_s8: narrow tiles, two rows at a time, contiguous rows or not") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(3232);
    for (std::size_t n : {1u, 9u, 16u, 17u, 31u, 32u})
      for (std::size_t ldc_pad : {0u, 1u, 32u})
        for (int rep = 0; rep < 4; ++rep) {
          Case c = random_case(rng, 40);
          c.n = n, c.ldc_pad = ldc_pad + (n == 31 && rep == 0 ? 1 : 0);
          // fixed point, both roundings (the single-shift epilogue), and float
          c.stage = rep % 2 == 1 ? 3 : rep == 0 ? 5 : 6;
          run_case(c, rng);
        }
  }
}

TEST_CASE("gemm_s8: every kernel matches the reference on random shapes up to 300") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(99);
    for (int i = 0; i < 60; ++i) run_case(random_case(rng, 300), rng);
  }
}

TEST_CASE("gemm_s8: extreme operands at large K (saturation trap)") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(7);
    for (Fill f : {Fill::extreme_hi, Fill::extreme_lo, Fill::mixed_extremes})
      for (auto at : {qk::ElementType::s8, qk::ElementType::u8})
        for (auto bt : {qk::ElementType::s8, qk::ElementType::u8}) {
          Case c = random_case(rng, 4);
          c.m = 9, c.n = 33, c.k = 1031, c.fill = f, c.a_type = at, c.b_type = bt, c.stage = 0, c.za = 0;
          c.zb_nonzero = false, c.has_bias = false;
          run_case(c, rng);
          c.za = at == qk::ElementType::s8 ? -128 : 255, c.zb_nonzero = true, c.stage = 1;
          run_case(c, rng);
        }
  }
}

TEST_CASE("gemm_s8: thread count does not change results") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(5);
    for (int i = 0; i < 6; ++i) {
      Case c = random_case(rng, 200);
      c.stage = 1;
      std::vector<std::uint8_t> a(c.m * c.k), b(c.k * c.n);
      for (auto& v : a) v = draw(rng, c.a_type, Fill::random);
      for (auto& v : b) v = draw(rng, qk::ElementType::s8, Fill::random);
      std::vector<std::int32_t> mult(c.n, 1 << 30), shift(c.n, -8);
      qk::GemmS8WeightsDesc d = qk::GemmS8WeightsDesc::k_by_n(c.k, c.n, reinterpret_cast<const std::int8_t*>(b.data()));
      d.a_type = c.a_type;
      qk::GemmS8Weights w;
      REQUIRE(w.pack(d).ok());
      const auto out = qk::OutputStage::fixed_point_requant(qk::OutputType::s8, mult.data(), shift.data(), true, 0, -128, 127);
      std::vector<std::int8_t> serial(c.m * c.n), pooled(c.m * c.n, 1);
      REQUIRE(qk::gemm_s8(w, c.m, a.data(), c.k, out, serial.data(), c.n).ok());
      for (std::size_t t : {2u, 3u, 5u}) {
        std::fill(pooled.begin(), pooled.end(), std::int8_t{1});  // not the previous thread count's result
        qk::ThreadPool pool(t);
        REQUIRE(qk::gemm_s8(w, c.m, a.data(), c.k, out, pooled.data(), c.n, &pool).ok());
        REQUIRE(serial == pooled);
      }
    }
  }
}

TEST_CASE("gemm_s8: many row blocks") {
  // M spans several row blocks (blocks hold at most 512 rows, fewer for large K), so block
  // boundaries, row sums computed by a block's first panel group and reused by the others, and
  // the last short block are all exercised serially (N = 137: several panel groups).
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(11);
    for (std::size_t k : {19u, 700u}) {
      Case c = random_case(rng, 4);
      c.m = 1100, c.n = 137, c.k = k, c.stage = 1, c.a_type = qk::ElementType::s8, c.zb_nonzero = true;
      run_case(c, rng);
      c.a_type = qk::ElementType::u8, c.zb_nonzero = false, c.stage = 0;
      run_case(c, rng);
    }
  }
}

TEST_CASE("gemm_s8: INT32_MIN accumulators with the largest multiplier in every epilogue") {
  // SaturatingRoundingDoublingHighMul's one overflow, INT32_MIN * INT32_MIN, cannot reach an
  // operator: negative multipliers are refused (issue 18; TFLite's are in [2^30, 2^31) or 0).
  // The extreme product left is INT32_MIN * INT32_MAX. Zero activations make the accumulator
  // exactly the bias, so INT32_MIN biases reach it.
  QK_FOR_EACH_ISA(isa) {
    for (std::size_t n : {5u, 20u, 70u}) {
      const std::size_t m = 7, k = 9;
      std::vector<std::int8_t> a(m * k, 0), b(k * n);
      std::mt19937 rng(static_cast<unsigned>(n));
      for (auto& v : b) v = static_cast<std::int8_t>(rng());
      // Shift 0 (plain SRDHM + saturation) on some columns, right shifts on others (the AVX-512
      // epilogue's merged single rounding for column vectors whose right shifts are all >= 1).
      std::vector<std::int32_t> bias(n), mult(n), shift(n, 0);
      for (std::size_t j = 16; j < n; ++j) shift[j] = -static_cast<std::int32_t>(1 + j % 31);
      for (std::size_t j = 0; j < n; ++j) {
        bias[j] = j % 3 == 0 ? std::numeric_limits<std::int32_t>::min() : static_cast<std::int32_t>(rng() % 1000);
        mult[j] = j % 2 == 0 ? std::numeric_limits<std::int32_t>::max() : 1 << 30;
      }
      for (auto a_type : {qk::ElementType::s8, qk::ElementType::u8}) {
        qk::GemmS8WeightsDesc d = qk::GemmS8WeightsDesc::k_by_n(k, n, b.data(), bias.data());
        d.a_type = a_type;
        qk::GemmS8Weights w;
        REQUIRE(w.pack(d).ok());
        for (auto rounding : {qk::RequantRounding::double_rounding, qk::RequantRounding::single_rounding}) {
          const auto out = qk::OutputStage::fixed_point_requant(qk::OutputType::s8, mult.data(), shift.data(), true, 0,
                                                                -128, 127, rounding);
          std::vector<std::int8_t> got(m * n), want(m * n);
          REQUIRE(qk::gemm_s8(w, m, a.data(), k, out, got.data(), n).ok());
          qk::reference::gemm_int8(m, n, k, a.data(), k, a_type == qk::ElementType::s8, 0, b.data(), n, 1, true, nullptr,
                                   false, bias.data(), out, want.data(), n);
          INFO("single=" << (rounding == qk::RequantRounding::single_rounding));
          REQUIRE(got == want);
          CHECK(got[0] == -128);  // column 0: INT32_MIN * INT32_MAX / 2^31 = INT32_MIN + 1, clamped
          if (n > 18) CHECK(got[18] == -128);  // INT32_MIN * INT32_MAX / 2^31 / 2^19 ~ -2^12, clamped
        }
      }
    }
  }
}

TEST_CASE("gemm_s8: fixed-point requantization at rounding ties, every right shift 1-22 and zero point") {
  // Dense accumulators around the rounding boundaries of both steps of TFLite's double rounding:
  // K = 1 with B = 1 makes acc = a + bias, and 256 rows of a = -128..127 step through consecutive
  // accumulator values, so with multipliers like 2^30 (SRDHM halves) every tie of SRDHM and of
  // RDPOT, of both signs, is hit for the small shifts. Every panel group has right shifts only in
  // [1, 22]: the AVX-512 single-shift epilogue takes these groups (tiles of 8 x 48 and 6 x 64, a
  // 16-column tail); a group with a zero shift and one with shifts up to 31 (where folding the
  // zero point into the single shift could overflow 64 bits) fall back to the two-step epilogue.
  const std::int32_t kMin = std::numeric_limits<std::int32_t>::min(), kMax = std::numeric_limits<std::int32_t>::max();
  const std::int32_t mults[] = {1 << 30, (1 << 30) + 1, kMax, 1518500250, 1, 0, (1 << 30) - 1, 2, 1 << 29, 1431655765};
  const std::int32_t biases[] = {0, 1, -1, -2, 3, 1 << 20, -(1 << 20), kMax - 300, kMin + 300, 12345, -54321};
  // Pass 1 keeps every multiplier in [2^30, 2^31) (normalized, as TFLite's) and every
  // |accumulator| below the AVX-512 epilogue's narrow bound (2^29, less K * 255 * 128), up to a
  // few hundred from it, so that form takes those groups. The other passes keep them on the
  // 64-bit form: extreme accumulators with small multipliers (pass 0; negative ones, which it
  // used to take too, are refused since issue 18); accumulators near INT32_MAX and INT32_MIN with
  // multipliers >= 0 (pass 2: there the narrow form would overflow, so a wrong bound check fails
  // this test); small accumulators with multipliers in [0, 2^30), where the narrow form's
  // odd-lane product would be wrong (pass 3: a wrong multiplier check fails this test).
  const std::int32_t narrow_edge = (1 << 29) - 1 - 255 * 128 - 400;
  const std::int32_t normalized_mults[] = {1 << 30, (1 << 30) + 1, kMax, 1518500250, kMax - 1, 1431655765,
                                           (1 << 30) + (1 << 29), 1234567890, 2000000001, (1 << 30) + 3};
  const std::int32_t small_mults[] = {1 << 30, (1 << 30) + 1, kMax, 1518500250, 1, 0, (1 << 30) - 1, kMax - 1, 1 << 29, 1431655765};
  const std::int32_t narrow_biases[] = {0, 1, -1, -2, 3, 1 << 20, -(1 << 20), narrow_edge, -narrow_edge, 12345, -54321};
  QK_FOR_EACH_ISA(isa) {
    for (int pass = 0; pass < 4; ++pass)
    for (std::size_t n : {150u, 48u, 16u, 41u, 20u}) {
      const std::size_t m = 259, k = 1;
      std::vector<std::int8_t> a(m), b(n, 1);
      for (std::size_t i = 0; i < m; ++i) a[i] = static_cast<std::int8_t>(static_cast<int>(i % 256) - 128);
      std::vector<std::int32_t> bias(n), mult(n), shift(n);
      for (std::size_t j = 0; j < n; ++j) {
        mult[j] = (pass == 0 ? mults : pass == 1 ? normalized_mults : small_mults)[j % 10];
        bias[j] = (pass == 1 || pass == 3 ? narrow_biases : biases)[(j / 10) % 11];
        shift[j] = -static_cast<std::int32_t>(j % 3 == 0 ? 1 + (j / 3) % 22 : 1 + j % 4);
      }
      if (n == 41) shift[40] = 0;  // this group takes the two-step epilogue
      if (n == 20)                 // and so does this one: right shifts 12 to 31
        for (std::size_t j = 0; j < n; ++j) shift[j] = -static_cast<std::int32_t>(12 + j);
      for (auto out_type : {qk::OutputType::s8, qk::OutputType::u8})
        for (int zsel = 0; zsel < 3; ++zsel)
          for (bool narrow : {false, true}) {
            const bool s8 = out_type == qk::OutputType::s8;
            const std::int32_t zp = s8 ? (zsel == 0 ? -128 : zsel == 1 ? 0 : 127) : (zsel == 0 ? 0 : zsel == 1 ? 128 : 255);
            const std::int32_t qmin = s8 ? (narrow ? -100 : -128) : (narrow ? 10 : 0);
            const std::int32_t qmax = s8 ? (narrow ? 90 : 127) : (narrow ? 200 : 255);
            for (bool per_channel : {true, false})
            for (auto rounding : {qk::RequantRounding::double_rounding, qk::RequantRounding::single_rounding}) {
              qk::GemmS8WeightsDesc d = qk::GemmS8WeightsDesc::k_by_n(k, n, b.data(), bias.data());
              d.a_type = qk::ElementType::s8;
              qk::GemmS8Weights w;
              REQUIRE(w.pack(d).ok());
              const auto out =
                  qk::OutputStage::fixed_point_requant(out_type, mult.data(), shift.data(), per_channel, zp, qmin, qmax, rounding);
              std::vector<std::uint8_t> got(m * n, 0xCD), want(m * n, 0xCD);
              REQUIRE(qk::gemm_s8(w, m, a.data(), k, out, got.data(), n).ok());
              qk::reference::gemm_int8(m, n, k, reinterpret_cast<const std::uint8_t*>(a.data()), k, true, 0,
                                       reinterpret_cast<const std::uint8_t*>(b.data()), n, 1, true, nullptr, false,
                                       bias.data(), out, want.data(), n);
              INFO("pass=" << pass << " n=" << n << " s8=" << s8 << " zp=" << zp << " narrow=" << narrow << " per_channel=" << per_channel
                           << " single=" << (rounding == qk::RequantRounding::single_rounding));
              REQUIRE(got == want);
            }
          }
    }
  }
}

// ONNX float requantization (OutputStage::float_scale) at its edges, every kernel: K = 1 and
// B = 1 (or a u8 B less its zero point: the row term, uniform or per column) make acc = a + bias for 259 rows of
// a = -128..127, so consecutive accumulators meet scales whose products land on .5 ties (0.5,
// 1.5, 2.5: round half to even), overflow the int32 range (1e3 at the INT32 extremes, 1e30 and
// FLT_MAX: +-inf), or vanish (FLT_MIN). The AVX-512 float form clamps only above in float and
// lets cvtps2dq's INT32_MIN stand for everything below; its zero point is added in int16 after the
// first pack: every zero point from the type's minimum to its maximum, with the clamp range full
// (the packs are the clamp) and narrowed. N = 32 and 20 take the register epilogue of the 12 x 32
// tiles, 48, 150 and 64 the 3- and 4-panel tiles, M = 259 every row tail.
TEST_CASE("gemm_s8: float requantization at ties, overflowing and vanishing scales, every zero point") {
  const std::int32_t kMin = std::numeric_limits<std::int32_t>::min(), kMax = std::numeric_limits<std::int32_t>::max();
  const float scales[] = {0.5f, 1.5f, 2.5f, 1e-5f, 0.0078125f, 1e3f, 1e30f, std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::min(), 0.3f, 1.0f, 0.013f};
  const std::int32_t biases[] = {0, 1, -1, -2, 3, 1 << 20, -(1 << 20), kMax - 300, kMin + 300, 12345, -54321, 255};
  QK_FOR_EACH_ISA(isa) {
    for (std::size_t n : {32u, 20u, 48u, 150u, 64u, 9u})
      for (int term = 0; term < 3; ++term) {  // no row term; uniform; per column
        const std::size_t m = 259, k = 1;
        // u8 131 - zero point 130 = 1: packed as s8, the zero point is 2 (128 would be 0, no row term).
        std::vector<std::uint8_t> a(m), b(n, term == 0 ? 1 : 131);
        for (std::size_t i = 0; i < m; ++i) a[i] = static_cast<std::uint8_t>(i % 256);  // as s8: -128..127 shifted
        std::vector<std::int32_t> bias(n), zb(n, 130);
        std::vector<float> scale(n);
        for (std::size_t j = 0; j < n; ++j) {
          scale[j] = scales[j % 12];
          bias[j] = biases[(j / 12 + j) % 12];
          if (term == 2) zb[j] = 130 - static_cast<std::int32_t>(j % 2);  // 131 - 129 = 2 on odd columns
        }
        for (auto a_type : {qk::ElementType::s8, qk::ElementType::u8}) {
          qk::GemmS8WeightsDesc d = qk::GemmS8WeightsDesc::k_by_n(k, n, reinterpret_cast<const std::int8_t*>(b.data()), bias.data());
          d.a_type = a_type;
          if (term != 0) d.b_type = qk::ElementType::u8, d.zero_point = zb.data(), d.zero_point_per_column = term == 2;
          qk::GemmS8Weights w;
          REQUIRE(w.pack(d).ok());
          for (auto out_type : {qk::OutputType::s8, qk::OutputType::u8})
            for (int zsel = 0; zsel < 4; ++zsel)
              for (bool narrow : {false, true})
                for (bool per_channel : {true, false}) {
                  const bool s8 = out_type == qk::OutputType::s8;
                  const std::int32_t zp = s8 ? (zsel == 0 ? -128 : zsel == 1 ? 0 : zsel == 2 ? 127 : -3)
                                             : (zsel == 0 ? 0 : zsel == 1 ? 128 : zsel == 2 ? 255 : 120);
                  const std::int32_t qmin = s8 ? (narrow ? -100 : -128) : (narrow ? 10 : 0);
                  const std::int32_t qmax = s8 ? (narrow ? 90 : 127) : (narrow ? 200 : 255);
                  // Per tensor: a different scale per pass, so that every one is met.
                  std::vector<float> sc = scale;
                  if (!per_channel) sc[0] = scales[(static_cast<std::size_t>(zsel) * 3 + n) % 12];
                  const auto out = qk::OutputStage::float_requant(out_type, sc.data(), per_channel, zp, qmin, qmax);
                  std::vector<std::uint8_t> got(m * n, 0xCD), want(m * n, 0xCD);
                  REQUIRE(qk::gemm_s8(w, m, a.data(), k, out, got.data(), n).ok());
                  qk::reference::gemm_int8(m, n, k, a.data(), k, a_type == qk::ElementType::s8, 0, b.data(), n, 1,
                                           d.b_type == qk::ElementType::s8, d.zero_point, d.zero_point_per_column,
                                           bias.data(), out, want.data(), n);
                  INFO("n=" << n << " term=" << term << " a_s8=" << (a_type == qk::ElementType::s8) << " s8=" << s8
                            << " zp=" << zp << " narrow=" << narrow << " per_channel=" << per_channel);
                  REQUIRE(got == want);
                }
        }
      }
  }
}

// Random requantization parameters over the whole validated range, both roundings, every kernel:
// accumulators at and near INT32_MIN / INT32_MAX (K = 1, B = 1: acc = a + bias), shifts anywhere
// in [-31, 30], multipliers at the extremes of [0, 2^31) or random, and column groups whose
// shifts all lie in [-22, -1] (the AVX-512 single-shift epilogues, the AVX2 vector single
// rounding) next to groups that mix in shifts >= 0 (the general and lane-by-lane paths).
TEST_CASE("gemm_s8: random fixed-point parameters with extreme accumulators, both roundings") {
  const std::int32_t kMin = std::numeric_limits<std::int32_t>::min(), kMax = std::numeric_limits<std::int32_t>::max();
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(271828);
    for (int rep = 0; rep < 24; ++rep) {
      const std::size_t m = 1 + rng() % 40, n = 1 + rng() % 90, k = 1;
      std::vector<std::int8_t> a(m), b(n, 1);
      for (auto& v : a) v = static_cast<std::int8_t>(rng() % 3 == 0 ? (rng() & 1 ? 127 : -128) : static_cast<int>(rng() % 256) - 128);
      std::vector<std::int32_t> bias(n), mult(n), shift(n);
      const bool right_only = rep % 3 != 2;
      for (std::size_t j = 0; j < n; ++j) {
        const auto sel = static_cast<std::uint32_t>(rng() % 8);
        bias[j] = sel == 0 ? kMin : sel == 1 ? kMax : sel == 2 ? kMin + 127 : sel == 3 ? kMax - 128
                : static_cast<std::int32_t>(rng());
        const auto ms = static_cast<std::uint32_t>(rng() % 6);
        mult[j] = ms == 0 ? 0 : ms == 1 ? kMax : ms == 2 ? 1 << 30 : ms == 3 ? 1 : static_cast<std::int32_t>(rng() >> 1);
        shift[j] = right_only ? -static_cast<std::int32_t>(1 + rng() % 22) : static_cast<std::int32_t>(rng() % 62) - 31;
      }
      const bool s8 = rep % 2 == 0, per_channel = rep % 4 != 3;
      const std::int32_t zp = s8 ? static_cast<std::int32_t>(rng() % 256) - 128 : static_cast<std::int32_t>(rng() % 256);
      qk::GemmS8WeightsDesc d = qk::GemmS8WeightsDesc::k_by_n(k, n, b.data(), bias.data());
      d.a_type = qk::ElementType::s8;
      qk::GemmS8Weights w;
      REQUIRE(w.pack(d).ok());
      for (auto rounding : {qk::RequantRounding::double_rounding, qk::RequantRounding::single_rounding}) {
        const auto out = qk::OutputStage::fixed_point_requant(s8 ? qk::OutputType::s8 : qk::OutputType::u8, mult.data(),
                                                              shift.data(), per_channel, zp, s8 ? -128 : 0, s8 ? 127 : 255,
                                                              rounding);
        std::vector<std::uint8_t> got(m * n, 0xCD), want(m * n, 0xCD);
        REQUIRE(qk::gemm_s8(w, m, a.data(), k, out, got.data(), n).ok());
        qk::reference::gemm_int8(m, n, k, reinterpret_cast<const std::uint8_t*>(a.data()), k, true, 0,
                                 reinterpret_cast<const std::uint8_t*>(b.data()), n, 1, true, nullptr, false, bias.data(),
                                 out, want.data(), n);
        INFO("rep=" << rep << " m=" << m << " n=" << n << " single=" << (rounding == qk::RequantRounding::single_rounding));
        REQUIRE(got == want);
      }
    }
  }
}
