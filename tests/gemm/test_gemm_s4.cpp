// int4 weights (ElementType::s4, per channel, W4A8): every int4 GEMM kernel family this machine
// can run, forced in turn, against the reference (reference::gemm_int): random shapes with every
// M / N / K tail (K not a multiple of the two-group step, odd N, M = 1), strides that start rows
// in the middle of a byte, all zero-point combinations, every output stage, extreme operands
// (A at -128 / 127 / 255, weights at -8 / 7), threads, packing sizes and argument errors.
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
  int layout;  // 0: n_by_k (K contiguous), 1: k_by_n, 2: n_by_k with padded rows, 3: k_by_n padded
  qk::ElementType a_type;
  std::int32_t za;
  bool zb_nonzero, zb_per_column, has_bias;
  Fill fill;
  int stage;  // 0 raw, 1 fixed double (forced shifts), 2 fixed single, 3 float, 4 dequantize, 5 fixed double
  qk::OutputType out_type;
  bool per_channel;
};

std::uint8_t draw_a(std::mt19937& rng, qk::ElementType t, Fill fill) {
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

int draw_w(std::mt19937& rng, Fill fill) {
  switch (fill) {
    case Fill::extreme_hi: return 7;
    case Fill::extreme_lo: return -8;
    case Fill::mixed_extremes: return (rng() & 1) ? 7 : -8;
    default: return std::uniform_int_distribution<int>(-8, 7)(rng);
  }
}

void set_nibble(std::vector<std::uint8_t>& b, std::size_t i, int v) {
  const unsigned shift = i % 2 == 0 ? 0u : 4u;
  b[i / 2] = static_cast<std::uint8_t>((b[i / 2] & ~(0x0Fu << shift)) | ((static_cast<unsigned>(v) & 0x0Fu) << shift));
}

// B's strides (in nibbles) for a layout.
void strides(const Case& c, std::size_t* sk, std::size_t* sn) {
  switch (c.layout) {
    case 0: *sk = 1, *sn = c.k; break;
    case 1: *sk = c.n, *sn = 1; break;
    case 2: *sk = 1, *sn = c.k + 3; break;
    default: *sk = c.n + 1, *sn = 1; break;
  }
}

void run_case(const Case& c, std::mt19937& rng) {
  const std::size_t lda = c.k + c.lda_pad, ldc = c.n + c.ldc_pad;
  std::size_t sk = 0, sn = 0;
  strides(c, &sk, &sn);
  const std::size_t nibbles = (c.k - 1) * sk + (c.n - 1) * sn + 1;
  std::vector<std::uint8_t> a(c.m * lda + 1), b(nibbles / 2 + 1);
  for (auto& v : a) v = draw_a(rng, c.a_type, c.fill);
  for (std::size_t i = 0; i < 2 * b.size(); ++i) set_nibble(b, i, draw_w(rng, c.fill == Fill::random ? Fill::random : Fill::mixed_extremes));
  std::vector<std::int32_t> bias(c.n), zb(c.n), mult(c.n), shift(c.n);
  std::vector<float> scale(c.n);
  for (std::size_t j = 0; j < c.n; ++j) {
    bias[j] = std::uniform_int_distribution<std::int32_t>(-200000, 200000)(rng);
    zb[j] = c.zb_nonzero ? std::uniform_int_distribution<int>(-8, 7)(rng) : 0;
    const double real = std::uniform_real_distribution<double>(1e-4, 0.2)(rng);
    REQUIRE(qk::quantize_multiplier(real, &mult[j], reinterpret_cast<int*>(&shift[j])).ok());
    scale[j] = static_cast<float>(real);
  }
  if (c.stage == 1 || c.stage == 2) {  // left shifts and the shift limits
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
    case 5: out = qk::OutputStage::fixed_point_requant(c.out_type, mult.data(), shift.data(), pc, ozp, qmin, qmax); break;
    case 2:
      out = qk::OutputStage::fixed_point_requant(c.out_type, mult.data(), shift.data(), pc, ozp, qmin, qmax,
                                                 qk::RequantRounding::single_rounding);
      break;
    case 3: out = qk::OutputStage::float_requant(c.out_type, scale.data(), pc, ozp, qmin, qmax); break;
    default: out = qk::OutputStage::dequantize(scale.data(), pc); break;
  }
  const std::size_t es = qk::output_type_size(out.type);

  qk::GemmS8WeightsDesc d;
  d.k = c.k, d.n = c.n, d.data = b.data(), d.stride_k = sk, d.stride_n = sn, d.b_type = qk::ElementType::s4;
  d.bias = c.has_bias ? bias.data() : nullptr;
  d.zero_point = zb.data(), d.zero_point_per_column = c.zb_per_column;
  d.a_type = c.a_type, d.a_zero_point = c.za;
  qk::GemmS8Weights w;
  const qk::Status ps = w.pack(d);
  INFO(ps.message());
  REQUIRE(ps.ok());
  REQUIRE(w.isa() == qk::active_isa());
  REQUIRE(w.weight_type() == qk::ElementType::s4);
  REQUIRE(w.kernel().layout.b_nibbles == 1);

  std::vector<std::uint8_t> got(c.m * ldc * es, 0xCD), want(c.m * ldc * es, 0xCD);
  REQUIRE(qk::gemm_s8(w, c.m, a.data(), lda, out, got.data(), ldc).ok());
  qk::reference::gemm_int(c.m, c.n, c.k, a.data(), lda, c.a_type == qk::ElementType::s8, c.za, b.data(), sk, sn,
                          qk::ElementType::s4, zb.data(), c.zb_per_column, d.bias, out, want.data(), ldc);
  INFO("m=" << c.m << " n=" << c.n << " k=" << c.k << " layout=" << c.layout << " stage=" << c.stage
            << " a_s8=" << (c.a_type == qk::ElementType::s8) << " za=" << c.za << " zb=" << c.zb_nonzero
            << " zb_pc=" << c.zb_per_column << " pc=" << c.per_channel << " fill=" << static_cast<int>(c.fill));
  // Whole buffers, padding included: the kernel must not touch C beyond N in each row.
  REQUIRE(std::memcmp(got.data(), want.data(), got.size()) == 0);
}

Case random_case(std::mt19937& rng, std::size_t max_dim) {
  auto dim = [&] { return std::uniform_int_distribution<std::size_t>(1, max_dim)(rng); };
  Case c{};
  c.m = dim(), c.n = dim(), c.k = dim();
  c.lda_pad = rng() % 3 == 0 ? rng() % 7 : 0;
  c.ldc_pad = rng() % 3 == 0 ? rng() % 5 : 0;
  c.layout = static_cast<int>(rng() % 4);
  c.a_type = rng() & 1 ? qk::ElementType::s8 : qk::ElementType::u8;
  const int alo = c.a_type == qk::ElementType::s8 ? -128 : 0, ahi = c.a_type == qk::ElementType::s8 ? 127 : 255;
  const int zsel = static_cast<int>(rng() % 4);
  c.za = zsel == 0 ? 0 : zsel == 1 ? alo : zsel == 2 ? ahi : std::uniform_int_distribution<int>(alo, ahi)(rng);
  c.zb_nonzero = rng() % 3 == 0;
  c.zb_per_column = rng() & 1;
  c.has_bias = rng() % 4 != 0;
  c.fill = static_cast<Fill>(rng() % 4 == 0 ? 1 + rng() % 3 : 0);
  c.stage = static_cast<int>(rng() % 6);
  c.out_type = rng() & 1 ? qk::OutputType::s8 : qk::OutputType::u8;
  c.per_channel = rng() & 1;
  return c;
}

}  // namespace

