// The element-wise kernel families (kernels/elementwise_registry.hpp) against the scalar family,
// bit for bit, for every ISA this machine runs (QK_FOR_EACH_ISA; the AVX-512 families twice:
// with the VBMI table lookup where the CPU has it and with the vpshufb tree), and the scalar
// family against plain TFLite arithmetic (qk::multiply_by_quantized_multiplier_double_rounding).
// Random n (0..300 and a few large ones, every tail), misaligned pointers, s8 and u8, runs and a
// broadcast second operand, in place, operands at -128/127/0/255, and every parameter extreme:
// multipliers 0, 1, 2^30, 2^31 - 1, shifts -31..0 (Add) and -31..30 (Mul), left shifts 0..20.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "common/isa_sweep.hpp"
#include "qk/fixed_point.hpp"
#include "qk/kernels/elementwise_registry.hpp"

namespace {

using qk::kernels::ElementwiseKernels;
using qk::kernels::EwAddParams;
using qk::kernels::EwClampParams;
using qk::kernels::EwMulParams;

std::int32_t value(std::uint8_t byte, bool is_signed) {
  return is_signed ? static_cast<std::int32_t>(static_cast<std::int8_t>(byte)) : byte;
}
std::int32_t clamp(std::int32_t v, std::int32_t lo, std::int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }
std::int32_t mbqm(std::int32_t x, std::int32_t m, std::int32_t s) {
  return qk::multiply_by_quantized_multiplier_double_rounding(x, m, s);
}

// Plain TFLite definitions of one output.
std::int32_t plain_add(const EwAddParams& p, std::int32_t x1, std::int32_t x2) {
  const std::int32_t a = mbqm((x1 + p.offset1) * (1 << p.left_shift), p.multiplier1, p.shift1);
  const std::int32_t b = mbqm((x2 + p.offset2) * (1 << p.left_shift), p.multiplier2, p.shift2);
  return clamp(mbqm(a + b, p.output_multiplier, p.output_shift) + p.output_offset, p.act_min, p.act_max);
}
std::int32_t plain_mul(const EwMulParams& p, std::int32_t x1, std::int32_t x2) {
  // The zero point's int32 addition wraps (TFLite's on every machine; reachable only when the
  // left shift wraps the product).
  const std::uint32_t raw = static_cast<std::uint32_t>(mbqm((x1 + p.offset1) * (x2 + p.offset2), p.output_multiplier, p.output_shift)) +
                            static_cast<std::uint32_t>(p.output_offset);
  return clamp(static_cast<std::int32_t>(raw), p.act_min, p.act_max);
}

std::int32_t pick_multiplier(std::mt19937& rng) {
  const std::int32_t extremes[] = {0, 1, 1 << 30, 2147483647, (1 << 30) + 1, 1518500250};
  if (rng() % 2) return extremes[rng() % 6];
  return static_cast<std::int32_t>(rng() % 2147483648u);
}
std::int32_t range(std::mt19937& rng, std::int32_t lo, std::int32_t hi) {
  return lo + static_cast<std::int32_t>(rng() % static_cast<std::uint32_t>(hi - lo + 1));
}
// Clamp range inside the type, usually the full type.
void pick_clamp(std::mt19937& rng, bool is_signed, std::int32_t* lo, std::int32_t* hi) {
  const std::int32_t tmin = is_signed ? -128 : 0, tmax = is_signed ? 127 : 255;
  *lo = tmin, *hi = tmax;
  if (rng() % 3 == 0) {
    std::int32_t a = range(rng, tmin, tmax), b = range(rng, tmin, tmax);
    *lo = a < b ? a : b, *hi = a < b ? b : a;
  }
}
std::int32_t pick_offset(std::mt19937& rng, bool is_signed) {
  const std::int32_t zp_extremes_s[] = {-128, 127, 0}, zp_extremes_u[] = {0, 255, 128};
  const std::int32_t zp = rng() % 3 == 0 ? (is_signed ? zp_extremes_s : zp_extremes_u)[rng() % 3]
                                         : (is_signed ? range(rng, -128, 127) : range(rng, 0, 255));
  return -zp;
}

std::size_t pick_n(std::mt19937& rng) {
  const std::size_t big[] = {1000, 4099, 65536 + 77};
  return rng() % 20 == 0 ? big[rng() % 3] : rng() % 301;
}

std::vector<std::uint8_t> random_bytes(std::mt19937& rng, std::size_t n) {
  std::vector<std::uint8_t> v(n + 64);
  for (auto& b : v) {
    const std::uint32_t r = rng() % 8;
    b = r == 0 ? 0x80 : r == 1 ? 0x7F : r == 2 ? 0xFF : r == 3 ? 0x00 : static_cast<std::uint8_t>(rng());
  }
  return v;
}

// Runs `call(kernels, a, b, out)` for the kernels under test and for the scalar family on the
// same (misaligned) data, and compares the outputs; also checks in place (out == a).
struct Buffers {
  std::vector<std::uint8_t> a, b, out_ref, out_test;
  std::size_t shift_a, shift_b, shift_o;
};

std::vector<const ElementwiseKernels*> families_under_test(qk::Isa isa) {
  std::vector<const ElementwiseKernels*> out{qk::kernels::elementwise_kernels_for(isa, true)};
  const ElementwiseKernels* no_vbmi = qk::kernels::elementwise_kernels_for(isa, false);
  if (no_vbmi != out[0]) out.push_back(no_vbmi);
  return out;
}

}  // namespace

