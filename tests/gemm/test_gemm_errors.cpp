// Bad input to the int8 GEMM returns a clear status and writes nothing.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "common/isa_sweep.hpp"
#include "common/sanitizers.hpp"
#include "qk/gemm.hpp"

TEST_CASE("gemm_s8: invalid weights are refused") {
  std::vector<std::int8_t> b(12, 1);
  qk::GemmS8Weights w;
  auto d = qk::GemmS8WeightsDesc::k_by_n(3, 4, b.data());
  d.data = nullptr;
  CHECK(w.pack(d).code() == qk::StatusCode::null_pointer);
  d = qk::GemmS8WeightsDesc::k_by_n(0, 4, b.data());
  CHECK(w.pack(d).code() == qk::StatusCode::bad_shape);
  d = qk::GemmS8WeightsDesc::k_by_n(3, 4, b.data());
  d.a_zero_point = 200;  // s8 activations
  CHECK(w.pack(d).code() == qk::StatusCode::invalid_argument);
  d.a_zero_point = 0;
  std::int32_t zb = 300;
  d.zero_point = &zb;
  CHECK(w.pack(d).code() == qk::StatusCode::invalid_argument);
  d.zero_point = nullptr;
  d.k = SIZE_MAX / 2;
  CHECK(w.pack(d).code() == qk::StatusCode::size_overflow);
  CHECK_FALSE(w.packed());
  std::size_t bytes = 0;
  d = qk::GemmS8WeightsDesc::k_by_n(3, 4, b.data());
  REQUIRE(qk::GemmS8Weights::packed_size(d, qk::Isa::scalar, &bytes).ok());
  std::vector<std::uint8_t> small(bytes - 1);
  CHECK(w.pack_into(d, qk::Isa::scalar, small.data(), small.size()).code() == qk::StatusCode::buffer_too_small);
}

TEST_CASE("gemm_s8: invalid run arguments write nothing") {
  std::vector<std::int8_t> b(12, 1), a(6, 2);
  std::int32_t zb = 3;
  auto d = qk::GemmS8WeightsDesc::k_by_n(3, 4, b.data());
  d.zero_point = &zb;
  qk::GemmS8Weights w;
  REQUIRE(w.pack(d).ok());
  std::vector<std::int8_t> c(8, 42);
  const std::vector<std::int8_t> untouched = c;
  std::int32_t mult = 1 << 30, shift = 0, bad_shift = 31;
  float nan_scale = std::numeric_limits<float>::quiet_NaN(), zero_scale = 0.0f;
  const auto good = qk::OutputStage::fixed_point_requant(qk::OutputType::s8, &mult, &shift, false, 0, -128, 127);
  CHECK(qk::gemm_s8(w, 2, nullptr, 3, good, c.data(), 4).code() == qk::StatusCode::null_pointer);
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, good, nullptr, 4).code() == qk::StatusCode::null_pointer);
  CHECK(qk::gemm_s8(w, 2, a.data(), 2, good, c.data(), 4).code() == qk::StatusCode::bad_shape);
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, good, c.data(), 3).code() == qk::StatusCode::bad_shape);
  CHECK(qk::gemm_s8(w, SIZE_MAX / 2, a.data(), 3, good, c.data(), 4).code() == qk::StatusCode::size_overflow);
  auto bad = qk::OutputStage::fixed_point_requant(qk::OutputType::s8, &mult, &bad_shift, false, 0, -128, 127);
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, bad, c.data(), 4).code() == qk::StatusCode::invalid_argument);
  bad = qk::OutputStage::fixed_point_requant(qk::OutputType::s8, &mult, &shift, false, 200, -128, 127);
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, bad, c.data(), 4).code() == qk::StatusCode::invalid_argument);
  bad = qk::OutputStage::fixed_point_requant(qk::OutputType::s8, &mult, &shift, false, 0, 10, 5);
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, bad, c.data(), 4).code() == qk::StatusCode::invalid_argument);
  bad = qk::OutputStage::float_requant(qk::OutputType::s8, &nan_scale, false, 0, -128, 127);
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, bad, c.data(), 4).code() == qk::StatusCode::invalid_argument);
  bad = qk::OutputStage::float_requant(qk::OutputType::s8, &zero_scale, false, 0, -128, 127);
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, bad, c.data(), 4).code() == qk::StatusCode::invalid_argument);
  bad = qk::OutputStage::fixed_point_requant(qk::OutputType::s8, nullptr, &shift, true, 0, -128, 127);
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, bad, c.data(), 4).code() == qk::StatusCode::null_pointer);
  qk::GemmS8Weights empty;
  CHECK(qk::gemm_s8(empty, 2, a.data(), 3, good, c.data(), 4).code() == qk::StatusCode::invalid_argument);
  CHECK(c == untouched);
  REQUIRE(qk::gemm_s8(w, 2, a.data(), 3, good, c.data(), 4).ok());
  CHECK(c != untouched);
}