TEST_CASE("gemm_s4: every kernel matches the reference on small exhaustive tails") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(4321);
    // Every (M, N, K) tail around the tiles, the K group (4) and the two-group step (8).
    for (std::size_t m : {1u, 2u, 3u, 5u, 7u, 8u, 9u, 13u})
      for (std::size_t n : {1u, 7u, 8u, 9u, 15u, 16u, 17u, 33u, 48u, 49u, 64u, 65u})
        for (std::size_t k : {1u, 2u, 3u, 4u, 5u, 7u, 8u, 9u, 12u, 15u, 16u, 17u, 31u, 33u}) {
          Case c = random_case(rng, 8);
          c.m = m, c.n = n, c.k = k;
          run_case(c, rng);
        }
  }
}

TEST_CASE("gemm_s4: both activation types, every zero-point combination and output stage") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(77);
    for (auto at : {qk::ElementType::s8, qk::ElementType::u8})
      for (int zsel = 0; zsel < 3; ++zsel)
        for (int zb = 0; zb < 3; ++zb)
          for (int stage = 0; stage < 6; ++stage) {
            Case c = random_case(rng, 70);
            c.a_type = at;
            c.za = zsel == 0 ? 0 : zsel == 1 ? (at == qk::ElementType::s8 ? -128 : 0) : (at == qk::ElementType::s8 ? 127 : 255);
            c.zb_nonzero = zb != 0, c.zb_per_column = zb == 2;
            c.stage = stage;
            run_case(c, rng);
          }
  }
}