TEST_CASE("elementwise kernels: scalar family equals the plain TFLite arithmetic", "[layers][kernels]") {
  const ElementwiseKernels* s = qk::kernels::elementwise_kernels_for(qk::Isa::scalar, false);
  std::mt19937 rng(11);
  for (int it = 0; it < 3000; ++it) {
    const bool is_signed = rng() % 2;
    const std::size_t n = rng() % 300;
    const auto a = random_bytes(rng, n), b = random_bytes(rng, n);
    std::vector<std::uint8_t> out(n + 1);
    const bool bc = rng() % 4 == 0;
    if (it % 2 == 0) {
      EwAddParams p;
      p.offset1 = pick_offset(rng, is_signed), p.offset2 = pick_offset(rng, is_signed);
      p.left_shift = rng() % 2 ? 20 : range(rng, 0, 20);
      p.multiplier1 = pick_multiplier(rng), p.shift1 = range(rng, -31, 0);
      p.multiplier2 = pick_multiplier(rng), p.shift2 = range(rng, -31, 0);
      p.output_multiplier = pick_multiplier(rng), p.output_shift = range(rng, -31, 0);
      p.output_offset = is_signed ? range(rng, -128, 127) : range(rng, 0, 255);
      pick_clamp(rng, is_signed, &p.act_min, &p.act_max);
      s->add(p, is_signed, a.data(), b.data(), bc, out.data(), n);
      for (std::size_t i = 0; i < n; ++i) {
        const std::int32_t want = plain_add(p, value(a[i], is_signed), value(b[bc ? 0 : i], is_signed));
        if (value(out[i], is_signed) != want) FAIL("add i=" << i << " want " << want << " got " << value(out[i], is_signed));
      }
    } else {
      EwMulParams p;
      p.offset1 = pick_offset(rng, is_signed), p.offset2 = pick_offset(rng, is_signed);
      p.output_multiplier = pick_multiplier(rng), p.output_shift = range(rng, -31, 30);
      p.output_offset = is_signed ? range(rng, -128, 127) : range(rng, 0, 255);
      pick_clamp(rng, is_signed, &p.act_min, &p.act_max);
      s->mul(p, is_signed, a.data(), b.data(), bc, out.data(), n);
      for (std::size_t i = 0; i < n; ++i) {
        const std::int32_t want = plain_mul(p, value(a[i], is_signed), value(b[bc ? 0 : i], is_signed));
        if (value(out[i], is_signed) != want) FAIL("mul i=" << i << " want " << want << " got " << value(out[i], is_signed));
      }
    }
  }
}