// ---- Issue 18: validation gaps (each of these failed before its fix) ----------------------------

TEST_CASE("gemm_s8: a packed size that wraps around SIZE_MAX is size_overflow (issue 18)") {
  // N = SIZE_MAX / 16 columns, K = 1: the four int32 column blocks after the panels are
  // 4 * round_up(4 * padded N, 64) = 2^64 bytes, which used to wrap to 0 and give a packed size
  // of 2^63 (a buffer that size was then "large enough" for pack_into).
  std::int8_t b[1] = {1};
  auto d = qk::GemmS8WeightsDesc::k_by_n(1, std::numeric_limits<std::size_t>::max() >> 4, b);
  std::size_t bytes = 12345;
  const qk::Status st = qk::GemmS8Weights::packed_size(d, qk::Isa::scalar, &bytes);
  CHECK(st.code() == qk::StatusCode::size_overflow);
  CHECK(bytes == 12345);
  // The largest N just below the wrap still has an exact (huge) size.
  d.n = (std::numeric_limits<std::size_t>::max() >> 4) / 64;
  REQUIRE(qk::GemmS8Weights::packed_size(d, qk::Isa::scalar, &bytes).ok());
  CHECK(bytes >= d.n * 4 * 4);
}

TEST_CASE("gemm_s8: K whose int32 row and column sums could overflow is refused (issue 18)") {
  // Row sums of u8 activations reach 255 * K: K = INT32_MAX / 255 = 8421504 is the largest K
  // whose sums fit in int32.
  const std::size_t k_max = static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max() / 255);
  std::int8_t b[1] = {1};
  std::size_t bytes = 0;
  auto d = qk::GemmS8WeightsDesc::n_by_k(1, k_max + 1, b);
  CHECK(qk::GemmS8Weights::packed_size(d, qk::Isa::scalar, &bytes).code() == qk::StatusCode::size_overflow);
  d.k = k_max;
  CHECK(qk::GemmS8Weights::packed_size(d, qk::Isa::scalar, &bytes).ok());
  // pack() refuses it before reading B or allocating.
  std::vector<std::int8_t> big(k_max + 1, -128);
  d = qk::GemmS8WeightsDesc::n_by_k(1, k_max + 1, big.data());
  qk::GemmS8Weights w;
  CHECK(w.pack(d, qk::Isa::scalar).code() == qk::StatusCode::size_overflow);
  CHECK_FALSE(w.packed());
}

TEST_CASE("gemm_s8: element types outside the enum are refused (issue 18)") {
  std::vector<std::int8_t> b(12, 1);
  qk::GemmS8Weights w;
  auto d = qk::GemmS8WeightsDesc::k_by_n(3, 4, b.data());
  d.b_type = static_cast<qk::ElementType>(7);
  CHECK(w.pack(d).code() == qk::StatusCode::invalid_argument);
  d.b_type = qk::ElementType::s8;
  d.a_type = static_cast<qk::ElementType>(-1);
  CHECK(w.pack(d).code() == qk::StatusCode::invalid_argument);
  CHECK_FALSE(w.packed());
}