// Narrow tiles (AVX-512: two rows at a time from the registers with the narrow epilogue, which
// u8 activations keep with int4: no row term) around 32 columns, every row tail.
TEST_CASE("gemm_s4: narrow tiles, two rows at a time, contiguous rows or not") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(3232);
    for (std::size_t n : {1u, 9u, 16u, 17u, 31u, 32u})
      for (std::size_t ldc_pad : {0u, 1u, 32u})
        for (int rep = 0; rep < 4; ++rep) {
          Case c = random_case(rng, 40);
          c.n = n, c.ldc_pad = ldc_pad;
          c.a_type = rep < 2 ? qk::ElementType::u8 : qk::ElementType::s8;
          c.za = rep < 2 ? 128 : -7;
          c.zb_nonzero = false;
          c.stage = rep % 2 == 0 ? 5 : 3;
          run_case(c, rng);
        }
  }
}

TEST_CASE("gemm_s4: every kernel matches the reference on random shapes up to 300") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(199);
    for (int i = 0; i < 60; ++i) run_case(random_case(rng, 300), rng);
  }
}

// The vpmaddubsw families' int16 pair sums at their largest (2 * 15 * 128 and 2 * 255 * 8), and
// long K with every operand at its extreme.
TEST_CASE("gemm_s4: extreme operands at large K") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(8);
    for (Fill f : {Fill::extreme_hi, Fill::extreme_lo, Fill::mixed_extremes})
      for (auto at : {qk::ElementType::s8, qk::ElementType::u8})
        for (std::size_t k : {1031u, 4099u}) {
          Case c = random_case(rng, 4);
          c.m = 9, c.n = 33, c.k = k, c.fill = f, c.a_type = at, c.stage = 0, c.za = 0;
          c.zb_nonzero = false, c.has_bias = false, c.layout = static_cast<int>(k % 4);
          run_case(c, rng);
          c.za = at == qk::ElementType::s8 ? -128 : 255, c.zb_nonzero = true, c.stage = 1;
          run_case(c, rng);
        }
  }
}

TEST_CASE("gemm_s4: many row blocks, threads") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(11);
    for (std::size_t k : {19u, 700u}) {
      Case c = random_case(rng, 4);
      c.m = 1100, c.n = 137, c.k = k, c.stage = 1, c.a_type = qk::ElementType::s8, c.za = -1, c.zb_nonzero = true;
      run_case(c, rng);
      c.a_type = qk::ElementType::u8, c.za = 200, c.zb_nonzero = false, c.stage = 0;
      run_case(c, rng);
    }
    for (int i = 0; i < 4; ++i) {
      const std::size_t m = 150 + rng() % 100, n = 1 + rng() % 130, k = 1 + rng() % 300;
      std::vector<std::uint8_t> a(m * k), b((n * k + 1) / 2);
      for (auto& v : a) v = static_cast<std::uint8_t>(rng());
      for (auto& v : b) v = static_cast<std::uint8_t>(rng());
      std::vector<std::int32_t> mult(n, 1 << 30), shift(n, -6);
      qk::GemmS8WeightsDesc d = qk::GemmS8WeightsDesc::n_by_k_s4(n, k, b.data());
      d.a_type = i % 2 == 0 ? qk::ElementType::s8 : qk::ElementType::u8;
      qk::GemmS8Weights w;
      REQUIRE(w.pack(d).ok());
      const auto out = qk::OutputStage::fixed_point_requant(qk::OutputType::s8, mult.data(), shift.data(), true, 0, -128, 127);
      std::vector<std::int8_t> serial(m * n), pooled(m * n, 1);
      REQUIRE(qk::gemm_s8(w, m, a.data(), k, out, serial.data(), n).ok());
      for (std::size_t t : {2u, 3u}) {
        std::fill(pooled.begin(), pooled.end(), std::int8_t{1});
        qk::ThreadPool pool(t);
        REQUIRE(qk::gemm_s8(w, m, a.data(), k, out, pooled.data(), n, &pool).ok());
        REQUIRE(serial == pooled);
      }
    }
  }
}