TEST_CASE("elementwise kernels: every ISA's family equals the scalar one bit for bit", "[layers][kernels]") {
  const ElementwiseKernels* ref = qk::kernels::elementwise_kernels_for(qk::Isa::scalar, false);
  QK_FOR_EACH_ISA(isa) {
    for (const ElementwiseKernels* k : families_under_test(isa)) {
      INFO("family " << k->name);
      std::mt19937 rng(1234 + static_cast<unsigned>(isa));
      for (int it = 0; it < 2500; ++it) {
        const bool is_signed = rng() % 2;
        const std::size_t n = pick_n(rng);
        const int op = it % 5;  // add, mul, maximum, minimum, lut
        const bool bc = op < 4 && rng() % 4 == 0;
        const bool in_place = rng() % 5 == 0;
        const std::size_t sa = rng() % 64, sb = rng() % 64, so = rng() % 64;
        auto a = random_bytes(rng, n), b = random_bytes(rng, n);
        std::vector<std::uint8_t> out_ref(n + 64, 0xA5), out_test(n + 64, 0xA5);
        auto a_test = a;
        const std::uint8_t* pa = a.data() + sa;
        const std::uint8_t* pb = b.data() + sb;
        std::uint8_t* po_ref = out_ref.data() + so;
        std::uint8_t* po_test = in_place ? a_test.data() + sa : out_test.data() + so;
        const std::uint8_t* pa_test = a_test.data() + sa;
        INFO("op " << op << " n " << n << " signed " << is_signed << " broadcast " << bc << " in place " << in_place);
        if (op == 0) {
          EwAddParams p;
          p.offset1 = pick_offset(rng, is_signed), p.offset2 = pick_offset(rng, is_signed);
          p.left_shift = rng() % 2 ? 20 : range(rng, 0, 20);
          p.multiplier1 = pick_multiplier(rng), p.shift1 = range(rng, -31, 0);
          p.multiplier2 = pick_multiplier(rng), p.shift2 = range(rng, -31, 0);
          p.output_multiplier = pick_multiplier(rng), p.output_shift = range(rng, -31, 0);
          p.output_offset = is_signed ? range(rng, -128, 127) : range(rng, 0, 255);
          pick_clamp(rng, is_signed, &p.act_min, &p.act_max);
          INFO("add m " << p.multiplier1 << "/" << p.shift1 << " " << p.multiplier2 << "/" << p.shift2 << " out "
                        << p.output_multiplier << "/" << p.output_shift << " L " << p.left_shift);
          ref->add(p, is_signed, pa, pb, bc, po_ref, n);
          k->add(p, is_signed, pa_test, pb, bc, po_test, n);
        } else if (op == 1) {
          EwMulParams p;
          p.offset1 = pick_offset(rng, is_signed), p.offset2 = pick_offset(rng, is_signed);
          p.output_multiplier = pick_multiplier(rng), p.output_shift = range(rng, -31, 30);
          p.output_offset = is_signed ? range(rng, -128, 127) : range(rng, 0, 255);
          pick_clamp(rng, is_signed, &p.act_min, &p.act_max);
          INFO("mul m " << p.output_multiplier << "/" << p.output_shift);
          ref->mul(p, is_signed, pa, pb, bc, po_ref, n);
          k->mul(p, is_signed, pa_test, pb, bc, po_test, n);
        } else if (op < 4) {
          EwClampParams p;
          pick_clamp(rng, is_signed, &p.act_min, &p.act_max);
          (op == 2 ? ref->maximum : ref->minimum)(p, is_signed, pa, pb, bc, po_ref, n);
          (op == 2 ? k->maximum : k->minimum)(p, is_signed, pa_test, pb, bc, po_test, n);
        } else {
          std::uint8_t table[256];
          for (auto& t : table) t = static_cast<std::uint8_t>(rng());
          ref->lut(table, pa, po_ref, n);
          k->lut(table, pa_test, po_test, n);
        }
        REQUIRE(std::memcmp(po_ref, po_test, n) == 0);
        if (!in_place) {
          // Nothing written outside [0, n).
          for (std::size_t i = 0; i < so; ++i) REQUIRE(out_test[i] == 0xA5);
          for (std::size_t i = so + n; i < out_test.size(); ++i) REQUIRE(out_test[i] == 0xA5);
        }
      }
    }
  }
}

TEST_CASE("elementwise kernels: exhaustive operand pairs at parameter extremes", "[layers][kernels]") {
  // All 65536 (x1, x2) pairs in one run, for the extreme multipliers and shifts.
  const ElementwiseKernels* ref = qk::kernels::elementwise_kernels_for(qk::Isa::scalar, false);
  std::vector<std::uint8_t> a(65536), b(65536), o_ref(65536), o_test(65536);
  for (std::size_t i = 0; i < 65536; ++i) a[i] = static_cast<std::uint8_t>(i), b[i] = static_cast<std::uint8_t>(i >> 8);
  const std::int32_t mults[] = {0, 1, 1 << 30, 2147483647};
  QK_FOR_EACH_ISA(isa) {
    for (const ElementwiseKernels* k : families_under_test(isa)) {
      INFO("family " << k->name);
      for (const bool is_signed : {true, false}) {
        for (const std::int32_t m : mults) {
          for (const std::int32_t shift : {-31, -20, -1, 0}) {
            EwAddParams p;
            p.offset1 = is_signed ? 128 : -255, p.offset2 = is_signed ? -127 : 0;
            p.multiplier1 = m, p.multiplier2 = 2147483647 - m / 2, p.shift1 = shift, p.shift2 = 0;
            p.output_multiplier = 2147483647 - m, p.output_shift = shift == 0 ? -1 : 0;
            p.act_min = is_signed ? -128 : 0, p.act_max = is_signed ? 127 : 255;
            for (const std::int32_t left : {0, 1, 11, 19, 20}) {
              p.left_shift = left;
              ref->add(p, is_signed, a.data(), b.data(), false, o_ref.data(), 65536);
              k->add(p, is_signed, a.data(), b.data(), false, o_test.data(), 65536);
              REQUIRE(o_ref == o_test);
            }
          }
          for (const std::int32_t shift : {-31, -15, -1, 0, 1, 15, 30}) {
            EwMulParams p;
            p.offset1 = is_signed ? 128 : -255, p.offset2 = is_signed ? -127 : 0;
            p.output_multiplier = m, p.output_shift = shift;
            p.act_min = is_signed ? -128 : 0, p.act_max = is_signed ? 127 : 255;
            ref->mul(p, is_signed, a.data(), b.data(), false, o_ref.data(), 65536);
            k->mul(p, is_signed, a.data(), b.data(), false, o_test.data(), 65536);
            REQUIRE(o_ref == o_test);
          }
        }
      }
    }
  }
}