TEST_CASE("gemm_s8: output stages with a negative multiplier, an unknown rounding or kind, or a subnormal scale are refused (issue 18)") {
  std::vector<std::int8_t> b(12, 1), a(6, 2);
  qk::GemmS8Weights w;
  REQUIRE(w.pack(qk::GemmS8WeightsDesc::k_by_n(3, 4, b.data())).ok());
  std::vector<std::int8_t> c(8, 42);
  const std::vector<std::int8_t> untouched = c;
  std::int32_t shift = 0, neg = -(1 << 30), int_min = std::numeric_limits<std::int32_t>::min(), mult = 1 << 30;
  for (const auto rounding : {qk::RequantRounding::double_rounding, qk::RequantRounding::single_rounding}) {
    CHECK(qk::gemm_s8(w, 2, a.data(), 3,
                      qk::OutputStage::fixed_point_requant(qk::OutputType::s8, &neg, &shift, false, 0, -128, 127, rounding),
                      c.data(), 4)
              .code() == qk::StatusCode::invalid_argument);
    CHECK(qk::gemm_s8(w, 2, a.data(), 3,
                      qk::OutputStage::fixed_point_requant(qk::OutputType::s8, &int_min, &shift, false, 0, -128, 127, rounding),
                      c.data(), 4)
              .code() == qk::StatusCode::invalid_argument);
  }
  const auto bad_rounding = qk::OutputStage::fixed_point_requant(qk::OutputType::s8, &mult, &shift, false, 0, -128, 127,
                                                                 static_cast<qk::RequantRounding>(2));
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, bad_rounding, c.data(), 4).code() == qk::StatusCode::invalid_argument);
  auto bad_kind = qk::OutputStage::fixed_point_requant(qk::OutputType::s8, &mult, &shift, false, 0, -128, 127);
  bad_kind.kind = static_cast<qk::OutputStage::Kind>(9);
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, bad_kind, c.data(), 4).code() == qk::StatusCode::invalid_argument);
  auto bad_type = bad_kind;
  bad_type.kind = qk::OutputStage::Kind::fixed_point;
  bad_type.type = static_cast<qk::OutputType>(11);
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, bad_type, c.data(), 4).code() == qk::StatusCode::invalid_argument);
  for (float scale : {std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min() / 2,
                      std::numeric_limits<float>::infinity(), -1.0f, -0.0f}) {
    INFO("scale " << scale);
    const auto bad = qk::OutputStage::float_requant(qk::OutputType::s8, &scale, false, 0, -128, 127);
    CHECK(qk::gemm_s8(w, 2, a.data(), 3, bad, c.data(), 4).code() == qk::StatusCode::invalid_argument);
  }
  CHECK(c == untouched);
  float smallest_normal = std::numeric_limits<float>::min();
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, qk::OutputStage::float_requant(qk::OutputType::s8, &smallest_normal, false, 0, -128, 127),
                    c.data(), 4)
            .ok());
}

TEST_CASE("isa: every supported ISA has its kernel tables, Isa values outside the enum are refused (issue 18)") {
  // A big-endian AArch64 build used to report NEON as supported (and best) while its GEMM table
  // had no NEON entry, so packing with the default ISA failed.
  for (int i = 0; i < qk::kIsaCount; ++i) {
    const auto isa = static_cast<qk::Isa>(i);
    INFO(qk::isa_name(isa));
    if (!qk::isa_supported(isa)) continue;
    CHECK(qk::kernels::gemm_s8_kernel_for(isa) != nullptr);
    CHECK(qk::kernels::gemm_f32_kernel_for(isa) != nullptr);
  }
  CHECK(qk::kernels::gemm_s8_kernel_for(qk::best_isa()) != nullptr);
  for (int bad : {-1, qk::kIsaCount, 99}) {
    const auto isa = static_cast<qk::Isa>(bad);
    CHECK_FALSE(qk::isa_supported(isa));
    CHECK(qk::force_isa(isa).code() == qk::StatusCode::invalid_argument);
    CHECK(qk::active_isa() != isa);
    std::size_t bytes = 0;
    std::int8_t b[1] = {1};
    CHECK(qk::GemmS8Weights::packed_size(qk::GemmS8WeightsDesc::k_by_n(1, 1, b), isa, &bytes).code() ==
          qk::StatusCode::unsupported);
  }
}