// The int4 path computes what the int8 path computes on the unpacked weights, and its packing
// is smaller (about half the panel bytes of an int8 family, a quarter of a widening one's).
TEST_CASE("gemm_s4: same results as the int8 path on unpacked weights, smaller packing") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(21);
    for (int i = 0; i < 20; ++i) {
      const std::size_t m = 1 + rng() % 40, n = 1 + rng() % 100, k = 1 + rng() % 200;
      std::vector<std::uint8_t> a(m * k), b4((n * k + 1) / 2);
      for (auto& v : a) v = static_cast<std::uint8_t>(rng());
      for (auto& v : b4) v = static_cast<std::uint8_t>(rng());
      std::vector<std::int8_t> b8(n * k);
      for (std::size_t e = 0; e < n * k; ++e) b8[e] = static_cast<std::int8_t>(qk::reference::weight_element(b4.data(), e, qk::ElementType::s4));
      std::vector<std::int32_t> bias(n), mult(n), shift(n);
      for (std::size_t j = 0; j < n; ++j) {
        bias[j] = static_cast<std::int32_t>(rng() % 20001) - 10000;
        REQUIRE(qk::quantize_multiplier(0.001 + 0.01 * static_cast<double>(j % 7), &mult[j], reinterpret_cast<int*>(&shift[j])).ok());
      }
      const auto a_type = i % 2 == 0 ? qk::ElementType::s8 : qk::ElementType::u8;
      qk::GemmS8WeightsDesc d4 = qk::GemmS8WeightsDesc::n_by_k_s4(n, k, b4.data(), bias.data());
      qk::GemmS8WeightsDesc d8 = qk::GemmS8WeightsDesc::n_by_k(n, k, b8.data(), bias.data());
      d4.a_type = d8.a_type = a_type;
      d4.a_zero_point = d8.a_zero_point = a_type == qk::ElementType::s8 ? -5 : 131;
      qk::GemmS8Weights w4, w8;
      REQUIRE(w4.pack(d4).ok());
      REQUIRE(w8.pack(d8).ok());
      std::size_t bytes4 = 0, bytes8 = 0;
      REQUIRE(qk::GemmS8Weights::packed_size(d4, isa, &bytes4).ok());
      REQUIRE(qk::GemmS8Weights::packed_size(d8, isa, &bytes8).ok());
      CHECK(bytes4 == w4.packed_bytes());
      CHECK(bytes4 <= bytes8);
      const auto out = qk::OutputStage::fixed_point_requant(qk::OutputType::s8, mult.data(), shift.data(), true, 3, -128, 127);
      std::vector<std::int8_t> c4(m * n), c8(m * n, 1);
      REQUIRE(qk::gemm_s8(w4, m, a.data(), k, out, c4.data(), n).ok());
      REQUIRE(qk::gemm_s8(w8, m, a.data(), k, out, c8.data(), n).ok());
      REQUIRE(c4 == c8);
      // Dynamic quantization: re-folding the activation zero point works as for int8.
      REQUIRE(w4.set_activation_zero_point(a_type == qk::ElementType::s8 ? 100 : 7).ok());
      REQUIRE(w8.set_activation_zero_point(a_type == qk::ElementType::s8 ? 100 : 7).ok());
      REQUIRE(qk::gemm_s8(w4, m, a.data(), k, out, c4.data(), n).ok());
      REQUIRE(qk::gemm_s8(w8, m, a.data(), k, out, c8.data(), n).ok());
      REQUIRE(c4 == c8);
    }
    // A large layer: the panels are half an int8 family's (a quarter of a widening one's).
    std::vector<std::uint8_t> big(4096 * 4096 / 2);
    std::vector<std::int8_t> big8(4096 * 4096);
    std::size_t bytes4 = 0, bytes8 = 0;
    REQUIRE(qk::GemmS8Weights::packed_size(qk::GemmS8WeightsDesc::n_by_k_s4(4096, 4096, big.data()), isa, &bytes4).ok());
    REQUIRE(qk::GemmS8Weights::packed_size(qk::GemmS8WeightsDesc::n_by_k(4096, 4096, big8.data()), isa, &bytes8).ok());
    CHECK(bytes4 < bytes8 / 2 + 4096 * 16 + 64);
    CHECK(bytes4 > 4096 * 4096 / 2);
  }
}

TEST_CASE("gemm_s4: pack_into caller memory") {
  QK_FOR_EACH_ISA(isa) {
    const std::size_t m = 5, n = 19, k = 37;
    std::vector<std::uint8_t> a(m * k, 3), b((n * k + 1) / 2, 0x9E);
    qk::GemmS8WeightsDesc d = qk::GemmS8WeightsDesc::n_by_k_s4(n, k, b.data());
    std::size_t bytes = 0;
    REQUIRE(qk::GemmS8Weights::packed_size(d, isa, &bytes).ok());
    std::vector<std::uint8_t> buffer(bytes + 64);
    auto* aligned = reinterpret_cast<std::uint8_t*>((reinterpret_cast<std::uintptr_t>(buffer.data()) + 63) / 64 * 64);
    qk::GemmS8Weights w;
    REQUIRE(w.pack_into(d, isa, aligned, bytes - 1).code() == qk::StatusCode::buffer_too_small);
    REQUIRE(!w.packed());
    REQUIRE(w.pack_into(d, isa, aligned, bytes).ok());
    std::vector<std::int32_t> got(m * n), want(m * n);
    REQUIRE(qk::gemm_s8(w, m, a.data(), k, qk::OutputStage::int32(), got.data(), n).ok());
    qk::reference::gemm_int(m, n, k, a.data(), k, true, 0, b.data(), 1, k, qk::ElementType::s4, nullptr, false, nullptr,
                            qk::OutputStage::int32(), want.data(), n);
    REQUIRE(got == want);
    // A buffer off a 64-byte boundary works (64 is only recommended): the nibble loads are unaligned.
    std::vector<std::uint8_t> big(bytes + 128);
    for (std::size_t offset : {std::size_t{16}, std::size_t{32}, std::size_t{48}}) {
      qk::GemmS8Weights u;
      REQUIRE(u.pack_into(d, isa, big.data() + offset, bytes).ok());
      std::fill(got.begin(), got.end(), 0);
      REQUIRE(qk::gemm_s8(u, m, a.data(), k, qk::OutputStage::int32(), got.data(), n).ok());
      CHECK(got == want);
    }
  }
}

TEST_CASE("gemm_s4: argument errors write nothing") {
  std::vector<std::uint8_t> b(64, 0x11);
  qk::GemmS8WeightsDesc d = qk::GemmS8WeightsDesc::n_by_k_s4(8, 16, b.data());
  qk::GemmS8Weights w;
  // s4 is a weight type only.
  qk::GemmS8WeightsDesc bad = d;
  bad.a_type = qk::ElementType::s4;
  CHECK(w.pack(bad).code() == qk::StatusCode::invalid_argument);
  CHECK(!w.packed());
  // Zero points in [-8, 7].
  for (std::int32_t z : {-9, 8, 127, -128}) {
    bad = d;
    bad.zero_point = &z;
    CHECK(w.pack(bad).code() == qk::StatusCode::invalid_argument);
  }
  for (std::int32_t z : {-8, 7}) {
    bad = d;
    bad.zero_point = &z;
    CHECK(w.pack(bad).ok());
  }
  bad = d;
  bad.b_type = static_cast<qk::ElementType>(3);
  CHECK(w.pack(bad).code() == qk::StatusCode::invalid_argument);
  CHECK(!qk::detail::valid_element_type(qk::ElementType::s4));
  CHECK(qk::detail::valid_weight_type(qk::ElementType::s4));
  CHECK(qk::detail::element_type_min(qk::ElementType::s4) == -8);
  CHECK(qk::detail::element_type_max(qk::ElementType::s4) == 7);
  // Running: the checks are the int8 ones.
  REQUIRE(w.pack(d).ok());
  std::vector<std::uint8_t> a(4 * 16, 1), c(4 * 8 * 4, 0xAB);
  CHECK(qk::gemm_s8(w, 4, a.data(), 15, qk::OutputStage::int32(), c.data(), 8).code() == qk::StatusCode::bad_shape);
  CHECK(std::all_of(c.begin(), c.end(), [](std::uint8_t v) { return v == 0xAB; }));
}