TEST_CASE("gemm: an allocation that cannot succeed returns a status instead of terminating (issue 18)") {
#if defined(QK_TEST_ASAN)
  // ASan's allocator aborts on a request above its maximum even for new (std::nothrow), unless
  // ASAN_OPTIONS=allocator_may_return_null=1.
  WARN("skipped under AddressSanitizer");
#else
  // Sizes that pass every overflow check but exceed any address space (2^57 bytes and more).
  // Before the fix, `new` threw std::bad_alloc inside a noexcept function: std::terminate.
  std::int8_t b[1] = {1};
  qk::GemmS8Weights w;
  const qk::Status st = w.pack(qk::GemmS8WeightsDesc::k_by_n(1, std::size_t{1} << 55, b), qk::Isa::scalar);
  CHECK(st.code() == qk::StatusCode::out_of_memory);
  CHECK_FALSE(w.packed());
  float f[1] = {1.0f};
  qk::GemmF32Weights wf;
  const qk::Status stf = wf.pack(qk::GemmF32WeightsDesc::n_by_k(1, std::size_t{1} << 55, f), qk::Isa::scalar);
  CHECK(stf.code() == qk::StatusCode::out_of_memory);
  CHECK_FALSE(wf.packed());
#endif
}

// ---- Uses API added with the issue 18 fixes (Status values, out_of_memory, kMaxGemmK) ------------

TEST_CASE("gemm: error statuses name the argument and its value (issue 18)") {
  std::vector<std::int8_t> b(12, 1);
  std::size_t bytes = 0;
  qk::Status st = qk::GemmS8Weights::packed_size(qk::GemmS8WeightsDesc::n_by_k(1, qk::kMaxGemmK + 1, b.data()),
                                                 qk::Isa::scalar, &bytes);
  CHECK(st.code() == qk::StatusCode::size_overflow);
  CHECK(std::string(st.value_name()) == "k");
  CHECK(st.uint_value() == qk::kMaxGemmK + 1);
  CHECK(std::string(qk::StatusText(st).c_str()).find("k = 8421505") != std::string::npos);
  CHECK(qk::kMaxGemmK == 8421504);

  qk::GemmS8Weights w;
  REQUIRE(w.pack(qk::GemmS8WeightsDesc::k_by_n(3, 4, b.data())).ok());
  std::vector<std::int8_t> a(6, 2), c(8, 0);
  std::int32_t mult = -7, shift = 0;
  st = qk::gemm_s8(w, 2, a.data(), 3, qk::OutputStage::fixed_point_requant(qk::OutputType::s8, &mult, &shift, false, 0, -128, 127),
                   c.data(), 4);
  CHECK(std::string(qk::StatusText(st).c_str()).find("multiplier = -7") != std::string::npos);
  shift = 40;
  mult = 1 << 30;
  st = qk::gemm_s8(w, 2, a.data(), 3, qk::OutputStage::fixed_point_requant(qk::OutputType::s8, &mult, &shift, false, 0, -128, 127),
                   c.data(), 4);
  CHECK(std::string(qk::StatusText(st).c_str()).find("shift = 40") != std::string::npos);
  st = qk::gemm_s8(w, 2, a.data(), 1, qk::OutputStage::int32(), c.data(), 4);
  CHECK(std::string(qk::StatusText(st).c_str()).find("lda = 1") != std::string::npos);
  auto d = qk::GemmS8WeightsDesc::k_by_n(3, 4, b.data());
  d.b_type = static_cast<qk::ElementType>(7);
  st = w.pack(d);
  CHECK(std::string(qk::StatusText(st).c_str()).find("b_type = 7") != std::string::npos);
  st = qk::force_isa(static_cast<qk::Isa>(42));
  CHECK(std::string(qk::StatusText(st).c_str()).find("isa = 42") != std::string::npos);
  CHECK(std::string(qk::status_code_name(qk::StatusCode::out_of_memory)) == "out_of_memory");
}

TEST_CASE("gemm_s8: the unused zero point and clamp of raw_int32 / dequantize stages may hold any value") {
  // Found by tests/fuzz/fuzz_gemm: the AVX2 and NEON epilogues computed qmin - zero_point for
  // every stage kind, a signed overflow (undefined behaviour, fatal under UBSan) when a raw_int32
  // or dequantize stage, whose zero point and clamp are not validated, held extreme values there.
  std::vector<std::int8_t> b(3 * 4, 2), a(2 * 3, 3);
  const float scale = 0.5f;
  for (int i = 0; i < qk::kIsaCount; ++i) {
    const auto isa = static_cast<qk::Isa>(i);
    if (!qk::isa_supported(isa)) continue;
    qk::GemmS8Weights w;
    REQUIRE(w.pack(qk::GemmS8WeightsDesc::k_by_n(3, 4, b.data()), isa).ok());
    qk::OutputStage raw = qk::OutputStage::int32();
    raw.zero_point = std::numeric_limits<std::int32_t>::min() + 1;
    raw.qmin = 92;
    raw.qmax = std::numeric_limits<std::int32_t>::min();
    std::vector<std::int32_t> c(8, 0);
    REQUIRE(qk::gemm_s8(w, 2, a.data(), 3, raw, c.data(), 4).ok());
    for (std::int32_t v : c) CHECK(v == 18);
    qk::OutputStage deq = qk::OutputStage::dequantize(&scale, false);
    deq.zero_point = std::numeric_limits<std::int32_t>::max();
    deq.qmin = std::numeric_limits<std::int32_t>::min();
    deq.qmax = -5;
    std::vector<float> f(8, 0.0f);
    REQUIRE(qk::gemm_s8(w, 2, a.data(), 3, deq, f.data(), 4).ok());
    for (float v : f) CHECK(v == 9.0f);
  }
}

// pack_into() takes caller memory that is not 64-byte aligned (64 is only recommended; the packed
// int32 column constants need their natural alignment): packed 16 or 32 bytes off a 64-byte
// boundary, every ISA's kernels give the result of pack()'s aligned copy.
// (The AVX2 families once loaded B with aligned loads and faulted here.)
TEST_CASE("gemm_s8: pack_into a misaligned buffer, every ISA") {
  const std::size_t m = 7, k = 37, n = 29;
  std::vector<std::int8_t> a(m * k), b(k * n);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<std::int8_t>((i * 37 + 11) % 251 - 125);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::int8_t>((i * 53 + 7) % 255 - 127);
  const qk::GemmS8WeightsDesc d = qk::GemmS8WeightsDesc::k_by_n(k, n, b.data());
  QK_FOR_EACH_ISA(isa) {
    qk::GemmS8Weights aligned;
    REQUIRE(aligned.pack(d).ok());
    std::vector<std::int32_t> want(m * n), got(m * n);
    REQUIRE(qk::gemm_s8(aligned, m, a.data(), k, qk::OutputStage::int32(), want.data(), n).ok());
    std::size_t bytes = 0;
    REQUIRE(qk::GemmS8Weights::packed_size(d, isa, &bytes).ok());
    std::vector<std::uint8_t> storage(bytes + 128);
    for (std::size_t offset : {std::size_t{16}, std::size_t{32}, std::size_t{48}}) {
      // Start from a 64-byte boundary, then misalign on purpose.
      const std::size_t base = (64 - reinterpret_cast<std::uintptr_t>(storage.data()) % 64) % 64;
      qk::GemmS8Weights w;
      REQUIRE(w.pack_into(d, isa, storage.data() + base + offset, bytes).ok());
      std::fill(got.begin(), got.end(), 0);
      REQUIRE(qk::gemm_s8(w, m, a.data(), k, qk::OutputStage::int32(), got.data(), n).ok());
      CHECK(got == want);
    }
  }
}
